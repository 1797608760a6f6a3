public import Foundation
import CPinguinShims

/// Runs a program to completion with `posix_spawn`, output captured through a temporary file.
public enum ChildProcess {
    public struct SpawnFailed: Error, CustomStringConvertible {
        public var path: String
        public var errno: Int32
        public var description: String { "cannot start \(path): \(String(cString: strerror(errno)))" }
    }

    /// Returns the exit status (128+signal when killed) and everything written to stdout and stderr.
    /// `environment` is added to this process's own.
    /// A command that exited with a status other than 0.
    public struct CommandFailed: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs `/usr/sbin/ip` (network namespaces, links, addresses) and throws, with its output,
    /// when it fails.
    public static func ip(_ arguments: [String]) async throws {
        let run = try await run("/usr/sbin/ip", arguments: arguments)
        guard run.status == 0 else {
            throw CommandFailed(description: "ip \(arguments.joined(separator: " ")) failed (\(run.status)): \(run.output)")
        }
    }

    public static func run(_ path: String, arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("pinguin-child-\(UUID().uuidString)").path
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        // Nothing else is inherited: a daemon started by a script (postgres, redis-server) would
        // otherwise keep other tests' sockets open for ever.
        pinguin_spawn_file_actions_addclosefrom(&actions, 3)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let environmentStrings = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }.map { "\($0)=\($1)" }
        let envp = environmentStrings.map { strdup($0) } + [nil]
        defer { envp.forEach { free($0) } }
        var attributes = try SpawnAttributes()
        defer { attributes.destroy() }
        let spawned = posix_spawn(&pid, path, &actions, &attributes.value, argv, envp)
        guard spawned == 0 else { throw SpawnFailed(path: path, errno: spawned) }
        let child = pid
        let status: Int32 = await withCheckedContinuation { continuation in
            let waiter = Thread {
                var raw: Int32 = 0
                while waitpid(child, &raw, 0) < 0 && errno == EINTR {}
                let exited = (raw & 0x7F) == 0
                continuation.resume(returning: exited ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F))
            }
            waiter.start()
        }
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return (status, output)
    }

    /// A long-running child, output discarded; ``Running/terminate()`` sends SIGTERM and waits.
    public final class Running: @unchecked Sendable {
        // @unchecked: `pid` never changes; `status` is written once by terminate(), from one caller.
        public let pid: Int32
        private var status: Int32?

        init(pid: Int32) {
            self.pid = pid
        }

        /// Sends SIGTERM (once) and waits for the exit on a thread of its own, never on the
        /// cooperative pool (two blocked waits would stall every other test's tasks on 2 cores);
        /// returns the exit status (128+signal if killed).
        @discardableResult
        public func stop() async -> Int32 {
            await withCheckedContinuation { continuation in
                Thread { continuation.resume(returning: self.terminate()) }.start()
            }
        }

        /// SIGTERM, and the wait on a background thread, without waiting: for `defer` blocks.
        public func stopInBackground() {
            Thread { _ = self.terminate() }.start()
        }

        /// Sends SIGTERM (once) and waits for the exit, blocking the calling thread: call it from
        /// a thread of its own (``stop()``), not from async code.
        @discardableResult
        public func terminate() -> Int32 {
            if let status { return status }
            kill(pid, SIGTERM)
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
            let result = (raw & 0x7F) == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F)
            status = result
            return result
        }
    }

    public static func start(_ path: String, arguments: [String]) throws -> Running {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        pinguin_spawn_file_actions_addclosefrom(&actions, 3)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        var attributes = try SpawnAttributes()
        defer { attributes.destroy() }
        let spawned = posix_spawn(&pid, path, &actions, &attributes.value, argv, environ)
        guard spawned == 0 else { throw SpawnFailed(path: path, errno: spawned) }
        return Running(pid: pid)
    }

    /// Every child starts with no signal blocked. The caller is usually a Dispatch worker thread,
    /// which blocks nearly every signal, and a mask is inherited across exec: a child started
    /// with it never sees SIGTERM, so ``Running/stop()`` would wait for ever.
    private struct SpawnAttributes {
        var value = posix_spawnattr_t()

        init() throws {
            posix_spawnattr_init(&value)
            var none = sigset_t()
            sigemptyset(&none)
            posix_spawnattr_setsigmask(&value, &none)
            let set = posix_spawnattr_setflags(&value, Int16(POSIX_SPAWN_SETSIGMASK))
            guard set == 0 else {
                posix_spawnattr_destroy(&value)
                throw SpawnFailed(path: "posix_spawnattr_setflags", errno: set)
            }
        }

        mutating func destroy() {
            posix_spawnattr_destroy(&value)
        }
    }
}
