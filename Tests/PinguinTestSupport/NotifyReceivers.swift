public import Foundation
public import PinguinWire

/// The local receivers notification tests send to (Tests/Fixtures/notify): an HTTP server that
/// plays every chat and paging service, and an SMTP server. Each logs what it received, one JSON
/// object a line, which the tests read back.
public final class NotifyReceiver: Sendable {
    public let port: Int
    public let logPath: String
    private let process: ChildProcess.Running
    private let directory: URL

    private init(port: Int, logPath: String, process: ChildProcess.Running, directory: URL) {
        self.port = port
        self.logPath = logPath
        self.process = process
        self.directory = directory
    }

    /// `receiver.py`: an HTTP receiver; see its header for the /fail/N, /status/C and /slow/MS prefixes.
    public static func http() async throws -> NotifyReceiver {
        try await start(script: "receiver.py", arguments: [])
    }

    /// `smtp_server.py` with these arguments (`--starttls`, `--auth`, `--fail-first`…). With
    /// `tls`, a throwaway certificate for 127.0.0.1 is made first and passed as `--cert`/`--key`;
    /// ``certificatePath`` names it, for `ca_file`.
    public static func smtp(_ arguments: [String] = [], tls: Bool = false) async throws -> NotifyReceiver {
        var arguments = arguments
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-smtp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if tls {
            let cert = directory.appendingPathComponent("cert.pem").path, key = directory.appendingPathComponent("key.pem").path
            let made = try await ChildProcess.run("/usr/bin/openssl", arguments: [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            ])
            guard made.status == 0 else { throw ChildProcess.CommandFailed(description: "openssl: \(made.output)") }
            arguments += ["--cert", cert, "--key", key]
        }
        return try await start(script: "smtp_server.py", arguments: arguments, directory: directory)
    }

    private static func start(script: String, arguments: [String], directory given: URL? = nil) async throws -> NotifyReceiver {
        let directory = given ?? FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-receiver-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let portFile = directory.appendingPathComponent("port").path
        let log = directory.appendingPathComponent("log.jsonl").path
        let pythonPath = ProcessInfo.processInfo.environment["PINGUIN_TEST_PYTHONPATH"]
            ?? TestServices.repositoryRoot.appendingPathComponent(".pinguin/pylib").path
        let scriptPath = TestServices.repositoryRoot.appendingPathComponent("Tests/Fixtures/notify/\(script)").path
        let process = try ChildProcess.start("/usr/bin/env", arguments: [
            "PYTHONPATH=\(pythonPath)", "/usr/bin/python3", scriptPath, "--port-file", portFile, "--log", log,
        ] + arguments)
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
               let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return NotifyReceiver(port: port, logPath: log, process: process, directory: directory)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        await process.stop()
        throw ChildProcess.CommandFailed(description: "\(script) did not write its port within 20 s")
    }

    /// The certificate an SMTP receiver started with `tls` presents (a `ca_file` that trusts it).
    public var certificatePath: String { directory.appendingPathComponent("cert.pem").path }

    /// `http://127.0.0.1:PORT` + `path`.
    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Everything received so far, oldest first.
    public func received() -> [JSONObject] {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { (try? JSONParser.parse(String($0)))?.objectValue }
    }

    /// The bodies of what was received at `path` (query left out), parsed as JSON objects.
    public func bodies(at path: String) -> [JSONObject] {
        received().filter { $0["path"]?.stringValue == path }.compactMap { request in
            request["body"]?.stringValue.flatMap { (try? JSONParser.parse($0))?.objectValue }
        }
    }

    public func stop() async {
        await process.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// For `defer`: SIGTERM at once (so the receiver never outlives a test process that exits
    /// right after), the wait and the clean-up on a thread of their own.
    public func stopInBackground() {
        kill(process.pid, SIGTERM)
        let directory = directory
        let process = process
        Thread {
            process.terminate()
            try? FileManager.default.removeItem(at: directory)
        }.start()
    }
}
