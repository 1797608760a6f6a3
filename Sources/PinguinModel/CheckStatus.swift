/// The outcome of one due slot of a monitor.
public enum CheckStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// The target answered as expected.
    case up
    /// The target did not answer as expected (a normal, trustworthy result).
    case down
    /// The target answered, but slowly or with a warning (certificate close to expiry, packet loss).
    case degraded
    /// The checker could not check: plugin crash, timeout, bad output, infrastructure trouble.
    /// Never counts as down.
    case unknown
    /// The slot came while the monitor was paused.
    case paused
    /// The slot came during a maintenance window.
    case maintenance
    /// The slot came while the previous check of the monitor was still running.
    case skipped

    /// Whether the slot counts for uptime, and which way: `true` up, `false` down, `nil` neither.
    public var countsAsUp: Bool? {
        switch self {
        case .up, .degraded: true
        case .down: false
        case .unknown, .paused, .maintenance, .skipped: nil
        }
    }
}
