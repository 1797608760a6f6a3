import CPinguinShims
import Foundation
import PinguinWire

/// Runs a blocking call on a thread of its own: the cooperative pool has two threads here, and a
/// blocking pipe read there would stall every test.
func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}

/// A plugin started with posix_spawn, stdin and stdout on pipes, stderr into a file.
final class PluginProcess: @unchecked Sendable {
    // @unchecked: `buffer` and `exitStatus` are used by one test at a time, one blocking call at a time.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Taken around every pipe creation and spawn in these tests.
    static let spawnLock = NSLock()

    let pid: pid_t
    private let input: Int32
    private let output: Int32
    private let stderrPath: String
    private var inputOpen = true
    private var buffer: [UInt8] = []
    private var exitStatus: Int32?

    /// The built `pinguin-check-null`, next to the test bundle in the products folder.
    static var nullPlugin: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("pinguin-check-null").path
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    init(_ path: String = PluginProcess.nullPlugin) throws {
        // Pipes are made close-on-exec under a lock every spawn here takes, so that a plugin
        // started by a concurrent test never holds another test's pipes open.
        Self.spawnLock.lock()
        defer { Self.spawnLock.unlock() }
        var toChild: [Int32] = [0, 0]
        var fromChild: [Int32] = [0, 0]
        guard pipe(&toChild) == 0, pipe(&fromChild) == 0 else { throw Failure(description: "pipe failed") }
        for descriptor in toChild + fromChild { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        stderrPath = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-plugin-\(UUID().uuidString).stderr").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // Nothing else is inherited: a descriptor another test has open for writing (a script it
        // is about to run) would otherwise stay open in this plugin for its whole life, and running
        // that script would fail with ETXTBSY.
        pinguin_spawn_file_actions_addclosefrom(&actions, 3)
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(path), nil]
        defer { argv.forEach { free($0) } }
        let environment: [String] = ["PATH=/usr/bin:/bin", "LANG=C.UTF-8", "PINGUIN_PLUGIN=1", "PINGUIN_PLUGIN_PROTOCOL_VERSIONS=1"]
        let envp = environment.map { strdup($0) } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
        close(toChild[0])
        close(fromChild[1])
        guard spawned == 0 else {
            close(toChild[1])
            close(fromChild[0])
            throw Failure(description: "cannot start \(path): \(String(cString: strerror(spawned)))")
        }
        self.pid = pid
        input = toChild[1]
        output = fromChild[0]
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        }
        if inputOpen { close(input) }
        close(output)
        unlink(stderrPath)
    }

    // MARK: Talking

    func send(_ lines: String...) async throws {
        try await send(lines: lines)
    }

    func send(lines: [String]) async throws {
        let bytes = Array(lines.map { $0 + "\n" }.joined().utf8)
        let failure: Failure? = await onThread { self.blockingWrite(bytes) }
        if let failure { throw failure }
    }

    func closeInput() {
        close(input)
        inputOpen = false
    }

    /// The next line from stdout, or nil at EOF or after `timeout` seconds.
    func readLine(timeout: Double = 10) async -> String? {
        await onThread { self.blockingReadLine(timeout: timeout) }
    }

    /// The next answer, parsed.
    func readMessage(timeout: Double = 10) async throws -> JSONObject {
        guard let line = await readLine(timeout: timeout) else { throw Failure(description: "no answer within \(timeout) s") }
        guard case .object(let object) = try JSONParser.parse(line) else { throw Failure(description: "not an object: \(line)") }
        return object
    }

    /// The next `count` answers.
    func readMessages(_ count: Int, timeout: Double = 20) async throws -> [JSONObject] {
        let lines: [String]? = await onThread {
            let deadline = Date().addingTimeInterval(timeout)
            var lines: [String] = []
            while lines.count < count {
                guard let line = self.blockingReadLine(timeout: deadline.timeIntervalSinceNow) else { return nil }
                lines.append(line)
            }
            return lines
        }
        guard let lines else { throw Failure(description: "fewer than \(count) answers within \(timeout) s") }
        return try lines.map { line in
            guard case .object(let object) = try JSONParser.parse(line) else { throw Failure(description: "not an object: \(line)") }
            return object
        }
    }

    /// The exit status (128+signal when killed), or nil if it is still running after `timeout` seconds.
    func waitForExit(timeout: Double = 10) async -> Int32? {
        if let exitStatus { return exitStatus }
        let pid = self.pid
        let status: Int32? = await onThread {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                var raw: Int32 = 0
                let result = waitpid(pid, &raw, WNOHANG)
                if result == pid { return (raw & 0x7F) == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F) }
                if result < 0 && errno != EINTR { return -1 }
                usleep(5_000)
            }
            return nil
        }
        exitStatus = status
        return status
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    // MARK: Protocol helpers

    /// `initialize` (answer returned) and `initialized`.
    @discardableResult
    func handshake() async throws -> JSONObject {
        try await send(Self.initialize(id: 1))
        let answer = try await readMessage()
        try await send(#"{"jsonrpc":"2.0","method":"initialized"}"#)
        return answer
    }

    static func initialize(id: Int, versions: String = "[1]") -> String {
        #"{"jsonrpc":"2.0","id":\#(id),"method":"initialize","params":{"protocol_versions":\#(versions),"supervisor":{"name":"pinguind","version":"test","id":"test","location":"default"},"limits":{"max_line_bytes":1048576}}}"#
    }

    static func checkRun(id: Int, target: String = "example", config: String = "{}", deadlineIn seconds: Double = 10) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let deadline = formatter.string(from: Date().addingTimeInterval(seconds))
        let timeout = max(1, Int(seconds * 1000))
        return #"{"jsonrpc":"2.0","id":\#(id),"method":"check.run","params":{"check_id":"test:\#(id)","monitor_id":1,"kind":"null","target":"\#(target)","config":\#(config),"deadline":"\#(deadline)","timeout_ms":\#(timeout)}}"#
    }

    // MARK: Blocking I/O (on threads of their own)

    private func blockingWrite(_ bytes: [UInt8]) -> Failure? {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(input, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return Failure(description: "write: \(String(cString: strerror(errno)))") }
                offset += written
            }
            return nil
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
            var descriptor = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(min(remaining * 1000 + 1, 60_000)))
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { continue }
            let count = read(output, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return nil }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }
}
