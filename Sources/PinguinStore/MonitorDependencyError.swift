/// Why a monitor's dependencies were refused; nothing was written.
public struct MonitorDependencyError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }

        /// Some of the ids name no monitor (``MonitorDependencyError/monitorIDs``).
        public static let unknownMonitors = Code("unknownMonitors")
        /// The monitor is among its own dependencies.
        public static let dependsOnItself = Code("dependsOnItself")
        /// The dependencies lead back to the monitor (``MonitorDependencyError/monitorIDs`` is the path).
        public static let cycle = Code("cycle")
        /// More than ``MonitorStore/maximumDependencies`` distinct monitors.
        public static let tooMany = Code("tooMany")

        public var description: String { name }
    }

    public var code: Code
    /// The unknown ids, sorted; for a cycle, the path from the monitor back to itself (`[3, 5, 3]`).
    public var monitorIDs: [Int64]

    public init(code: Code, monitorIDs: [Int64] = []) {
        self.code = code
        self.monitorIDs = monitorIDs
    }

    public var description: String {
        switch code {
        case .unknownMonitors: "\(code): no monitors \(monitorIDs.map(String.init).joined(separator: ", "))"
        case .cycle: "\(code): \(monitorIDs.map(String.init).joined(separator: " → "))"
        case .tooMany: "\(code): at most \(MonitorStore.maximumDependencies)"
        default: "\(code)"
        }
    }
}
