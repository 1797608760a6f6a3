public import Foundation

/// RFC 3339 times on the wire: parsed with or without fractional seconds, written in UTC with
/// microseconds (PostgreSQL's precision), so a time read back can be passed back exactly.
public enum RFC3339 {
    public static func parse(_ text: String) -> Date? {
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = fractional.date(from: text).map({ preciseFraction(text, base: $0) }) ?? ISO8601DateFormatter().date(from: text) else {
            return nil
        }
        // Foundation rolls impossible dates over (February 30 becomes March 2); refuse them.
        if text.hasSuffix("Z") || text.hasSuffix("z"), string(date).prefix(19) != text.prefix(19) { return nil }
        return date
    }

    /// ISO8601DateFormatter keeps only milliseconds; put the microseconds back.
    private static func preciseFraction(_ text: String, base: Date) -> Date {
        guard let dot = text.firstIndex(of: ".") else { return base }
        let digits = text[text.index(after: dot)...].prefix { $0.isNumber }
        guard digits.count > 3, let micros = Int(digits.prefix(6).padding(toLength: 6, withPad: "0", startingAt: 0)) else { return base }
        let whole = (base.timeIntervalSince1970).rounded(.down)
        return Date(timeIntervalSince1970: whole + Double(micros) / 1_000_000)
    }

    /// `2026-11-22T03:00:00.123456Z`. Plain arithmetic (days to civil date, after Howard
    /// Hinnant's algorithm): a formatter object per call cost a third of a millisecond.
    public static func string(_ date: Date) -> String {
        let totalMicros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let (secondsPart, micros) = totalMicros.quotientAndRemainder(dividingBy: 1_000_000)
        var seconds = secondsPart
        var fraction = micros
        if fraction < 0 { fraction += 1_000_000; seconds -= 1 }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 { secondOfDay += 86_400; days -= 1 }
        let (year, month, day) = CivilDate.civil(fromDays: days)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        return "\(pad(Int64(year), 4))-\(pad(Int64(month), 2))-\(pad(Int64(day), 2))T\(pad(secondOfDay / 3_600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(fraction, 6))Z"
    }
}
