/// What one c-ares channel is for: a channel has one server set and one transport, so checks
/// share a channel exactly when they share these.
struct ResolverKey: Hashable, Sendable, CustomStringConvertible {
    /// A normalized IP address, or nil for the system's resolvers (/etc/resolv.conf).
    var server: String?
    var port: UInt16
    var transport: DNSCheckConfig.Transport

    /// `127.0.0.1:5353`, `[::1]:53` or `system`, as c-ares' server list and messages write it.
    var address: String {
        guard let server else { return "system" }
        return server.contains(":") ? "[\(server)]:\(port)" : "\(server):\(port)"
    }

    var description: String { "\(address) (\(transport.rawValue))" }
}
