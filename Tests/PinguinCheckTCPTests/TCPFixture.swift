import Foundation
import PinguinTestSupport
import PinguinWire

/// Tests/Fixtures/tcp/tcp_fixture.py, started once for the test process with certificates made
/// by make-certs.sh (a test CA; valid, expired, wrong-name and soon-expiring leaves). It exits
/// with the test process. A fixture that cannot start fails the tests that need it.
struct TCPFixture: Sendable {
    struct Failure: Error, CustomStringConvertible { var description: String }

    let ports: [String: Int]
    /// The test CA's certificate (PEM), kept for the process's life.
    let caFile: String

    func port(_ behaviour: String) -> Int { ports[behaviour] ?? 1 }
    func target(_ behaviour: String) -> String { "127.0.0.1:\(port(behaviour))" }

    static let shared = Task { try await start() }

    static func start() async throws -> TCPFixture {
        let root = TestServices.repositoryRoot.path + "/Tests/Fixtures/tcp"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-tcp-fixture-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let made = try await ChildProcess.run("/bin/sh", arguments: [root + "/make-certs.sh", directory])
        guard made.status == 0 else { throw Failure(description: "make-certs.sh failed (\(made.status)): \(made.output)") }
        let ready = directory + "/ready.json"
        _ = try ChildProcess.start("/usr/bin/env", arguments: ["python3", root + "/tcp_fixture.py", ready, directory])
        for _ in 0..<200 {
            if let data = FileManager.default.contents(atPath: ready) {
                guard let object = try JSONParser.parse(Array(data)).objectValue else { break }
                var ports: [String: Int] = [:]
                for (key, value) in zip(object.keys, object.values) { ports[key] = value.int64Value.map { Int($0) } }
                return TCPFixture(ports: ports, caFile: directory + "/ca.pem")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failure(description: "tcp_fixture.py did not start within 10 s")
    }

    /// A port nothing listens on (bound and closed at once, so the kernel refuses connections).
    static func closedPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard bound else { throw Failure(description: "cannot bind a port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A port whose SYNs an nftables rule drops (so connecting times out), or answers with `verdict`
/// (`reject with icmpx type host-unreachable`); the rule's table is deleted by `remove()`, and
/// the listener that reserves the port is closed.
final class BlackholePort: Sendable {
    let port: Int
    let table: String
    private let descriptor: Int32

    private init(port: Int, table: String, descriptor: Int32) {
        self.port = port
        self.table = table
        self.descriptor = descriptor
    }

    static func make(verdict: String = "drop") async throws -> BlackholePort {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard bound, listen(descriptor, 16) == 0 else { close(descriptor); throw TCPFixture.Failure(description: "cannot reserve a port") }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let table = "pinguin_tcp_test_\(UUID().uuidString.prefix(8).lowercased())"
        let rules = "table inet \(table) {\n chain input {\n  type filter hook input priority -10;\n  ip daddr 127.0.0.1 tcp dport \(port) \(verdict)\n }\n}\n"
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(table).nft").path
        try rules.write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        let added = try await ChildProcess.run("/usr/sbin/nft", arguments: ["-f", file])
        guard added.status == 0 else { close(descriptor); throw TCPFixture.Failure(description: "nft failed (\(added.status)): \(added.output)") }
        return BlackholePort(port: port, table: table, descriptor: descriptor)
    }

    func remove() async {
        _ = try? await ChildProcess.run("/usr/sbin/nft", arguments: ["delete", "table", "inet", table])
        close(descriptor)
    }
}

/// Ends a fixture process: SIGKILL (a SIGTERM could be blocked by the mask it inherited), then
/// the wait for it on a thread of its own, never on the cooperative pool.
func stopFixture(_ running: ChildProcess.Running) async {
    kill(running.pid, SIGKILL)
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        Thread { running.terminate(); continuation.resume() }.start()
    }
}
