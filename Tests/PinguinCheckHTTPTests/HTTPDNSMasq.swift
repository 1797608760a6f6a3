import Foundation
import Glibc
import PinguinTestSupport

/// dnsmasq (Debian's dnsmasq-base) on 127.0.0.1 at a free port, answering one name with one
/// IPv4 address and nothing else; for `dns_servers` when libcurl has c-ares.
final class HTTPDNSMasq: Sendable {
    struct Failure: Error, CustomStringConvertible { var description: String }

    let port: Int
    private let process: ChildProcess.Running

    private init(port: Int, process: ChildProcess.Running) {
        self.port = port
        self.process = process
    }

    static func start(answering name: String, with address: String) async throws -> HTTPDNSMasq {
        guard let dnsmasq = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw Failure(description: "dnsmasq is not installed (Debian package dnsmasq-base)")
        }
        let user = getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "nobody"
        // A free TCP port is very likely free for UDP too; a lost race shows as dnsmasq exiting, and is retried.
        for _ in 0..<5 {
            let port = try HTTPFixture.freePort()
            let process = try ChildProcess.start(dnsmasq, arguments: [
                "--conf-file=/dev/null", "--keep-in-foreground", "--port=\(port)", "--listen-address=127.0.0.1", "--bind-interfaces",
                "--no-resolv", "--no-hosts", "--pid-file=", "--user=\(user)", "--address=/\(name)/\(address)",
            ])
            let started = ContinuousClock.now
            while ContinuousClock.now - started < .seconds(5) {
                // dnsmasq listens on TCP and UDP at once.
                if HTTPFixture.canConnect(port) { return HTTPDNSMasq(port: port, process: process) }
                var raw: Int32 = 0
                if waitpid(process.pid, &raw, WNOHANG) == process.pid { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            process.terminate()
        }
        throw Failure(description: "dnsmasq did not listen on 127.0.0.1 in 5 tries")
    }

    func stop() { process.terminate() }
}
