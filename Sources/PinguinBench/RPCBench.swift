import ArgumentParser
import Foundation
import Logging
import PinguinControlPlane
import PinguinPostgres
import PinguinStore
import PinguinWire

/// Requests over the control plane's Unix socket: a server in this process, clients on threads of
/// their own with plain blocking sockets, one request in flight per connection.
struct RPCBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc", abstract: "Requests/s and latency of control-plane methods over the Unix socket.")

    @OptionGroup var common: Common

    @Option(help: "Monitors in the database.")
    var monitors = 10_000

    @Option(help: "Seconds per measurement.")
    var seconds = 5.0

    @Option(help: "Client connections.")
    var connections = 4

    func run() async throws {
        let logger = common.logger
        try await withBenchDatabase(try common.postgres(), logger: logger) { postgres in
            _ = try await createMonitors(postgres, count: monitors)
            var router = JSONRPCRouter()
            router.register("system.health") { _ in .success(.object(JSONObject(["healthy": .bool(true)]))) }
            MonitorMethods.register(into: &router, store: MonitorStore(client: postgres), actor: { "bench" })
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-bench-\(ProcessInfo.processInfo.processIdentifier)").path
            var configuration = ControlPlaneServer.Configuration()
            configuration.unixSocketPath = folder + "/bench.sock"
            configuration.tcpHost = nil
            let server = try ControlPlaneServer(configuration: configuration, router: router, logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.run() }
                await server.waitUntilListening()
                let path = configuration.unixSocketPath!
                for (name, request) in [
                    ("rpc.system_health", #"{"jsonrpc":"2.0","method":"system.health","id":1}"#),
                    ("rpc.monitor_list_1000", #"{"jsonrpc":"2.0","method":"monitor.list","params":{"limit":1000},"id":1}"#),
                ] {
                    let latencies = try await Self.hammer(path: path, request: request, connections: connections, seconds: seconds)
                    let sorted = latencies.sorted()
                    func percentile(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] * 1000 }
                    report(name, Double(sorted.count) / seconds, "req/s",
                           "\(connections) connections, \(monitors) monitors; latency ms p50 \(String(format: "%.2f", percentile(0.5))) p95 \(String(format: "%.2f", percentile(0.95))) p99 \(String(format: "%.2f", percentile(0.99)))")
                }
                // Paging through every monitor, as `pinguinctl monitor ls` would.
                let start = ContinuousClock.now
                var after: Int64 = 0
                var total = 0
                while true {
                    let line = #"{"jsonrpc":"2.0","method":"monitor.list","params":{"limit":1000,"after":\#(after)},"id":1}"#
                    let reply = try Self.call(path: path, line: line)
                    let page = try JSONParser.parse(reply).objectValue?["result"]?.objectValue
                    let count = page?["monitors"]?.arrayValue?.count ?? 0
                    total += count
                    guard let next = page?["next"]?.int64Value else { break }
                    after = next
                }
                report("rpc.monitor_list_all", (ContinuousClock.now - start).seconds * 1000, "ms", "\(total) monitors in pages of 1000")
                group.cancelAll()
            }
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    /// One request on a new connection; returns the answer line.
    static func call(path: String, line: String) throws -> [UInt8] {
        let fd = try connect(path)
        defer { close(fd) }
        try send(fd, Array((line + "\n").utf8))
        return try readLine(fd)
    }

    /// Sends `request` over and over on each connection for `seconds`; returns every latency in seconds.
    static func hammer(path: String, request: String, connections: Int, seconds: Double, once: Bool = false) async throws -> [Double] {
        try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<connections {
                group.addTask {
                    try await withCheckedThrowingContinuation { continuation in
                        Thread {
                            do {
                                let fd = try connect(path)
                                defer { close(fd) }
                                let bytes = Array((request + "\n").utf8)
                                var latencies: [Double] = []
                                let deadline = Date().addingTimeInterval(seconds)
                                repeat {
                                    let start = DispatchTime.now().uptimeNanoseconds
                                    try send(fd, bytes)
                                    _ = try readLine(fd)
                                    latencies.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                                } while !once && Date() < deadline
                                continuation.resume(returning: latencies)
                            } catch {
                                continuation.resume(throwing: error)
                            }
                        }.start()
                    }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
    }

    struct SocketError: Error { var what: String }

    static func connect(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() where index < raw.count - 1 { raw[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { close(fd); throw SocketError(what: "connect \(path)") }
        return fd
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw SocketError(what: "send") }
            offset += written
        }
    }

    static func readLine(_ fd: Int32) throws -> [UInt8] {
        var line: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { throw SocketError(what: "recv") }
            line.append(contentsOf: buffer[0..<count])
            if buffer[count - 1] == 0x0A { return line }
        }
    }
}
