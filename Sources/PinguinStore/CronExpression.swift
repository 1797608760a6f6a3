public import Foundation
import PinguinModel

/// A five-field cron schedule: `minute hour day-of-month month day-of-week`.
///
/// Fields take `*`, numbers, ranges (`1-5`), lists (`1,15`), steps (`*/10`, `0-30/5`, and `5/15`,
/// which is `5-59/15`), three-letter names for months (`JAN`) and days (`MON`), and 7 for Sunday.
/// The macros `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight` and `@hourly`
/// stand for their usual expansions. As in Vixie cron, when both day fields are restricted (neither
/// starts with `*`) a day matches if either does.
///
/// Times are wall-clock times in a time zone. Across a daylight-saving change, a time that does not
/// exist (02:30 on the night clocks go forward) happens that much later (03:30), and a time that
/// occurs twice (02:30 on the night clocks go back) happens only the first time.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// Why a schedule was refused; the message names the field and never exceeds a line.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// The expression as given.
    public let source: String
    // Bit n set: value n matches.
    private let minutes: UInt64
    private let hours: UInt64
    private let daysOfMonth: UInt64
    private let months: UInt64
    private let daysOfWeek: UInt64
    private let daysOfMonthRestricted: Bool
    private let daysOfWeekRestricted: Bool

    /// Searches give up after this many years without a match (February 29 recurs within 8).
    static let searchYears = 10

    private static let macros = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    private static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    public init(parsing text: String) throws(ParseError) {
        source = text
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let expanded = Self.macros[trimmed.lowercased()] ?? trimmed
        if expanded.hasPrefix("@") { throw ParseError(message: "unknown macro \(trimmed.prefix(20))") }
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw ParseError(message: "a cron expression has 5 fields (minute hour day-of-month month day-of-week), not \(fields.count)")
        }
        minutes = try Self.field(fields[0], name: "minute", range: 0...59)
        hours = try Self.field(fields[1], name: "hour", range: 0...23)
        daysOfMonth = try Self.field(fields[2], name: "day-of-month", range: 1...31)
        months = try Self.field(fields[3], name: "month", range: 1...12, names: Self.monthNames, firstName: 1)
        let weekdays = try Self.field(fields[4], name: "day-of-week", range: 0...7, names: Self.dayNames, firstName: 0)
        daysOfWeek = (weekdays & 0x7F) | (weekdays >> 7 & 1)  // 7 is Sunday too
        daysOfMonthRestricted = !fields[2].hasPrefix("*")
        daysOfWeekRestricted = !fields[4].hasPrefix("*")
    }

    public var description: String { source }

    /// Parses one field into a bit set.
    private static func field(
        _ text: String, name: String, range: ClosedRange<Int>, names: [String] = [], firstName: Int = 0
    ) throws(ParseError) -> UInt64 {
        func value(_ token: Substring) throws(ParseError) -> Int {
            if let number = Int(token), token.allSatisfy(\.isASCII) {
                guard range.contains(number) else {
                    throw ParseError(message: "\(name) field: \(number) is out of range \(range.lowerBound)-\(range.upperBound)")
                }
                return number
            }
            if let index = names.firstIndex(of: token.uppercased()) { return index + firstName }
            throw ParseError(message: "\(name) field: \"\(token.prefix(20))\" is not a number\(names.isEmpty ? "" : " or name")")
        }
        var bits: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else { throw ParseError(message: "\(name) field: empty list item") }
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw ParseError(message: "\(name) field: more than one step in \"\(item.prefix(20))\"") }
            var step = 1
            if parts.count == 2 {
                guard let number = Int(parts[1]), parts[1].allSatisfy(\.isASCII), number >= 1, number <= range.upperBound else {
                    throw ParseError(message: "\(name) field: step must be from 1 to \(range.upperBound)")
                }
                step = number
            }
            let base = parts[0]
            let low: Int
            let high: Int
            if base == "*" {
                (low, high) = (range.lowerBound, range.upperBound)
            } else if let dash = base.firstIndex(of: "-") {
                low = try value(base[..<dash])
                high = try value(base[base.index(after: dash)...])
                guard low <= high else { throw ParseError(message: "\(name) field: range \(base) runs backwards") }
            } else {
                low = try value(base)
                // `5/15` means from 5 to the end in steps of 15.
                high = parts.count == 2 ? range.upperBound : low
            }
            for number in stride(from: low, through: high, by: step) { bits |= 1 << UInt64(number) }
        }
        return bits
    }

    private static func has(_ bits: UInt64, _ value: Int) -> Bool { bits >> UInt64(value) & 1 == 1 }

    private func dayMatches(_ time: CivilTime) -> Bool {
        let dayOfMonth = Self.has(daysOfMonth, time.day)
        let dayOfWeek = Self.has(daysOfWeek, time.weekday)
        // A field starting with `*` (even `*/2`) makes the two combine with AND, as in Vixie cron.
        return daysOfMonthRestricted && daysOfWeekRestricted ? dayOfMonth || dayOfWeek : dayOfMonth && dayOfWeek
    }

    /// The first wall-clock minute at or after `start` that matches, within ``searchYears``.
    private func nextMatch(from start: CivilTime) -> CivilTime? {
        var time = start
        let lastYear = start.year + Self.searchYears
        while time.year <= lastYear {
            if !Self.has(months, time.month) {
                time.advanceMonth()
            } else if !dayMatches(time) {
                time.advanceDay()
            } else if !Self.has(hours, time.hour) {
                time.advanceHour()
            } else if !Self.has(minutes, time.minute) {
                time.advanceMinute()
            } else {
                return time
            }
        }
        return nil
    }

    /// The first start strictly after `date`, reading the schedule in `timeZone`; nil if the
    /// expression matches no date in the next ten years (`0 0 30 2 *`).
    public func next(after date: Date, in timeZone: TimeZone) -> Date? {
        var start = CivilTime(date, in: timeZone)
        start.advanceMinute()
        // Each pass skips one match that lies before `date`: only the second occurrence of a
        // repeated hour does that, so a few hundred passes are plenty.
        for _ in 0..<1_000 {
            guard let match = nextMatch(from: start) else { return nil }
            let instant = match.instant(in: timeZone)
            if instant > date { return instant }
            start = match
            start.advanceMinute()
        }
        return nil
    }

    /// The last start at or before `date` whose window of `duration` seconds still covers `date`, if any.
    public func occurrence(covering date: Date, duration: TimeInterval, in timeZone: TimeZone) -> Date? {
        guard duration > 0, let start = next(after: date.addingTimeInterval(-duration), in: timeZone), start <= date else { return nil }
        return start
    }
}

/// A wall-clock minute, with calendar arithmetic that needs no time zone.
struct CivilTime: Hashable {
    var year: Int
    var month: Int
    var day: Int
    var hour: Int
    var minute: Int

    init(year: Int, month: Int, day: Int, hour: Int, minute: Int) {
        (self.year, self.month, self.day, self.hour, self.minute) = (year, month, day, hour, minute)
    }

    /// The wall-clock minute `date` falls in, in `timeZone`.
    init(_ date: Date, in timeZone: TimeZone) {
        let local = Int64(date.timeIntervalSince1970.rounded(.down)) + Int64(timeZone.secondsFromGMT(for: date))
        let (days, seconds) = Self.floorDivide(local, 86_400)
        (year, month, day) = Self.civil(fromDays: days)
        hour = Int(seconds / 3_600)
        minute = Int(seconds / 60 % 60)
    }

    /// 0 is Sunday.
    var weekday: Int {
        let (_, remainder) = Self.floorDivide(Self.days(year: year, month: month, day: day) + 4, 7)  // 1970-01-01 was a Thursday
        return Int(remainder)
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    mutating func advanceMonth() {
        (day, hour, minute) = (1, 0, 0)
        month += 1
        if month > 12 { (month, year) = (1, year + 1) }
    }

    mutating func advanceDay() {
        (hour, minute) = (0, 0)
        day += 1
        if day > Self.daysInMonth(year: year, month: month) { advanceMonth() }
    }

    mutating func advanceHour() {
        minute = 0
        hour += 1
        if hour > 23 { advanceDay() }
    }

    mutating func advanceMinute() {
        minute += 1
        if minute > 59 { advanceHour() }
    }

    /// The earliest instant showing this wall-clock time in `timeZone`; a time skipped by a
    /// daylight-saving change is read with the offset from before it, which lands after the jump.
    func instant(in timeZone: TimeZone) -> Date {
        let local = Self.days(year: year, month: month, day: day) * 86_400 + Int64(hour * 3_600 + minute * 60)
        func offset(_ seconds: Int64) -> Int64 { Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds)))) }
        let before = offset(local - 86_400)
        let after = offset(local + 86_400)
        let valid = [before, after].map { local - $0 }.filter { offset($0) == local - $0 }
        return Date(timeIntervalSince1970: TimeInterval(valid.min() ?? local - before))
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }

    static func days(year: Int, month: Int, day: Int) -> Int64 {
        CivilDate.days(year: year, month: month, day: day)
    }

    static func civil(fromDays days: Int64) -> (Int, Int, Int) {
        CivilDate.civil(fromDays: days)
    }
}
