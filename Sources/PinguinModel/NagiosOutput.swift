/// The output of a Nagios/Monitoring Plugins `check_*` program, as Pinguin's one-shot `nagios`
/// mode reads it (proto-docs/plugin-protocol.md): the exit status gives the state, the first line
/// up to `|` is the message, the lines after it are the long text, and performance data follows a
/// `|` on the first line and after the first `|` of the long text.
///
/// Performance data follows the Monitoring Plugins grammar, leniently on input:
/// `'label'=value[UOM];[warn];[crit];[min];[max]`, labels quoted with `''` for a quote (or bare,
/// without spaces), `U` for a value that could not be determined, empty or dropped trailing
/// fields. Warn and crit ranges are kept as written. A datum that does not parse is reported in
/// ``unparsed``, never silently dropped, and never changes the state.
public struct NagiosOutput: Sendable, Hashable {
    public struct Metric: Sendable, Hashable {
        public var label: String
        /// nil for `U`.
        public var value: Double?
        public var unit: String
        public var warn: String?
        public var crit: String?
        public var min: Double?
        public var max: Double?
    }

    public var status: CheckStatus
    public var message: String
    public var longText: String
    public var metrics: [Metric]
    /// Performance data that does not follow the grammar, as written.
    public var unparsed: [String]

    /// The most output that is read; Nagios Core reads 8 KiB too.
    public static let maximumBytes = 8_192

    public init(exitStatus: Int32, output: String) {
        switch exitStatus {
        case 0: status = .up
        case 1: status = .degraded
        case 2: status = .down
        default: status = .unknown
        }
        var text = Substring(output.utf8.count > Self.maximumBytes ? String(decoding: output.utf8.prefix(Self.maximumBytes), as: UTF8.self) : output)
        if text.hasSuffix("\n") { text = text.dropLast() }
        let firstLine = text.prefix { $0 != "\n" && $0 != "\r\n" }
        let rest = text.dropFirst(firstLine.count).drop { $0 == "\n" || $0 == "\r\n" }
        var performance: [Substring] = []
        if let bar = firstLine.firstIndex(of: "|") {
            message = firstLine[..<bar].trimmingSpaces
            performance.append(firstLine[firstLine.index(after: bar)...])
        } else {
            message = firstLine.trimmingSpaces
        }
        if let bar = rest.firstIndex(of: "|") {
            longText = rest[..<bar].trimmingSpaces
            performance.append(rest[rest.index(after: bar)...])
        } else {
            longText = rest.trimmingSpaces
        }
        var metrics: [Metric] = []
        var unparsed: [String] = []
        for part in performance {
            let (parsed, bad) = Self.parsePerformanceData(part.map { $0 == "\n" || $0 == "\r\n" ? " " : $0 })
            metrics += parsed
            unparsed += bad
        }
        self.metrics = metrics
        self.unparsed = unparsed
    }

    /// Splits performance data into datums (quoted labels may hold spaces) and parses each.
    static func parsePerformanceData(_ characters: [Character]) -> ([Metric], [String]) {
        var metrics: [Metric] = []
        var unparsed: [String] = []
        var index = 0
        while index < characters.count {
            while index < characters.count, characters[index] == " " || characters[index] == "\t" { index += 1 }
            guard index < characters.count else { break }
            let start = index
            var label = ""
            var ok = true
            if characters[index] == "'" {
                index += 1
                var closed = false
                while index < characters.count {
                    if characters[index] == "'" {
                        if index + 1 < characters.count, characters[index + 1] == "'" {
                            label.append("'")
                            index += 2
                            continue
                        }
                        index += 1
                        closed = true
                        break
                    }
                    label.append(characters[index])
                    index += 1
                }
                ok = closed && !label.isEmpty && index < characters.count && characters[index] == "="
            } else {
                while index < characters.count, characters[index] != "=", characters[index] != " " {
                    label.append(characters[index])
                    index += 1
                }
                ok = !label.isEmpty && index < characters.count && characters[index] == "="
            }
            if ok { index += 1 }  // "="
            let valueStart = index
            while index < characters.count, characters[index] != " ", characters[index] != "\t" { index += 1 }
            let datum = String(characters[start..<index])
            guard ok, let metric = parseValue(label: label, String(characters[valueStart..<index])) else {
                unparsed.append(datum)
                continue
            }
            metrics.append(metric)
        }
        return (metrics, unparsed)
    }

    /// `value[UOM];[warn];[crit];[min];[max]`.
    static func parseValue(label: String, _ text: String) -> Metric? {
        let fields = text.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        guard let first = fields.first, !first.isEmpty, fields.count <= 5 else { return nil }
        let value: Double?
        let unit: String
        if first == "U" {
            value = nil
            unit = ""
        } else {
            let numeric = first.prefix { $0.isASCII && ($0.isNumber || $0 == "-" || $0 == "." || $0 == ",") }
            unit = String(first.dropFirst(numeric.count))
            guard let number = Double(numeric.replacingOccurrences(of: ",", with: ".")), number.isFinite,
                  unit.allSatisfy({ $0.isLetter || $0 == "%" })
            else { return nil }
            value = number
        }
        func field(_ index: Int) -> String? {
            guard index < fields.count, !fields[index].isEmpty else { return nil }
            return fields[index]
        }
        func number(_ index: Int) -> Double?? {
            guard let text = field(index) else { return .some(nil) }
            guard let parsed = Double(text.replacingOccurrences(of: ",", with: ".")), parsed.isFinite else { return nil }
            return .some(parsed)
        }
        guard let min = number(3), let max = number(4) else { return nil }
        return Metric(label: label, value: value, unit: unit, warn: field(1), crit: field(2), min: min, max: max)
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }
}
