import Foundation
import PinguinTestSupport
import PinguinWire
import Testing

/// Chaos: a TCP target that is really up, behind random packet loss (nftables in a network
/// namespace of its own), watched by one real pinguind with every role and the real tcp plugin,
/// alerting through a webhook channel to a local receiver.
@Suite("Chaos: packet loss and a real outage", .enabled(if: TestServices.postgresEnabled && TestServices.redisEnabled, Comment(rawValue: TestServices.skipReason)),
       .timeLimit(.minutes(3)))
struct ChaosTests {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static let port = 7777
    static let interval = 4.0
    /// What a down alert may take beyond two intervals: the ingester's batch (every 200 ms), the
    /// outbox sender's poll (every 1 s), the webhook itself, and scheduling on a loaded 2-core machine.
    static let alertAllowance = 3.0

    @Test("20 % random loss on a target that is up raises no down alert with default thresholds; a real outage is alerted within two intervals")
    func packetLossThenOutage() async throws {
        let namespace = try await ChaosNamespace.make()
        var server: ChildProcess.Running?
        var receiver: NotifyReceiver?
        func cleanUp() async {
            if let server { await server.kill() }
            await receiver?.stop()
            await namespace.remove()
        }
        do {
            server = try await namespace.startServer(port: Self.port)
            // Every packet to the port is counted; a random fifth of them is counted again and dropped.
            try await namespace.nft("""
                add table inet chaos
                add chain inet chaos input { type filter hook input priority 0; policy accept; }
                add rule inet chaos input tcp dport \(Self.port) counter
                add rule inet chaos input tcp dport \(Self.port) numgen random mod 100 < 20 counter drop
                """)
            let started = try await NotifyReceiver.http()
            receiver = started
            try await PinguindProcess.with(builtPlugins: ["pinguin-check-tcp"]) { pinguind in
                do {
                    try await scenario(pinguind, namespace: namespace, receiver: started)
                } catch {
                    Issue.record("pinguind's log:\n\(pinguind.log())")
                    throw error
                }
            }
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }

    /// Seconds since 1970 of an RFC 3339 time in UTC as the API writes it (`2026-12-02T13:24:14.465000Z`).
    static func seconds(_ text: String) -> Double? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        guard text.count >= 20, let whole = formatter.date(from: String(text.prefix(19))) else { return nil }
        let fraction = text.dropFirst(19).dropLast().isEmpty ? 0 : Double("0" + text.dropFirst(19).dropLast()) ?? 0
        return whole.timeIntervalSince1970 + fraction
    }

    private func scenario(_ pinguind: PinguindProcess, namespace: ChaosNamespace, receiver: NotifyReceiver) async throws {
        let kinds = try await pinguind.waitForKinds(["tcp"])
        try #require(kinds.contains("tcp"), "plugin.list: \(kinds)")
        // Default thresholds (3 failures to go down, 1 success to come back). The timeout is a
        // third of the interval, so that three checks that time out fit in it: the tcp plugin's
        // connect timeout is then 1.17 s (the check's 1.3 s less a tenth), room for the
        // retransmission of a lost SYN 1 s later. A check fails only when both are lost (4 % of
        // checks), and a false down needs three such checks in a row (6e-5 a check).
        let monitor = try await pinguind.createMonitor("""
            {"name":"chaos","kind":"tcp","target":"\(namespace.address):\(Self.port)","interval_ms":4000,"retry_interval_ms":1000,"timeout_ms":1300}
            """)
        let created = try await pinguind.call("channel.create", """
            {"name":"chaos","kind":"webhook","config":{"url":"\(receiver.url("/hook"))"},"monitor_ids":[\(monitor)]}
            """)
        try #require(created.status == 0, "channel.create: \(created.output)")
        func events(_ event: String) -> [(body: JSONObject, receivedAt: Double)] {
            receiver.received().filter { $0["path"]?.stringValue == "/hook" }.compactMap { request in
                guard let body = request["body"]?.stringValue.flatMap({ (try? JSONParser.parse($0))?.objectValue }),
                      body["event"]?.stringValue == event, let at = request["received_at"]?.doubleValue else { return nil }
                return (body, at)
            }
        }

        // 1. About 60 s of loss: no down alert, the checks were stored, and the loss was real.
        try await Task.sleep(for: .seconds(60))
        let results = try await pinguind.results(monitor)
        let statuses = Dictionary(grouping: results.compactMap { $0["status"]?.stringValue }, by: { $0 }).mapValues(\.count)
        let (packets, dropped) = try await namespace.counters()
        let slowest = results.compactMap { $0["latency_ms"]?.doubleValue }.max() ?? 0
        print("chaos: \(results.count) results in 60 s \(statuses), slowest connect \(Int(slowest)) ms; \(packets) packets to port \(Self.port), \(dropped) dropped")
        #expect(events("down").isEmpty, "down alerts during packet loss: \(events("down").map(\.body))")
        let queued = try await pinguind.call("notification.list", #"{"monitor_id":\#(monitor),"event":"down"}"#)
        #expect(queued.value?.objectValue?["notifications"]?.arrayValue?.isEmpty == true, "notification.list: \(queued.output)")
        let state = try await pinguind.call("monitor.get", #"{"id":\#(monitor)}"#).value?.objectValue?["status"]?.objectValue?["state"]?.stringValue
        #expect(state != "down", "the monitor is \(state ?? "?") after the packet loss")
        #expect(results.count >= 12, "\(statuses)")
        // Most checks got through (half is far below what 4 % per check allows): the target was
        // checked for real, not, say, refused or unknown throughout.
        #expect((statuses["up"] ?? 0) >= results.count / 2, "\(statuses)")
        #expect(dropped > 0 && dropped < packets, "\(dropped) of \(packets) packets dropped")

        // 2. A real outage: every packet to the port is dropped. The requirement is for an outage
        // starting at any moment; this one starts at a bad one, 1.6 s after a regular slot (its
        // check is done by then unless its first two SYNs were lost), so the next check is 2.4 s away.
        // Slots are a fixed grid (an offset plus multiples of the interval), read off a result.
        let regular = try #require(results.first { $0["slot_ms"]?.int64Value == 4000 }?["scheduled_at"]?.stringValue.flatMap(Self.seconds),
                                   "no result on the regular grid: \(statuses)")
        let slot = regular + (((Date().timeIntervalSince1970 - regular) / Self.interval).rounded(.up)) * Self.interval
        try await Task.sleep(for: .milliseconds(Int64((slot + 1.6 - Date().timeIntervalSince1970) * 1000)))
        try await namespace.nft("""
            flush chain inet chaos input
            add rule inet chaos input tcp dport \(Self.port) counter drop
            """)
        let outage = Date().timeIntervalSince1970
        var down = events("down").first
        while down == nil, Date().timeIntervalSince1970 - outage < 30 {
            try await Task.sleep(for: .milliseconds(100))
            down = events("down").first
        }
        let alert = try #require(down, "no down alert within 30 s of the outage")
        let delay = alert.receivedAt - outage
        let incident = alert.body["incident"]?.objectValue
        let checks = try await pinguind.results(monitor, limit: 12).reversed().compactMap { result -> String? in
            guard let at = (result["scheduled_at"]?.stringValue).flatMap(Self.seconds), at > slot - 0.5 else { return nil }
            return String(format: "%+.2f s ", at - outage) + "\(result["status"]?.stringValue ?? "?") (slot \(result["slot_ms"]?.int64Value ?? 0) ms)"
        }
        print("chaos: down alert \(String(format: "%.2f", delay)) s after the outage; checks (scheduled, from the outage): \(checks.joined(separator: ", ")); "
              + "incident from \(incident?["started_at"]?.stringValue ?? "?"), \(incident?["failed_checks"]?.int64Value ?? 0) failed checks")
        #expect(alert.body["monitor"]?.objectValue?["id"]?.int64Value == monitor)
        #expect(alert.body["status"]?.stringValue == "down")
        #expect(incident?["failed_checks"]?.int64Value == 3, "\(alert.body)")
        // At worst: the first failing check an interval after the outage begins; the re-checks
        // come at the retry interval from the failed slot, or as soon as the previous one ended
        // (three checks that time out take 3 × 1.17 s); then the ingester's flush and the
        // sender's poll (the allowance). Two intervals and the allowance hold that.
        #expect(delay <= 2 * Self.interval + Self.alertAllowance, "down alert after \(delay) s, not within two intervals (8 s) + \(Self.alertAllowance) s")

        // 3. Restored: up again, announced once, and no second down.
        try await namespace.nft("flush chain inet chaos input")
        let restored = Date().timeIntervalSince1970
        while events("up").isEmpty, Date().timeIntervalSince1970 - restored < 30 {
            try await Task.sleep(for: .milliseconds(100))
        }
        let up = try #require(events("up").first, "no up alert within 30 s of the restore")
        print("chaos: up alert \(String(format: "%.2f", up.receivedAt - restored)) s after the restore")
        // A down monitor is checked at its interval: the next check, its ingestion and the send.
        #expect(up.receivedAt - restored <= Self.interval + Self.alertAllowance, "up alert after \(up.receivedAt - restored) s")
        #expect(up.body["monitor"]?.objectValue?["id"]?.int64Value == monitor)
        #expect(up.body["previous_status"]?.stringValue == "down")
        #expect(events("down").count == 1)
    }
}

/// A network namespace of its own with a veth pair to this host: 10.231.N.1/30 on the host side,
/// 10.231.N.2/30 inside (no other test uses 10.231.0.0/16; the ping tests use 10.213.x.0/24).
/// The host link is named after N, so `ip link add` claims the subnet atomically, machine-wide.
struct ChaosNamespace: Sendable {
    let name: String
    let hostLink: String
    let subnet: Int

    var address: String { "10.231.\(subnet).2" }

    static func make() async throws -> ChaosNamespace {
        for _ in 0..<40 {
            let tag = UUID().uuidString.prefix(6).lowercased()
            let subnet = Int.random(in: 0...255)
            let namespace = ChaosNamespace(name: "pinguin-chaos-\(tag)", hostLink: "pgchaos\(subnet)", subnet: subnet)
            let peer = "pgc\(tag)"
            guard (try? await ChildProcess.ip(["link", "add", namespace.hostLink, "type", "veth", "peer", "name", peer])) != nil else { continue }
            let used = try await ChildProcess.run("/usr/sbin/ip", arguments: ["-4", "route", "show", "root", "10.231.\(subnet).0/30"])
            guard used.status == 0, used.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                await namespace.remove()
                continue
            }
            do {
                try await ChildProcess.ip(["netns", "add", namespace.name])
                try await ChildProcess.ip(["link", "set", peer, "netns", namespace.name])
                try await ChildProcess.ip(["addr", "add", "10.231.\(subnet).1/30", "dev", namespace.hostLink])
                try await ChildProcess.ip(["link", "set", namespace.hostLink, "up"])
                try await namespace.exec(["/usr/sbin/ip", "link", "set", "lo", "up"])
                try await namespace.exec(["/usr/sbin/ip", "addr", "add", "\(namespace.address)/30", "dev", peer])
                try await namespace.exec(["/usr/sbin/ip", "link", "set", peer, "up"])
            } catch {
                await namespace.remove()
                throw error
            }
            return namespace
        }
        throw ChaosTests.Failure(description: "no free 10.231.x.0/30 subnet for the chaos namespace")
    }

    @discardableResult
    func exec(_ command: [String]) async throws -> String {
        let run = try await ChildProcess.run("/usr/sbin/ip", arguments: ["netns", "exec", name] + command)
        guard run.status == 0 else { throw ChaosTests.Failure(description: "in \(name): \(command.joined(separator: " ")) failed (\(run.status)): \(run.output)") }
        return run.output
    }

    /// Runs an nftables script (one command a line, applied as one transaction) in the namespace.
    func nft(_ script: String) async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(6)).nft").path
        try (script + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        try await exec(["/usr/sbin/nft", "-f", file])
    }

    /// The two counters of the chaos chain: packets to the port, and packets dropped.
    func counters() async throws -> (packets: Int, dropped: Int) {
        let listing = try await exec(["/usr/sbin/nft", "list", "chain", "inet", "chaos", "input"])
        let counts = listing.split(separator: "\n").compactMap { line -> Int? in
            guard let match = line.firstMatch(of: /counter packets (\d+) bytes/) else { return nil }
            return Int(match.1)
        }
        guard counts.count == 2 else { throw ChaosTests.Failure(description: "nft list chain: \(listing)") }
        return (counts[0], counts[1])
    }

    /// A TCP server on the namespace's address that accepts every connection and closes it. It
    /// exits when the test process does (its parent: `ip netns exec` execs). Not through
    /// PR_SET_PDEATHSIG, which fires when the *thread* that started it ends, and the Dispatch
    /// worker threads that tests run on come and go.
    func startServer(port: Int) async throws -> ChildProcess.Running {
        let ready = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-server").path
        defer { unlink(ready) }
        let script = """
            import os, socket, sys, threading, time
            parent = os.getppid()
            def orphaned():
                while os.getppid() == parent:
                    time.sleep(1)
                os._exit(0)
            threading.Thread(target=orphaned, daemon=True).start()
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((sys.argv[1], int(sys.argv[2])))
            s.listen(128)
            open(sys.argv[3], "w").close()
            while True:
                s.accept()[0].close()
            """
        let server = try ChildProcess.start("/usr/sbin/ip", arguments: ["netns", "exec", name, "/usr/bin/python3", "-c", script, address, String(port), ready])
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: ready) { try await Task.sleep(for: .milliseconds(50)) }
        guard FileManager.default.fileExists(atPath: ready) else {
            await server.kill()
            throw ChaosTests.Failure(description: "the TCP server did not start in \(name)")
        }
        return server
    }

    /// Deletes the namespace (and with it the veth pair), and the host link should it be left.
    func remove() async {
        _ = try? await ChildProcess.run("/usr/sbin/ip", arguments: ["netns", "del", name])
        _ = try? await ChildProcess.run("/usr/sbin/ip", arguments: ["link", "del", hostLink])
    }
}

extension ChildProcess.Running {
    /// SIGKILL (a SIGTERM may be blocked by an inherited mask), then the wait on a thread of its own.
    func kill() async {
        Foundation.kill(pid, SIGKILL)
        await stop()
    }
}
