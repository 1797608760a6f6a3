import Foundation
import PinguinTestSupport

/// A network namespace made for one test: a veth pair to this host (host side .1 and fd00:…::1,
/// namespace side .2 and ::2, plus .4/::4), and .3/::3 that nothing answers (a static neighbour
/// entry sends its packets to a MAC address nobody has). `remove()` deletes it all; names, and the
/// subnet 10.213.x.0/24, are unique on the machine while it exists.
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


    static func make() async throws -> TestNamespace {
        // Tests run in parallel, and other processes run these tests too: two namespaces with one
        // subnet would route each other's pings. The host link's name holds the subnet, so
        // `ip link add` claims it atomically, machine-wide; a subnet on the host already is skipped.
        for _ in 0..<40 {
            let tag = UUID().uuidString.prefix(6).lowercased()
            let subnet = Int.random(in: 1...254)
            let namespace = TestNamespace(name: "pinguin-ping-\(tag)", hostLink: "pgping\(subnet)", subnet: subnet)
            let peer = "pgn\(tag)"
            guard (try? await ChildProcess.ip(["link", "add", namespace.hostLink, "type", "veth", "peer", "name", peer])) != nil else { continue }
            let used = try await ChildProcess.run("/usr/sbin/ip", arguments: ["-4", "route", "show", "10.213.\(subnet).0/24"])
            guard used.status == 0, used.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                await namespace.remove()
                continue
            }
            do {
                try await namespace.setUp(peer: peer)
            } catch {
                await namespace.remove()
                throw error
            }
            return namespace
        }
        throw Failure(description: "no free 10.213.x.0/24 subnet for a test namespace")
    }

    private func setUp(peer: String) async throws {
        try await ChildProcess.ip(["netns", "add", name])
        try await ChildProcess.ip(["link", "set", peer, "netns", name])
        try await ChildProcess.ip(["addr", "add", "\(hostAddress)/24", "dev", hostLink])
        try await ChildProcess.ip(["-6", "addr", "add", "fd00:213:\(subnet)::1/64", "dev", hostLink, "nodad"])
        try await ChildProcess.ip(["link", "set", hostLink, "up"])
        try await ChildProcess.ip(["neigh", "add", silentAddress, "lladdr", "02:00:00:00:00:33", "dev", hostLink, "nud", "permanent"])
        try await ChildProcess.ip(["-6", "neigh", "add", silentAddress6, "lladdr", "02:00:00:00:00:33", "dev", hostLink, "nud", "permanent"])
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

    /// An nftables chain that drops the kernel's own echo replies (TTL 64), so that only
    /// icmp_responder.py's (TTL 99) leave the namespace.
    static let dropKernelEchoReplies = "chain output { type filter hook output priority 0; icmp type echo-reply ip ttl != 99 drop; }"

    /// Runs Tests/Fixtures/ping/icmp_responder.py in the namespace, answering `delayMilliseconds`
    /// late in `mode` (echo, wrong_sequence, wrong_identifier, wrong_cookie, duplicate_first),
    /// for the time of `body`.
    func withICMPResponder(delayMilliseconds: Int, mode: String = "echo", _ body: () async throws -> Void) async throws {
        let ready = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-responder-\(UUID().uuidString)").path
        let responder = try ChildProcess.start("/usr/sbin/ip", arguments: ["netns", "exec", name, "/usr/bin/env", "python3",
                                               TestServices.repositoryRoot.path + "/Tests/Fixtures/ping/icmp_responder.py",
                                               String(delayMilliseconds), ready, mode])
        defer { unlink(ready) }
        do {
            var started = false
            for _ in 0..<100 where !started {
                started = FileManager.default.fileExists(atPath: ready)
                if !started { try await Task.sleep(for: .milliseconds(50)) }
            }
            guard started else { throw Failure(description: "icmp_responder.py \(mode) did not start") }
            try await body()
        } catch {
            await stopFixture(responder)
            throw error
        }
        await stopFixture(responder)
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
