import Foundation
import PinguinTestSupport

/// A test client that keeps one connection open: send lines, read lines as they come. Blocking
/// socket calls run on threads of their own, never on the cooperative pool.
final class LineSession: @unchecked Sendable {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(_ target: RawSocketClient.Target) throws {
        fd = try RawSocketClient.connect(target)
    }

    deinit {
        close(fd)
    }

    func send(_ line: String) throws {
        let bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw RawSocketClient.Failure(description: "send: \(String(cString: strerror(errno)))") }
            offset += written
        }
    }

    /// The next line, or nil if none arrives within `timeout` seconds or the server closed.
    func readLine(timeout: Double = 10) async -> String? {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: self.blockingReadLine(timeout: timeout)) }.start()
        }
    }

    /// Every line that arrives until the connection is quiet for `quiet` seconds.
    func drain(quiet: Double) async -> [String] {
        var lines: [String] = []
        while let line = await readLine(timeout: quiet) { lines.append(line) }
        return lines
    }

    /// True once the server has closed the connection (EOF within `timeout` seconds).
    func closedByServer(within timeout: Double) async -> Bool {
        await withCheckedContinuation { continuation in
            Thread {
                let deadline = Date().addingTimeInterval(timeout)
                while Date() < deadline {
                    var tv = timeval(tv_sec: 0, tv_usec: 200_000)
                    setsockopt(self.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                    var chunk = [UInt8](repeating: 0, count: 4096)
                    let count = recv(self.fd, &chunk, chunk.count, 0)
                    if count == 0 || (count < 0 && errno == ECONNRESET) {
                        continuation.resume(returning: true)
                        return
                    }
                }
                continuation.resume(returning: false)
            }.start()
        }
    }

    private func blockingReadLine(timeout: Double) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { return nil }
            var tv = timeval(tv_sec: Int(remaining), tv_usec: Int((remaining - remaining.rounded(.down)) * 1_000_000))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let count = recv(fd, &chunk, chunk.count, 0)
            if count <= 0 { return nil }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }
}

/// Runs blocking socket work on a thread of its own, so it cannot starve the cooperative pool
/// (two threads on a two-core machine) that the server under test needs.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            do {
                continuation.resume(returning: try body())
            } catch {
                continuation.resume(throwing: error)
            }
        }.start()
    }
}

/// Makes a self-signed certificate for 127.0.0.1 and localhost, valid for a day, as
/// `folder/cert.pem` and `folder/key.pem` (openssl; scripts/test installs it).
func makeTestCertificate(in folder: String) async throws {
    let (status, output) = try await ChildProcess.run("/usr/bin/openssl", arguments: [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-keyout", folder + "/key.pem", "-out", folder + "/cert.pem",
    ])
    guard status == 0 else { throw RawSocketClient.Failure(description: "openssl failed: \(output)") }
}
