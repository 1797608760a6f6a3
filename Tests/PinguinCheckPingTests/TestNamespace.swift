import Foundation
import PinguinTestSupport

/// A network namespace made for one test: a veth pair to this host (host side .1 and fd00:…::1,
/// namespace side .2 and ::2, plus .4/::4), and .3/::3 that nothing answers (a static neighbour
/// entry sends its packets to a MAC address nobody has). `remove()` deletes it all; names are unique.
struct TestNamespace: Sendable {
    struct Failure: Error, CustomStringConvertible { var description: String }

    let name: String
    let hostLink: String
    let subnet: Int

    var hostAddress: String { "10.213.\(subnet).1" }
    var address: String { "10.213.\(subnet).2" }
    var silentAddress: String { "10.213.\(subnet).3" }
    var secondAddress: String { "10.213.\(subnet).4" }
    var address6: String { "fd00:213:\(subnet)::2" }
    var silentAddress6: String { "fd00:213:\(subnet)::3" }

    static func ip(_ arguments: [String]) async throws {
        let run = try await ChildProcess.run("/usr/sbin/ip", arguments: arguments)
        guard run.status == 0 else { throw Failure(description: "ip \(arguments.joined(separator: " ")) failed (\(run.status)): \(run.output)") }
    }

    static func make() async throws -> TestNamespace {
        let tag = UUID().uuidString.prefix(6).lowercased()
        let namespace = TestNamespace(name: "pinguin-ping-\(tag)", hostLink: "pgh\(tag)", subnet: Int.random(in: 1...254))
        do {
            try await namespace.setUp(tag: String(tag))
        } catch {
            await namespace.remove()
            throw error
        }
        return namespace
    }

    private func setUp(tag: String) async throws {
        let peer = "pgn\(tag)"
        try await Self.ip(["netns", "add", name])
        try await Self.ip(["link", "add", hostLink, "type", "veth", "peer", "name", peer])
        try await Self.ip(["link", "set", peer, "netns", name])
        try await Self.ip(["addr", "add", "\(hostAddress)/24", "dev", hostLink])
        try await Self.ip(["-6", "addr", "add", "fd00:213:\(subnet)::1/64", "dev", hostLink, "nodad"])
        try await Self.ip(["link", "set", hostLink, "up"])
        try await Self.ip(["neigh", "add", silentAddress, "lladdr", "02:00:00:00:00:33", "dev", hostLink, "nud", "permanent"])
        try await Self.ip(["-6", "neigh", "add", silentAddress6, "lladdr", "02:00:00:00:00:33", "dev", hostLink, "nud", "permanent"])
        try await exec(["/usr/sbin/ip", "link", "set", "lo", "up"])
        try await exec(["/usr/sbin/ip", "addr", "add", "\(address)/24", "dev", peer])
        try await exec(["/usr/sbin/ip", "addr", "add", "\(secondAddress)/24", "dev", peer])
        try await exec(["/usr/sbin/ip", "-6", "addr", "add", "\(address6)/64", "dev", peer, "nodad"])
        try await exec(["/usr/sbin/ip", "link", "set", peer, "up"])
    }

    /// Runs a command inside the namespace.
    @discardableResult
    func exec(_ command: [String]) async throws -> String {
        let run = try await ChildProcess.run("/usr/sbin/ip", arguments: ["netns", "exec", name] + command)
        guard run.status == 0 else { throw Failure(description: "in \(name): \(command.joined(separator: " ")) failed (\(run.status)): \(run.output)") }
        return run.output
    }

    /// Loads nftables rules (one `table inet pinguin { … }`, statements one per line) inside the namespace.
    func nft(_ chains: String) async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(name).nft").path
        try "table inet pinguin {\n\(chains.replacingOccurrences(of: "; ", with: "\n"))\n}\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        try await exec(["/usr/sbin/nft", "-f", file])
    }

    func remove() async {
        _ = try? await ChildProcess.run("/usr/sbin/ip", arguments: ["netns", "del", name])
        _ = try? await ChildProcess.run("/usr/sbin/ip", arguments: ["link", "del", hostLink])
    }
}

/// Runs `body` with a fresh namespace, removed afterwards even when `body` fails.
func withNamespace(_ body: (TestNamespace) async throws -> Void) async throws {
    let namespace = try await TestNamespace.make()
    do {
        try await body(namespace)
    } catch {
        await namespace.remove()
        throw error
    }
    await namespace.remove()
}

/// Ends a fixture process: SIGKILL (a SIGTERM could be blocked by the mask it inherited), then
/// the wait for it on a thread of its own, never on the cooperative pool.
func stopFixture(_ running: ChildProcess.Running) async {
    kill(running.pid, SIGKILL)
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        Thread { running.terminate(); continuation.resume() }.start()
    }
}
