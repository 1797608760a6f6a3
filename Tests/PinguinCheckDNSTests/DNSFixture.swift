import Foundation
import Synchronization
import PinguinPluginHost
import PinguinTestSupport

struct FixtureFailure: Error, CustomStringConvertible {
    var description: String
}

/// Runs `body` on a thread of its own, so blocking calls (reads, fork) stay off the 2-thread
/// cooperative pool.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// Reads `descriptor` to its end on a thread and keeps what it read (a child's log, for failures).
final class PipeDrain: Sendable {
    private let text = Mutex("")
    private let ended = Mutex(false)

    init(_ descriptor: Int32, onLine: (@Sendable (String) -> Void)? = nil) {
        Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            var pending = ""
            while true {
                let count = read(descriptor, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                let chunk = String(decoding: buffer[0..<count], as: UTF8.self)
                text.withLock { $0 += chunk }
                pending += chunk
                while let newline = pending.firstIndex(of: "\n") {
                    onLine?(String(pending[..<newline]))
                    pending.removeSubrange(...newline)
                }
            }
            close(descriptor)
            ended.withLock { $0 = true }
            onLine?("")
        }.start()
    }

    var output: String { text.withLock { $0 } }
}

/// A free port on 127.0.0.1 for both UDP and TCP (taken from the kernel, then released).
func freePort() throws -> UInt16 {
    for _ in 0..<50 {
        let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(udp); close(tcp) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw -> Bool in
                guard bind(udp, raw, length) == 0, getsockname(udp, raw, &length) == 0 else { return false }
                return bind(tcp, raw, length) == 0
            }
        }
        if bound { return UInt16(bigEndian: address.sin_port) }
    }
    throw FixtureFailure(description: "no free port for UDP and TCP on 127.0.0.1")
}

/// Test zones served by dnsmasq (Debian's dnsmasq-base), authoritative for `pinguin.test` and
/// `2.0.192.in-addr.arpa` (PTR records for the --host-record addresses): NXDOMAIN with the
/// zone's SOA for unknown names in them.
final class DNSMasq: Sendable {
    static let serial: UInt32 = 2024052001
    static let ttl: UInt32 = 1234

    let port: UInt16
    private let process: SpawnedProcess
    private let log: PipeDrain
    private let hostsFile: String

    static var executable: String? {
        ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    private init(port: UInt16, process: SpawnedProcess, log: PipeDrain, hostsFile: String) {
        self.port = port
        self.process = process
        self.log = log
        self.hostsFile = hostsFile
    }

    /// Starts dnsmasq on a free port (or `fixedPort`) of `addresses` and waits until it answers;
    /// with `namespace`, inside that network namespace (`ip netns exec`).
    static func start(addresses: [String] = ["127.0.0.1", "::1"], fixedPort: UInt16? = nil, namespace: String? = nil) async throws -> DNSMasq {
        guard let executable else {
            throw FixtureFailure(description: "dnsmasq is not installed (Debian package dnsmasq-base; scripts/test installs it)")
        }
        let hostsFile = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-dns-hosts-\(UUID().uuidString.prefix(8))").path
        // Several A records for one name come from a hosts file.
        try "192.0.2.10 multi.pinguin.test\n192.0.2.11 multi.pinguin.test\n192.0.2.12 multi.pinguin.test\n"
            .write(toFile: hostsFile, atomically: true, encoding: .utf8)
        let user = String(cString: getpwuid(getuid()).pointee.pw_name)
        let listen = addresses.joined(separator: ",")
        for _ in 0..<(fixedPort == nil ? 5 : 1) {
            let port = try fixedPort ?? freePort()
            let arguments = [
                "--conf-file=/dev/null", "--no-daemon", "--port=\(port)", "--listen-address=\(listen)", "--bind-interfaces",
                "--no-resolv", "--no-hosts", "--pid-file=", "--user=\(user)", "--log-facility=-",
                "--addn-hosts=\(hostsFile)",
                "--auth-server=ns.pinguin.test,\(listen)", "--auth-zone=pinguin.test,192.0.2.0/24,2001:db8::/32",
                "--auth-soa=\(serial),hostmaster.pinguin.test,1200,180,1209600", "--auth-ttl=\(ttl)",
                "--host-record=www.pinguin.test,192.0.2.1,2001:db8::1",
                "--cname=alias.pinguin.test,www.pinguin.test",
                "--mx-host=pinguin.test,mail.pinguin.test,10", "--mx-host=pinguin.test,mail2.pinguin.test,20",
                "--txt-record=pinguin.test,v=spf1 -all", "--txt-record=split.pinguin.test,part one,part two",
                "--srv-host=_sip._udp.pinguin.test,sip.pinguin.test,5060,10,5",
                "--caa-record=pinguin.test,0,issue,letsencrypt.org",
            ]
            let started = LineWaiter()
            let options: SpawnedProcess.Options = if let namespace {
                .init(path: "/usr/sbin/ip", arguments: ["netns", "exec", namespace, executable] + arguments)
            } else {
                .init(path: executable, arguments: arguments)
            }
            let (process, pipes) = try await onThread { try SpawnedProcess.spawn(options) }
            close(pipes.input)
            let output = PipeDrain(pipes.output)
            _ = output
            let log = PipeDrain(pipes.errors) { line in
                if line.contains("started, version") || line.isEmpty { started.signal() }
            }
            await started.wait(timeout: .seconds(10))
            // dnsmasq has bound its sockets when it logs "started"; give a lost port race a retry.
            if let exit = await process.waitForExit(timeout: .milliseconds(100)) {
                if log.output.contains("Address already in use") { continue }
                throw FixtureFailure(description: "dnsmasq \(exit): \(log.output)")
            }
            return DNSMasq(port: port, process: process, log: log, hostsFile: hostsFile)
        }
        throw FixtureFailure(description: "dnsmasq found no free port in 5 tries")
    }

    func stop() async {
        process.kill(SIGTERM)
        if await process.waitForExit(timeout: .seconds(5)) == nil { process.killGroup() }
        unlink(hostsFile)
    }

    var output: String { log.output }
}

/// `Tests/Fixtures/dns/responder.py`: SERVFAIL, REFUSED, NOTIMP, slow, silent and malformed
/// answers by name. It exits when its stdin closes.
final class DNSResponder: Sendable {
    let port: UInt16
    private let process: SpawnedProcess
    private let input: Int32
    private let log: PipeDrain

    private init(port: UInt16, process: SpawnedProcess, input: Int32, log: PipeDrain) {
        self.port = port
        self.process = process
        self.input = input
        self.log = log
    }

    static func start() async throws -> DNSResponder {
        let script = TestServices.repositoryRoot.appendingPathComponent("Tests/Fixtures/dns/responder.py").path
        let (process, pipes) = try await onThread { try SpawnedProcess.spawn(.init(path: "/usr/bin/python3", arguments: [script])) }
        let log = PipeDrain(pipes.errors)
        let firstLine = LineWaiter()
        let output = PipeDrain(pipes.output) { line in firstLine.signal(line) }
        _ = output
        let line = await firstLine.wait(timeout: .seconds(10))
        guard let line, let port = UInt16(line.trimmingCharacters(in: .whitespaces)) else {
            process.killGroup()
            throw FixtureFailure(description: "the DNS responder did not start: \(log.output)")
        }
        return DNSResponder(port: port, process: process, input: pipes.input, log: log)
    }

    func stop() async {
        close(input)
        if await process.waitForExit(timeout: .seconds(5)) == nil { process.killGroup() }
    }
}

/// The first line a child writes (or "" at its end), waited for with a timeout.
final class LineWaiter: Sendable {
    private let state = Mutex<(line: String?, waiter: CheckedContinuation<String?, Never>?)>((nil, nil))

    func signal(_ line: String = "") {
        let waiter = state.withLock { state -> CheckedContinuation<String?, Never>? in
            guard state.line == nil else { return nil }
            state.line = line
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: line)
    }

    @discardableResult
    func wait(timeout: Duration) async -> String? {
        Task { [self] in
            try? await Task.sleep(for: timeout)
            let waiter = state.withLock { state -> CheckedContinuation<String?, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
        return await withCheckedContinuation { continuation in
            let line = state.withLock { state -> String? in
                if let line = state.line { return line }
                state.waiter = continuation
                return nil
            }
            if let line { continuation.resume(returning: line) }
        }
    }
}
