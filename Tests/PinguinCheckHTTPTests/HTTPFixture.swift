import Foundation
import Glibc
import PinguinTestSupport
import Synchronization

/// The nginx master started by the fixture, stopped at exit.
let fixtureNginxPID = Mutex<Int32>(0)

/// The local fixture the http tests check against, started once per test process: nginx (from
/// Debian) on 127.0.0.1 and [::1] with a config and certificates made at test time in a
/// temporary folder, and a listening socket that never answers. Nothing reaches the internet.
final class HTTPFixture: Sendable {
    struct Failure: Error, CustomStringConvertible { var description: String }

    let directory: String
    /// Plain HTTP: content, JSON, redirects, slow answers, big bodies, auth, headers.
    let plain: Int
    /// HTTPS (with HTTP/2) with a certificate for localhost, 127.0.0.1, ::1 and pinguin.test, 365 days.
    let valid: Int
    /// HTTPS, HTTP/1.1 only, TLS 1.2 only, same certificate.
    let tls12: Int
    let expiring: Int
    let expired: Int
    let wrongHost: Int
    let selfSigned: Int
    /// HTTPS that requires a client certificate from the test CA.
    let mutual: Int
    /// Answers every request with "via proxy", whatever it asks for.
    let proxy: Int
    /// HTTPS (with HTTP/2), TLS 1.3 only, same certificate.
    let tls13: Int
    /// Clear-text HTTP/2 only, with prior knowledge (h2c; nginx 1.22 `listen … http2` without ssl):
    /// an HTTP/1.1 request gets HTTP/2 frames back.
    let h2c: Int
    /// Accepts connections (the kernel does) and never answers.
    let hanging: Int
    private let hangingSocket: Int32
    let nginxPID: Int32

    var caFile: String { directory + "/ca.pem" }
    var clientCertificate: String { directory + "/client.pem" }
    var clientKey: String { directory + "/client.key" }

    static let shared = Task { try await HTTPFixture.start() }

    private init(directory: String, ports: [Int], hangingSocket: Int32, hanging: Int, nginxPID: Int32) {
        self.directory = directory
        (plain, valid, tls12, expiring, expired, wrongHost, selfSigned, mutual, proxy, tls13, h2c) =
            (ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[6], ports[7], ports[8], ports[9], ports[10])
        self.hangingSocket = hangingSocket
        self.hanging = hanging
        self.nginxPID = nginxPID
    }

    static func start() async throws -> HTTPFixture {
        guard let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw Failure(description: "nginx is not installed (scripts/test installs nginx-light)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-http-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory + "/newcerts", withIntermediateDirectories: true)
        try await makeCertificates(in: directory)
        // 2 MiB body for the cap, an htpasswd (user pinguin, password s3cret) for basic auth.
        try Data(repeating: UInt8(ascii: "x"), count: 2 << 20).write(to: URL(fileURLWithPath: directory + "/big.txt"))
        let hash = try await run("/usr/bin/openssl", ["passwd", "-apr1", "s3cret"]).trimmingCharacters(in: .whitespacesAndNewlines)
        try "pinguin:\(hash)\n".write(toFile: directory + "/htpasswd", atomically: true, encoding: .utf8)

        let ports = try (0..<11).map { _ in try freePort() }
        let (hangingSocket, hanging) = try listeningSocket()
        try config(directory: directory, ports: ports).write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
        let test = try await run(nginx, ["-t", "-p", directory, "-c", directory + "/nginx.conf", "-e", directory + "/error.log"], check: false)
        guard test.contains("successful") else { throw Failure(description: "nginx -t refused the fixture config: \(test)") }
        let process = try ChildProcess.start(nginx, arguments: ["-p", directory, "-c", directory + "/nginx.conf", "-e", directory + "/error.log", "-g", "daemon off;"])
        // nginx stops with the test process.
        fixtureNginxPID.withLock { $0 = process.pid }
        atexit { fixtureNginxPID.withLock { pid in if pid > 0 { kill(pid, SIGTERM) } } }
        // Up when every port takes a connection (at most 10 s).
        let started = ContinuousClock.now
        while !ports.allSatisfy(canConnect) {
            guard ContinuousClock.now - started < .seconds(10) else {
                let log = (try? String(contentsOfFile: directory + "/error.log", encoding: .utf8)) ?? ""
                throw Failure(description: "nginx did not listen within 10 s: \(log)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return HTTPFixture(directory: directory, ports: ports, hangingSocket: hangingSocket, hanging: hanging, nginxPID: process.pid)
    }

    private static func run(_ path: String, _ arguments: [String], check: Bool = true) async throws -> String {
        let result = try await ChildProcess.run(path, arguments: arguments)
        if check && result.status != 0 { throw Failure(description: "\(path) \(arguments.joined(separator: " ")) failed: \(result.output)") }
        return result.output
    }

    /// A CA, and certificates it signs with `openssl ca` (dates set with -startdate/-enddate or -days).
    private static func makeCertificates(in directory: String) async throws {
        let ssl = "/usr/bin/openssl"
        try "".write(toFile: directory + "/index.txt", atomically: true, encoding: .utf8)
        try "1000\n".write(toFile: directory + "/serial", atomically: true, encoding: .utf8)
        try """
            [ca]
            default_ca = test
            [test]
            dir = \(directory)
            database = $dir/index.txt
            new_certs_dir = $dir/newcerts
            serial = $dir/serial
            default_md = sha256
            policy = any
            unique_subject = no
            [any]
            commonName = supplied
            """.write(toFile: directory + "/ca.cnf", atomically: true, encoding: .utf8)
        _ = try await run(ssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", directory + "/ca.key", "-out", directory + "/ca.pem",
                                "-days", "3650", "-subj", "/CN=Pinguin Test CA"])
        let good = "subjectAltName=DNS:localhost,DNS:pinguin.test,IP:127.0.0.1,IP:::1\n"
        let certificates: [(name: String, subject: String, san: String, dates: [String])] = [
            ("valid", "/CN=localhost", good, ["-days", "365"]),
            ("expiring", "/CN=localhost", good, ["-days", "5"]),
            ("expired", "/CN=localhost", good, ["-startdate", "20200101000000Z", "-enddate", "20210101000000Z"]),
            ("wronghost", "/CN=wrong.example", "subjectAltName=DNS:wrong.example\n", ["-days", "365"]),
            ("client", "/CN=pinguin client", "extendedKeyUsage=clientAuth\n", ["-days", "365"]),
        ]
        for certificate in certificates {
            let base = directory + "/" + certificate.name
            try certificate.san.write(toFile: base + ".ext", atomically: true, encoding: .utf8)
            _ = try await run(ssl, ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", base + ".key", "-out", base + ".csr", "-subj", certificate.subject])
            _ = try await run(ssl, ["ca", "-batch", "-config", directory + "/ca.cnf", "-cert", directory + "/ca.pem", "-keyfile", directory + "/ca.key",
                                    "-in", base + ".csr", "-out", base + ".pem", "-extfile", base + ".ext", "-notext"] + certificate.dates)
        }
        _ = try await run(ssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", directory + "/selfsigned.key", "-out", directory + "/selfsigned.pem",
                                "-days", "365", "-subj", "/CN=localhost", "-addext", good.trimmingCharacters(in: .newlines)])
    }

    private static func config(directory d: String, ports p: [Int]) -> String {
        let user = getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "nobody"
        func listen(_ port: Int, _ extra: String = "") -> String {
            "listen 127.0.0.1:\(port)\(extra); listen [::1]:\(port)\(extra);"
        }
        func tls(_ name: String, _ port: Int, http2: Bool = true, more: String = "") -> String {
            """
            server { \(listen(port, " ssl" + (http2 ? " http2" : ""))) ssl_certificate \(d)/\(name).pem; ssl_certificate_key \(d)/\(name).key; \(more)
              location / { return 200 "secure hello\\n"; } }
            """
        }
        return """
            user \(user);
            worker_processes 1;
            pid \(d)/nginx.pid;
            error_log \(d)/error.log warn;
            load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
            events { worker_connections 1024; }
            http {
              access_log off;
              client_body_temp_path \(d)/body; proxy_temp_path \(d)/proxy; fastcgi_temp_path \(d)/fastcgi;
              uwsgi_temp_path \(d)/uwsgi; scgi_temp_path \(d)/scgi;
              default_type text/plain;
              server {
                \(listen(p[0]))
                location = / { return 200 "hello pinguin\\n"; }
                location = /json { default_type application/json;
                  return 200 '{"status":"ok","count":5,"ratio":0.5,"ok":true,"nothing":null,"name":"pinguin-7","items":[1,2,3],"nested":{"deep":{"value":"x"}}}'; }
                location = /notfound { return 404 "no\\n"; }
                location = /error { return 503 "unavailable\\n"; }
                location = /redirect { return 302 /; }
                location = /redirect2 { return 301 /redirect; }
                location = /loop { return 302 /loop; }
                location = /to-file { return 302 file:///etc/passwd; }
                location = /to-gopher { return 302 gopher://127.0.0.1:\(p[0])/; }
                location = /slow { echo_sleep 0.6; echo "slow hello"; }
                location = /big { alias \(d)/big.txt; }
                location = /big-chunked { echo_sleep 0.01; echo_duplicate 2097152 "y"; }
                location = /headers { add_header X-Pinguin "yes please" always; add_header Cache-Control "no-store" always; return 200 "h\\n"; }
                location = /method { return 200 "method=$request_method\\n"; }
                location = /echo { echo_read_request_body; echo "got=$request_body ct=$http_content_type x=$http_x_test host=$host ua=$http_user_agent m=$request_method"; }
                location = /basic { auth_basic "pinguin"; auth_basic_user_file \(d)/htpasswd; echo "basic ok"; }
                location = /bearer { if ($http_authorization != "Bearer t0ken") { return 401 "bearer missing\\n"; } return 200 "bearer ok\\n"; }
              }
              \(tls("valid", p[1]))
              \(tls("valid", p[2], http2: false, more: "ssl_protocols TLSv1.2;"))
              \(tls("expiring", p[3]))
              \(tls("expired", p[4]))
              \(tls("wronghost", p[5]))
              \(tls("selfsigned", p[6]))
              \(tls("valid", p[7], more: "ssl_client_certificate \(d)/ca.pem; ssl_verify_client on;"))
              server { \(listen(p[8])) location / { return 200 "via proxy\\n"; } }
              \(tls("valid", p[9], more: "ssl_protocols TLSv1.3;"))
              server { \(listen(p[10], " http2")) location / { return 200 "h2c hello\\n"; } }
            }
            """
    }

    static func freePort() throws -> Int {
        let (descriptor, port) = try listeningSocket()
        close(descriptor)
        return port
    }

    /// A TCP socket listening on 127.0.0.1 at a port the kernel picks; never accepted from.
    private static func listeningSocket() throws -> (Int32, Int) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && listen(descriptor, 16) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard descriptor >= 0, bound else { throw Failure(description: "cannot listen on 127.0.0.1: \(String(cString: strerror(errno)))") }
        return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
    }

    static func canConnect(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
