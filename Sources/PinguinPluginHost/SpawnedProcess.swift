import CPinguinProcess
public import Foundation
import Synchronization

/// A child process started with a clean slate (``Options``): its own process group, only the
/// environment it is given, no descriptors but 0, 1 and 2, optional limits and user. Its exit is
/// collected by a thread of its own that blocks in `waitpid`, so nothing polls and no zombie stays.
public final class SpawnedProcess: Sendable {
    public struct Options: Sendable {
        public var path: String
        public var arguments: [String] = []
        /// The whole environment: nothing of the supervisor's own is passed on.
        public var environment: [String: String] = [:]
        public var workingDirectory: String? = "/"
        public var newProcessGroup = true
        public var user: User?
        public var limits = Limits()

        public init(path: String, arguments: [String] = [], environment: [String: String] = [:]) {
            self.path = path
            self.arguments = arguments
            self.environment = environment
        }
    }

    /// An unprivileged account to run as (needs root to switch).
    public struct User: Sendable, Hashable {
        public var name: String
        public var uid: UInt32
        public var gid: UInt32

        /// Looks the account up in the password database.
        public init(named name: String) throws(SpawnError) {
            guard let entry = getpwnam(name) else {
                throw SpawnError(path: name, code: ENOENT, context: "no such user")
            }
            self.name = name
            uid = entry.pointee.pw_uid
            gid = entry.pointee.pw_gid
        }
    }

    /// Resource limits; nil leaves a limit as inherited.
    public struct Limits: Sendable, Hashable {
        public var addressSpaceBytes: Int64?
        public var openFiles: Int64?
        public var cpuSeconds: Int64?
        public var processes: Int64?
        public init(addressSpaceBytes: Int64? = nil, openFiles: Int64? = nil, cpuSeconds: Int64? = nil, processes: Int64? = nil) {
            self.addressSpaceBytes = addressSpaceBytes
            self.openFiles = openFiles
            self.cpuSeconds = cpuSeconds
            self.processes = processes
        }
    }

    /// How a process ended.
    public enum Exit: Sendable, Hashable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        public var description: String {
            switch self {
            case .exited(let status): "exited with status \(status)"
            case .signalled(let signal): "was killed by signal \(signal) (\(String(cString: strsignal(signal))))"
            }
        }
    }

    /// The parent's ends of the child's standard streams.
    public struct Pipes: Sendable {
        /// Write end of the child's stdin.
        public var input: Int32
        /// Read end of its stdout.
        public var output: Int32
        /// Read end of its stderr.
        public var errors: Int32
    }

    public let pid: Int32
    public let path: String
    private let newProcessGroup: Bool
    private let state = Mutex<State>(.running([:]))
    private let nextWaiter = Atomic<Int>(0)

    private enum State {
        case running([Int: CheckedContinuation<Exit?, Never>])
        case exited(Exit)
    }

    private init(pid: pid_t, path: String, newProcessGroup: Bool) {
        self.pid = pid
        self.path = path
        self.newProcessGroup = newProcessGroup
    }

    /// Starts the program with three fresh pipes and returns the parent's ends.
    public static func spawn(_ options: Options) throws(SpawnError) -> (SpawnedProcess, Pipes) {
        var stdinPipe: [Int32] = [-1, -1], stdoutPipe: [Int32] = [-1, -1], stderrPipe: [Int32] = [-1, -1]
        var opened: [Int32] = []
        func closeAll() { opened.forEach { close($0) } }
        for index in 0..<3 {
            var fds: [Int32] = [-1, -1]
            let error = pinguin_pipe_cloexec(&fds)
            guard error == 0 else {
                closeAll()
                throw SpawnError(path: options.path, code: error, context: "pipe")
            }
            opened += fds
            switch index {
            case 0: stdinPipe = fds
            case 1: stdoutPipe = fds
            default: stderrPipe = fds
            }
        }
        let argv = ([options.path] + options.arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp = options.environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let error: Int32 = options.path.withCString { path in
            (options.workingDirectory ?? "").withCString { directory in
                argv.withUnsafeBufferPointer { argvBuffer in
                    envp.withUnsafeBufferPointer { envpBuffer in
                        var request = pinguin_spawn_request()
                        request.path = path
                        request.argv = UnsafePointer(argvBuffer.baseAddress!)
                        request.envp = UnsafePointer(envpBuffer.baseAddress!)
                        request.stdin_fd = stdinPipe[0]
                        request.stdout_fd = stdoutPipe[1]
                        request.stderr_fd = stderrPipe[1]
                        request.working_directory = options.workingDirectory == nil ? nil : directory
                        request.new_process_group = options.newProcessGroup ? 1 : 0
                        if let user = options.user {
                            request.change_user = 1
                            request.uid = user.uid
                            request.gid = user.gid
                        }
                        request.limit_address_space_bytes = options.limits.addressSpaceBytes ?? -1
                        request.limit_open_files = options.limits.openFiles ?? -1
                        request.limit_cpu_seconds = options.limits.cpuSeconds ?? -1
                        request.limit_processes = options.limits.processes ?? -1
                        // A program still open for writing cannot be executed (ETXTBSY): it is being
                        // installed, or a child forked elsewhere in this process inherited a descriptor
                        // to it and has not exec'd yet. Both pass within milliseconds.
                        var attempt: UInt32 = 0
                        while true {
                            let result = pinguin_spawn(&request, &pid)
                            guard result == ETXTBSY, attempt < 10 else { return result }
                            attempt += 1
                            usleep(attempt * 10_000)
                        }
                    }
                }
            }
        }
        close(stdinPipe[0])
        close(stdoutPipe[1])
        close(stderrPipe[1])
        guard error == 0 else {
            close(stdinPipe[1])
            close(stdoutPipe[0])
            close(stderrPipe[0])
            throw SpawnError(path: options.path, code: error, context: "start")
        }
        let process = SpawnedProcess(pid: pid, path: options.path, newProcessGroup: options.newProcessGroup)
        process.startReaper()
        return (process, Pipes(input: stdinPipe[1], output: stdoutPipe[0], errors: stderrPipe[0]))
    }

    private func startReaper() {
        let pid = self.pid
        let reaper = Thread { [self] in
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0 {
                if errno != EINTR {
                    raw = 0x7F00  // lost (ECHILD): report as exit status 127
                    break
                }
            }
            let signal = raw & 0x7F
            let exit: Exit = signal == 0 ? .exited((raw >> 8) & 0xFF) : .signalled(signal)
            let waiters = state.withLock { state -> [CheckedContinuation<Exit?, Never>] in
                guard case .running(let waiters) = state else { return [] }
                state = .exited(exit)
                return Array(waiters.values)
            }
            waiters.forEach { $0.resume(returning: exit) }
        }
        reaper.name = "pinguin-reaper-\(pid)"
        reaper.stackSize = 64 * 1024
        reaper.start()
    }

    /// The exit, once it happened.
    public var exit: Exit? {
        state.withLock { state in
            if case .exited(let exit) = state { return exit }
            return nil
        }
    }

    /// Waits for the process to end.
    public func waitForExit() async -> Exit {
        // Without a timeout the waiter always resumes with the exit.
        await waitForExit(timeout: nil)!
    }

    /// Waits at most `timeout`; nil when the process still runs then.
    public func waitForExit(timeout: Duration?) async -> Exit? {
        let token = nextWaiter.add(1, ordering: .relaxed).newValue
        return await withCheckedContinuation { (continuation: CheckedContinuation<Exit?, Never>) in
            let exit = state.withLock { state -> Exit? in
                switch state {
                case .exited(let exit): return exit
                case .running(var waiters):
                    waiters[token] = continuation
                    state = .running(waiters)
                    return nil
                }
            }
            if let exit {
                continuation.resume(returning: exit)
                return
            }
            guard let timeout else { return }
            Task {
                try? await Task.sleep(for: timeout)
                let waiter = self.state.withLock { state -> CheckedContinuation<Exit?, Never>? in
                    guard case .running(var waiters) = state, let waiter = waiters.removeValue(forKey: token) else { return nil }
                    state = .running(waiters)
                    return waiter
                }
                waiter?.resume(returning: nil)
            }
        }
    }

    /// Sends `signal` to the process group (or the process alone, when it has no group of its
    /// own). Does nothing once the process has been reaped, so a reused pid is never hit.
    public func kill(_ signal: Int32) {
        state.withLock { state in
            guard case .running = state else { return }
            if newProcessGroup {
                _ = Foundation.kill(-pid, signal)
            } else {
                _ = Foundation.kill(pid, signal)
            }
        }
    }

    /// Kills the whole group at once with SIGKILL; also gets the group's leftover children once
    /// the leader is gone (the group id stays valid while any member lives).
    public func killGroup() {
        if newProcessGroup {
            _ = Foundation.kill(-pid, SIGKILL)
        } else {
            kill(SIGKILL)
        }
    }
}

/// A process could not be started.
public struct SpawnError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var code: Int32
    public var context: String

    public var description: String { "cannot \(context) \(path): \(String(cString: strerror(code)))" }
}
