/// Durations as people write them (`500ms`, `30s`, `1m`, `1h30m`, `1d`) and back.
public enum DurationText {
    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000),
    ]

    /// Milliseconds in `text`: one or more number-unit pairs (`1m30s`). A bare number other than 0
    /// is refused: `30` could mean seconds or milliseconds.
    public static func milliseconds(_ text: String) -> Int64? {
        let trimmed = text.trimmingWhitespace()
        if trimmed == "0" { return 0 }
        var total: Int64 = 0
        var rest = Substring(trimmed)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
            guard !digits.isEmpty, let value = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let letters = rest.prefix(while: { $0.isASCII && $0.isLetter })
            guard let unit = units.first(where: { $0.suffix == String(letters) }) else { return nil }
            rest = rest.dropFirst(letters.count)
            let (product, overflow) = value.multipliedReportingOverflow(by: unit.milliseconds)
            guard !overflow else { return nil }
            let (sum, overflow2) = total.addingReportingOverflow(product)
            guard !overflow2 else { return nil }
            total = sum
        }
        return total
    }

    /// The shortest exact text for `milliseconds` in a single unit: `1h`, `90s`, `1500ms`.
    public static func format(milliseconds: Int64) -> String {
        for unit in units.reversed() where unit.milliseconds > 1 && milliseconds != 0 && milliseconds % unit.milliseconds == 0 {
            return "\(milliseconds / unit.milliseconds)\(unit.suffix)"
        }
        return "\(milliseconds)ms"
    }

    /// A rough age for tables: `45s`, `12m`, `3h`, `5d`.
    public static func age(milliseconds: Int64) -> String {
        let seconds = max(0, milliseconds / 1000)
        if seconds < 120 { return "\(seconds)s" }
        if seconds < 7200 { return "\(seconds / 60)m" }
        if seconds < 172_800 { return "\(seconds / 3600)h" }
        return "\(seconds / 86400)d"
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
