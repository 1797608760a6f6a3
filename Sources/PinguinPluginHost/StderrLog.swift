import Logging
import Synchronization

/// A plugin's stderr: each line logged under the plugin's name (a leading `E!`, `W!`, `I!` or
/// `D!` sets the level), cut at ``maximumLineBytes``, at most ``linesPerSecond`` a second (the
/// rest counted and reported), and the last ``tailLines`` kept for the message of a crash.
final class StderrLog: Sendable {
    static let maximumLineBytes = 8192
    static let linesPerSecond = 200
    static let tailLines = 20

    private struct State {
        var tail: [String] = []
        var windowStart = ContinuousClock.now
        var linesInWindow = 0
        var dropped = 0
    }

    private let state = Mutex(State())
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    var tail: [String] { state.withLock { $0.tail } }

    func line(_ bytes: [UInt8]) {
        var text = String(decoding: bytes.prefix(Self.maximumLineBytes), as: UTF8.self)
        var level = Logger.Level.info
        for (prefix, prefixLevel) in [("E!", Logger.Level.error), ("W!", .warning), ("I!", .info), ("D!", .debug)] where text.hasPrefix(prefix) {
            level = prefixLevel
            text = String(text.dropFirst(2)).trimmingLeadingSpaces()
        }
        let (log, droppedBefore) = state.withLock { state -> (Bool, Int) in
            state.tail.append(text)
            if state.tail.count > Self.tailLines { state.tail.removeFirst(state.tail.count - Self.tailLines) }
            let now = ContinuousClock.now
            var reportDropped = 0
            if now - state.windowStart >= .seconds(1) {
                reportDropped = state.dropped
                state.dropped = 0
                state.windowStart = now
                state.linesInWindow = 0
            }
            state.linesInWindow += 1
            if state.linesInWindow > Self.linesPerSecond {
                state.dropped += 1
                return (false, reportDropped)
            }
            return (true, reportDropped)
        }
        if droppedBefore > 0 {
            logger.warning("plugin stderr lines dropped over the rate limit", metadata: ["plugin.stderr_dropped": "\(droppedBefore)"])
        }
        if log {
            logger.log(level: level, "plugin stderr", metadata: ["plugin.stderr": "\(text)"])
        }
    }

    func truncated() {
        line(Array("(a line over \(Self.maximumLineBytes) bytes was cut)".utf8))
    }
}

extension String {
    fileprivate func trimmingLeadingSpaces() -> String {
        String(drop { $0 == " " })
    }
}
