/// What a check found. A target that is down is a normal result; `unknown` means the checker
/// could not tell (prefer throwing, which says why, to returning `unknown`).
public enum CheckStatus: String, Sendable, Hashable, CaseIterable {
    case up
    case down
    case degraded
    case unknown
}
