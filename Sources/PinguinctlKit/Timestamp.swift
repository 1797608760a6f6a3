import Foundation

/// RFC 3339 times as the server writes them, and the relative times people type (`-1h`, `now`).
public enum Timestamp {
    /// Milliseconds since 1970 for an RFC 3339 time with or without fractional seconds.
    public static func milliseconds(rfc3339 text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }

    /// RFC 3339 in UTC with milliseconds.
    public static func rfc3339(milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    /// A time for `--since`/`--until`: RFC 3339, `now`, or a duration ago (`1h`, `-1h`, `30m`).
    public static func parse(_ text: String, now: Int64) -> String? {
        if text == "now" { return rfc3339(milliseconds: now) }
        if milliseconds(rfc3339: text) != nil { return text }
        let relative = text.hasPrefix("-") ? String(text.dropFirst()) : text
        if let ago = DurationText.milliseconds(relative) { return rfc3339(milliseconds: now - ago) }
        return nil
    }

    /// Local wall-clock time for tables: `2025-06-01 14:03:07`.
    public static func short(_ text: String?) -> String {
        guard let text, let milliseconds = milliseconds(rfc3339: text) else { return text ?? "-" }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    /// How long ago `text` was, roughly (`45s`, `3h`), or `-`.
    public static func age(_ text: String?, now: Int64) -> String {
        guard let text, let milliseconds = milliseconds(rfc3339: text) else { return "-" }
        return DurationText.age(milliseconds: now - milliseconds)
    }

    public static var nowMilliseconds: Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}
