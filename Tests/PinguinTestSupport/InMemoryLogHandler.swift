import Foundation
public import Logging
public import Synchronization

/// Keeps log records in memory, so tests stay quiet and can inspect what was logged.
public struct InMemoryLogHandler: LogHandler {
    public struct Record: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: Logger.Metadata
    }

    /// Every record logged through any handler of this type, oldest first (bounded).
    public static let records = Mutex<[Record]>([])

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace

    public init() {}

    private static let printLevel = ProcessInfo.processInfo.environment["PINGUIN_TEST_LOG"].flatMap(Logger.Level.init(rawValue:))

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let record = Record(level: event.level, message: event.message.description, metadata: merged)
        // PINGUIN_TEST_LOG=warning (or another level) also prints records from that level up, for debugging.
        if let level = Self.printLevel, event.level >= level {
            FileHandle.standardError.write(Data("[\(event.level)] \(record.message) \(merged)\n".utf8))
        }
        Self.records.withLock { records in
            if records.count >= 10_000 { records.removeFirst(5_000) }
            records.append(record)
        }
    }
}
