/// Exponential backoff with full jitter, for reconnect loops.
public struct Backoff: Sendable {
    public var initial: Duration
    public var maximum: Duration
    public var multiplier: Double
    private var current: Duration

    public init(initial: Duration = .milliseconds(50), maximum: Duration = .seconds(2), multiplier: Double = 2) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.current = initial
    }

    /// The next delay: a random point in [current/2, current], then current grows up to `maximum`.
    public mutating func next() -> Duration {
        let ceiling = current
        current = min(maximum, current * multiplier)
        let half = ceiling / 2
        return half + half * Double.random(in: 0...1)
    }

    public mutating func reset() {
        current = initial
    }
}
