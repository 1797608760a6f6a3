/// One performance datum, as in Nagios perfdata: `label=value[uom];[warn];[crit];[min];[max]`.
public struct CheckMetric: Sendable, Hashable {
    public var label: String
    /// nil when it could not be determined (Nagios' `U`).
    public var value: Double?
    public var uom: String?
    /// Threshold ranges, kept as written (`10`, `@5:10`, `~:3`).
    public var warn: String?
    public var crit: String?
    public var min: Double?
    public var max: Double?

    public init(
        label: String, value: Double?, uom: String? = nil, warn: String? = nil, crit: String? = nil,
        min: Double? = nil, max: Double? = nil
    ) {
        self.label = label
        self.value = value
        self.uom = uom
        self.warn = warn
        self.crit = crit
        self.min = min
        self.max = max
    }
}
