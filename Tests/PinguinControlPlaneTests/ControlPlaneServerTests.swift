import Foundation
import PinguinControlPlane
import PinguinTestSupport
import PinguinWire
import Testing

/// The spec examples' method set, plus `sleep(ms)` for ordering and half-close tests. All are
/// public (no scope needed): these tests are about the transport, the auth tests about auth.
private func testRouter() -> JSONRPCRouter {
    var router = JSONRPCRouter(defaultScope: nil)
    router.register("subtract") { request in
        switch request.params {
        case .array(let values) where values.count == 2:
            guard let a = values[0].doubleValue, let b = values[1].doubleValue else { return .failure(.invalidParams("numbers")) }
            return .success(.double(a - b))
        case .object(let members):
            guard let a = members["minuend"]?.doubleValue, let b = members["subtrahend"]?.doubleValue else {
                return .failure(.invalidParams("minuend and subtrahend are required"))
            }
            return .success(.double(a - b))
        default:
            return .failure(.invalidParams("two numbers expected"))
        }
    }
    router.register("sum") { request in
        guard case .array(let values) = request.params else { return .failure(.invalidParams("array expected")) }
        return .success(.double(values.compactMap(\.doubleValue).reduce(0, +)))
    }
    router.register("get_data") { _ in .success(.array([.string("hello"), .int(5)])) }
    router.register("echo_big") { _ in .success(.string(String(repeating: "x", count: 1_024))) }
    router.register("whoami") { _ in .success(.string(RequestContext.current.actor)) }
    for name in ["update", "notify_hello", "notify_sum"] {
        router.register(name) { _ in .success(.null) }
    }
    router.register("sleep") { request in
        guard case .array(let values) = request.params, let ms = values.first?.int64Value else { return .failure(.invalidParams("ms")) }
        try? await Task.sleep(for: .milliseconds(ms))
        return .success(.int(ms))
    }
    return router
}

/// Runs a server on a fresh Unix socket and an ephemeral TCP port while `body` runs.
private func withServer<T: Sendable>(
    _ adjust: (inout ControlPlaneServer.Configuration) -> Void = { _ in },
    _ body: (ControlPlaneServer, RawSocketClient.Target, RawSocketClient.Target) async throws -> T
) async throws -> T {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-rpc-\(UUID().uuidString.prefix(8))").path
    var configuration = ControlPlaneServer.Configuration()
    configuration.unixSocketPath = folder + "/pinguin.sock"
    configuration.tcpPort = 0
    adjust(&configuration)
    let server = try ControlPlaneServer(configuration: configuration, router: testRouter(), logger: TestServices.logger())
    defer { try? FileManager.default.removeItem(atPath: folder) }
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        await server.waitUntilListening()
        let result = try await body(server, .unix(configuration.unixSocketPath!), .tcp(port: server.tcpPort!))
        group.cancelAll()
        return result
    }
}

private func lines(_ texts: [String]) -> [UInt8] {
    Array(texts.map { $0 + "\n" }.joined().utf8)
}

private func answers(_ lines: [String]) throws -> [JSONValue] {
    try lines.map { try JSONParser.parse($0) }
}

@Suite("Control plane server", .timeLimit(.minutes(3)))
struct ControlPlaneServerTests {
    @Test("the spec's examples over both transports, answered before the server closes a half-closed connection")
    func specExamplesOverSockets() async throws {
        try await withServer { _, unix, tcp in
            for target in [unix, tcp] {
                let sent = lines([
                    #"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#,
                    #"{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}"#,
                    #"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#,
                    #"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#,
                    #"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#,
                    "[]",
                    #"[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]}, {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]"#,
                    #"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "s"}, {"foo": "boo"}, {"jsonrpc": "2.0", "method": "get_data", "id": "9"}]"#,
                ])
                let (received, closed) = try await RawSocketClient.exchange(target, chunks: [sent])
                #expect(closed)
                let replies = try answers(received)
                // 1, 3, foobar, parse error, empty batch, mixed batch; nothing for the notifications.
                #expect(replies.count == 6, "\(received)")
                let singles = replies.compactMap(\.objectValue)
                #expect(singles.contains { $0["id"] == .number("1") && $0["result"] == .number("19") })
                #expect(singles.contains { $0["id"] == .number("3") && $0["result"] == .number("19") })
                #expect(singles.contains { $0["id"] == .string("1") && $0["error"]?.objectValue?["code"] == .number("-32601") })
                #expect(singles.filter { $0["id"] == .null }.compactMap { $0["error"]?.objectValue?["code"] }.sorted { "\($0)" < "\($1)" }
                    == [.number("-32600"), .number("-32700")])
                let batch = try #require(replies.compactMap(\.arrayValue).first)
                #expect(batch.count == 3)
            }
        }
    }

    @Test("requests on one connection run concurrently: a fast answer overtakes a slow one")
    func pipelining() async throws {
        try await withServer { _, unix, _ in
            let (received, _) = try await RawSocketClient.exchange(unix, chunks: [lines([
                #"{"jsonrpc":"2.0","method":"sleep","params":[400],"id":"slow"}"#,
                #"{"jsonrpc":"2.0","method":"sleep","params":[1],"id":"fast"}"#,
            ])])
            let ids = try answers(received).map { $0.objectValue?["id"] }
            #expect(ids == [.string("fast"), .string("slow")])
        }
    }

    @Test("a request split into one-byte writes, CRLF, and blank lines")
    func byteByByte() async throws {
        try await withServer { _, unix, _ in
            let request = Array("\r\n\n{\"jsonrpc\":\"2.0\",\"method\":\"subtract\",\"params\":[5,2],\"id\":7}\r\n".utf8)
            let (received, _) = try await RawSocketClient.exchange(unix, chunks: request.map { [$0] })
            #expect(received == [#"{"jsonrpc":"2.0","result":3,"id":7}"#])
        }
    }

    @Test("garbage gets a parse error and the connection keeps working")
    func garbage() async throws {
        try await withServer { _, _, tcp in
            var chunk: [UInt8] = (0..<300).map { _ in UInt8.random(in: 0...255) }.filter { $0 != 0x0A }
            chunk.append(0x0A)
            chunk += Array(#"{"jsonrpc":"2.0","method":"subtract","params":[1,1],"id":"after"}"#.utf8) + [0x0A]
            let (received, _) = try await RawSocketClient.exchange(tcp, chunks: [chunk])
            let replies = try answers(received)
            #expect(replies.count == 2)
            #expect(replies.last?.objectValue?["id"] == .string("after"))
        }
    }

    @Test("an oversized line gets too_large and the connection closes; the server carries on")
    func oversizedLine() async throws {
        try await withServer({ $0.maximumLineBytes = 1_024 }) { _, unix, _ in
            let huge = [UInt8](repeating: UInt8(ascii: "a"), count: 10_000_000)
            let (received, closed) = try await RawSocketClient.exchange(unix, chunks: [huge], shutdownWrite: false)
            #expect(closed)
            #expect(received.count == 1)
            #expect(try answers(received).first?.objectValue?["error"]?.objectValue?["data"]?.objectValue?["kind"] == .string("too_large"))
            let (after, _) = try await RawSocketClient.exchange(unix, chunks: [lines([#"{"jsonrpc":"2.0","method":"get_data","id":1}"#])])
            #expect(after.count == 1)
        }
    }

    @Test("a thousand connections opened and dropped leave the server answering")
    func churn() async throws {
        try await withServer { _, unix, tcp in
            for index in 0..<1_000 {
                let fd = try RawSocketClient.connect(index % 2 == 0 ? unix : tcp)
                if index % 3 == 0 {
                    _ = Array(#"{"jsonrpc":"2.0","method":"sleep","params":[50],"id":1}"#.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                }
                close(fd)
            }
            let (received, _) = try await RawSocketClient.exchange(tcp, chunks: [lines([#"{"jsonrpc":"2.0","method":"subtract","params":[9,4],"id":2}"#])])
            #expect(received == [#"{"jsonrpc":"2.0","result":5,"id":2}"#])
        }
    }

    @Test("connections opened and dropped mid-line, thousands of them, leave no descriptor behind")
    func noDescriptorLeak() async throws {
        try await withServer { _, unix, tcp in
            func openDescriptors() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1 }
            // Warm up (NIO's threads and selectors), then measure.
            _ = try await RawSocketClient.exchange(tcp, chunks: [lines([#"{"jsonrpc":"2.0","method":"get_data","id":1}"#])])
            let before = openDescriptors()
            try await onThread {
                for index in 0..<3_000 {
                    let fd = try RawSocketClient.connect(index % 2 == 0 ? unix : tcp)
                    let half = Array(#"{"jsonrpc":"2.0","method":"sub"#.utf8) + (index % 3 == 0 ? [0xFF, 0x00, 0xC3] : [])
                    _ = half.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    close(fd)
                }
            }
            var after = openDescriptors()
            for _ in 0..<100 where after > before + 2 {
                try await Task.sleep(for: .milliseconds(50))
                after = openDescriptors()
            }
            #expect(after <= before + 2, "descriptors before \(before), after \(after)")
            let (received, _) = try await RawSocketClient.exchange(unix, chunks: [lines([#"{"jsonrpc":"2.0","method":"subtract","params":[3,1],"id":9}"#])])
            #expect(received == [#"{"jsonrpc":"2.0","result":2,"id":9}"#])
        }
    }

    @Test("a peer that sends without reading is cut off after the write timeout")
    func writeTimeout() async throws {
        try await withServer({ $0.writeTimeout = .seconds(1) }) { _, unix, _ in
            let (refused, sent, elapsed) = try await onThread { () throws -> (Bool, Int, Double) in
                let fd = try RawSocketClient.connect(unix)
                defer { close(fd) }
                var small: Int32 = 4_096
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
                // Requests whose answers (a kilobyte each) this client never reads.
                let request = lines([#"{"jsonrpc":"2.0","method":"echo_big","id":1}"#])
                var sent = 0
                var tv = timeval(tv_sec: 0, tv_usec: 100_000)
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                let started = Date()
                // Well past the 1 s write timeout: the suite's other tests can keep this test
                // process's task pool (where the server's watchdog ticks) busy for seconds.
                while Date().timeIntervalSince(started) < 40 {
                    let written = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if written < 0 {
                        if errno == EPIPE || errno == ECONNRESET { return (true, sent, Date().timeIntervalSince(started)) }
                        continue  // the server stopped reading: back-pressure, as it should
                    }
                    sent += 1
                }
                return (false, sent, Date().timeIntervalSince(started))
            }
            #expect(refused, "the server should close the connection (sent \(sent) requests)")
            #expect(elapsed < 30)
        }
    }
    @Test("TLS on the TCP listener: a verifying client gets answers; plain text gets nothing")
    func tls() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-tls-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await makeTestCertificate(in: folder)
        try await withServer({ $0.tls = TLSFiles(certificateChain: folder + "/cert.pem", privateKey: folder + "/key.pem") }) { server, unix, _ in
            let port = try #require(server.tcpPort)
            let script = """
                import socket, ssl, sys
                context = ssl.create_default_context(cafile=sys.argv[1])
                with socket.create_connection(("127.0.0.1", int(sys.argv[2]))) as raw:
                    with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                        tls.sendall(b'{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":1}\\n')
                        data = b""
                        while not data.endswith(b"\\n"):
                            chunk = tls.recv(4096)
                            if not chunk: break
                            data += chunk
                        print(tls.version(), data.decode().strip())
                """
            let (pythonStatus, answer) = try await ChildProcess.run("/usr/bin/env", arguments: ["python3", "-c", script, folder + "/cert.pem", String(port)])
            #expect(pythonStatus == 0, "\(answer)")
            #expect(answer.contains(#"{"jsonrpc":"2.0","result":19,"id":1}"#), "\(answer)")
            #expect(answer.hasPrefix("TLSv1.3") || answer.hasPrefix("TLSv1.2"), "\(answer)")
            // Plain JSON on the TLS port is not answered as JSON-RPC.
            let (plain, _) = try await RawSocketClient.exchange(.tcp(port: port), chunks: [lines([#"{"jsonrpc":"2.0","method":"get_data","id":1}"#])], timeout: 5)
            #expect(!plain.contains { $0.contains("jsonrpc") })
            // The Unix socket stays plain.
            let (local, _) = try await RawSocketClient.exchange(unix, chunks: [lines([#"{"jsonrpc":"2.0","method":"get_data","id":1}"#])])
            #expect(local == [#"{"jsonrpc":"2.0","result":["hello",5],"id":1}"#])
        }
    }

    @Test("a TCP connection that does not authenticate in time is closed")
    func authenticationTimeout() async throws {
        try await withServer({ $0.authenticationTimeout = .milliseconds(500) }) { _, _, tcp in
            let session = try LineSession(tcp)
            #expect(await session.closedByServer(within: 20))
        }
    }

    @Test("callers are identified: the peer's uid on the Unix socket, the address on TCP")
    func identity() async throws {
        try await withServer { _, unix, tcp in
            let request = lines([#"{"jsonrpc":"2.0","method":"whoami","id":1}"#])
            let (overUnix, _) = try await RawSocketClient.exchange(unix, chunks: [request])
            #expect(overUnix == [#"{"jsonrpc":"2.0","result":"uid:\#(geteuid())","id":1}"#])
            let (overTCP, _) = try await RawSocketClient.exchange(tcp, chunks: [request])
            #expect(overTCP == [#"{"jsonrpc":"2.0","result":"tcp:127.0.0.1","id":1}"#])
        }
    }

    @Test("a Unix peer whose uid is not allowed is refused even when the file permissions let it in",
          .enabled(if: geteuid() == 0, "needs root, to connect as another user"))
    func peerCredentials() async throws {
        try await withServer({ $0.allowedUnixUserIDs = [] }) { server, _, _ in
            let path = try #require(server.configuration.unixSocketPath)
            // Open the door on purpose: only SO_PEERCRED stands in the way now.
            chmod((path as NSString).deletingLastPathComponent, 0o755)
            chmod(path, 0o666)
            let request = #"{"jsonrpc":"2.0","method":"whoami","id":1}"#
            let command = "printf '%s\\n' '\(request)' | runuser -u nobody -- socat -t 5 - UNIX-CONNECT:\(path)"
            let (status, output) = try await ChildProcess.run("/bin/sh", arguments: ["-c", command])
            #expect(!output.contains("uid:"), "\(output)")
            #expect(!output.contains("result"), "\(status) \(output)")
        }
    }

    @Test("the Unix socket is created without access for others")
    func socketPermissions() async throws {
        try await withServer { server, _, _ in
            let path = try #require(server.configuration.unixSocketPath)
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0o777
            #expect(mode == 0o660, "mode \(String(mode, radix: 8))")
            let folder = try FileManager.default.attributesOfItem(atPath: (path as NSString).deletingLastPathComponent)
            #expect((folder[.posixPermissions] as? NSNumber)?.intValue == 0o750)
        }
    }
}
