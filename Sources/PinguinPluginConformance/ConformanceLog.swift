import Logging
import Synchronization

/// What the plugin connection logs while the plugin is tested: kept for the report (the plugin's
/// stderr lines, answers to ids that were never asked) instead of printed.
final class ConformanceLog: Sendable {
    enum Event: Sendable, Hashable {
        case stderr(level: Logger.Level, text: String)
        case stderrDropped(Int)
        case strayAnswer(id: String, error: String)
    }

    private let events = Mutex<[Event]>([])

    var recorded: [Event] { events.withLock { $0 } }

    var logger: Logger {
        Logger(label: "pinguinctl.plugin-test") { _ in Handler(log: self) }
    }

    fileprivate func record(_ event: LogEvent) {
        let metadata = event.metadata ?? [:]
        let recordedEvent: Event
        if let line = metadata["plugin.stderr"] {
            recordedEvent = .stderr(level: event.level, text: "\(line)")
        } else if let dropped = metadata["plugin.stderr_dropped"] {
            recordedEvent = .stderrDropped(Int("\(dropped)") ?? 0)
        } else if let id = metadata["plugin.answer_id"] {
            recordedEvent = .strayAnswer(id: "\(id)", error: metadata["plugin.error"].map { "\($0)" } ?? "")
        } else {
            return
        }
        events.withLock { $0.append(recordedEvent) }
    }

    private struct Handler: LogHandler {
        let log: ConformanceLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            log.record(event)
        }
    }
}
