extension Duration {
    /// The duration in whole milliseconds, rounded down (for wire formats and Redis arguments).
    public var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
