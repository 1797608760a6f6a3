import Foundation
@testable import PinguinStore
import Testing

@Suite("Cron expressions")
struct CronExpressionTests {
    private static let utc = TimeZone(identifier: "UTC")!
    private static let berlin = TimeZone(identifier: "Europe/Berlin")!

    private func date(_ text: String) -> Date {
        ISO8601DateFormatter().date(from: text)!
    }

    private func next(_ cron: String, after: String, in zone: TimeZone = utc) throws -> String? {
        try CronExpression(parsing: cron).next(after: date(after), in: zone).map { ISO8601DateFormatter().string(from: $0) }
    }

    @Test("fields take numbers, ranges, lists, steps, names and macros", arguments: [
        ("*/15 * * * *", "2026-05-04T10:07:30Z", "2026-05-04T10:15:00Z"),
        ("*/15 * * * *", "2026-05-04T10:15:00Z", "2026-05-04T10:30:00Z"),  // strictly after
        ("0 9-17 * * MON-FRI", "2026-05-08T17:30:00Z", "2026-05-11T09:00:00Z"),  // Friday evening → Monday
        ("0 9-17/4 * * *", "2026-05-04T09:00:00Z", "2026-05-04T13:00:00Z"),
        ("5/20 * * * *", "2026-05-04T10:46:00Z", "2026-05-04T11:05:00Z"),
        ("30 2 1,15 jan,Jul *", "2026-01-15T03:00:00Z", "2026-07-01T02:30:00Z"),
        ("0 0 * * 7", "2026-05-04T00:00:00Z", "2026-05-10T00:00:00Z"),  // 7 is Sunday
        ("0 0 * * sun", "2026-05-04T00:00:00Z", "2026-05-10T00:00:00Z"),
        ("0 0 1 1 *", "2026-12-31T23:59:00Z", "2027-01-01T00:00:00Z"),
        ("0 0 29 2 *", "2025-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
        ("@daily", "2026-05-04T10:00:00Z", "2026-05-05T00:00:00Z"),
        ("@hourly", "2026-05-04T10:00:00Z", "2026-05-04T11:00:00Z"),
        ("@weekly", "2026-05-04T10:00:00Z", "2026-05-10T00:00:00Z"),
        ("@monthly", "2026-05-04T10:00:00Z", "2026-06-01T00:00:00Z"),
        ("@YEARLY", "2026-05-04T10:00:00Z", "2027-01-01T00:00:00Z"),
        // Both day fields restricted: either matches (the 13th, or a Friday).
        ("0 0 13 * FRI", "2026-05-09T00:00:00Z", "2026-05-13T00:00:00Z"),
        ("0 0 13 * FRI", "2026-05-13T00:00:00Z", "2026-05-15T00:00:00Z"),
        // Day-of-month starting with * does not widen: only Fridays, every other day-of-month.
        ("0 0 */2 * FRI", "2026-05-01T00:00:00Z", "2026-05-15T00:00:00Z"),
    ])
    func nextOccurrence(_ cron: String, _ after: String, _ expected: String) throws {
        #expect(try next(cron, after: after) == expected)
    }

    @Test("bad expressions are refused with a message naming the field", arguments: [
        ("* * * *", "5 fields"),
        ("* * * * * *", "5 fields"),
        ("60 * * * *", "minute field: 60 is out of range 0-59"),
        ("* 24 * * *", "hour field"),
        ("* * 0 * *", "day-of-month field"),
        ("* * 32 * *", "day-of-month field"),
        ("* * * 13 *", "month field"),
        ("* * * * 8", "day-of-week field"),
        ("*/0 * * * *", "step must be"),
        ("*/61 * * * *", "step must be"),
        ("5-1 * * * *", "runs backwards"),
        ("1,,2 * * * *", "empty list item"),
        ("1/2/3 * * * *", "more than one step"),
        ("FOO * * * *", "is not a number"),
        ("* * * FOO *", "is not a number or name"),
        ("* * * * MON-", "is not a number"),
        ("@reboot", "unknown macro"),
        ("", "5 fields"),
    ])
    func invalid(_ cron: String, _ message: String) {
        #expect {
            try CronExpression(parsing: cron)
        } throws: { error in
            (error as? CronExpression.ParseError)?.message.contains(message) == true
        }
    }

    @Test("a schedule that matches no date has no next occurrence")
    func never() throws {
        #expect(try next("0 0 30 2 *", after: "2026-01-01T00:00:00Z") == nil)
        #expect(try next("0 0 31 4,6,9,11 *", after: "2026-01-01T00:00:00Z") == nil)
    }

    @Test("spring forward in Europe/Berlin: a skipped time happens an hour later, and the offset changes")
    func springForward() throws {
        // 2026-03-29: 02:00 CET becomes 03:00 CEST.
        #expect(try next("30 2 * * *", after: "2026-03-28T12:00:00Z", in: Self.berlin) == "2026-03-29T01:30:00Z")  // 03:30 CEST
        #expect(try next("30 2 * * *", after: "2026-03-29T01:30:00Z", in: Self.berlin) == "2026-03-30T00:30:00Z")  // 02:30 CEST
        #expect(try next("0 12 * * *", after: "2026-03-28T12:00:00Z", in: Self.berlin) == "2026-03-29T10:00:00Z")  // noon CEST
        #expect(try next("0 3 * * *", after: "2026-03-28T12:00:00Z", in: Self.berlin) == "2026-03-29T01:00:00Z")  // 03:00 CEST
        #expect(try next("0 1 * * *", after: "2026-03-28T12:00:00Z", in: Self.berlin) == "2026-03-29T00:00:00Z")  // 01:00 CET
    }

    @Test("fall back in Europe/Berlin: a repeated time happens only the first time")
    func fallBack() throws {
        // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:00–02:59 happens twice.
        #expect(try next("30 2 * * *", after: "2026-10-24T12:00:00Z", in: Self.berlin) == "2026-10-25T00:30:00Z")  // 02:30 CEST
        #expect(try next("30 2 * * *", after: "2026-10-25T00:30:00Z", in: Self.berlin) == "2026-10-26T01:30:00Z")  // 02:30 CET, next day
        #expect(try next("0 12 * * *", after: "2026-10-24T12:00:00Z", in: Self.berlin) == "2026-10-25T11:00:00Z")  // noon CET
        // During the second pass of 02:xx, the next half hour on the clock is 03:00 CET.
        #expect(try next("*/30 * * * *", after: "2026-10-25T01:10:00Z", in: Self.berlin) == "2026-10-25T02:00:00Z")
    }

    @Test("a window covers from its start for its duration, end excluded")
    func covering() throws {
        let sundays = try CronExpression(parsing: "0 2 * * SUN")
        let twoHours: TimeInterval = 7_200
        #expect(sundays.occurrence(covering: date("2026-05-10T02:00:00Z"), duration: twoHours, in: Self.utc) == date("2026-05-10T02:00:00Z"))
        #expect(sundays.occurrence(covering: date("2026-05-10T03:59:59Z"), duration: twoHours, in: Self.utc) == date("2026-05-10T02:00:00Z"))
        #expect(sundays.occurrence(covering: date("2026-05-10T04:00:00Z"), duration: twoHours, in: Self.utc) == nil)
        #expect(sundays.occurrence(covering: date("2026-05-10T01:59:59Z"), duration: twoHours, in: Self.utc) == nil)
        #expect(sundays.occurrence(covering: date("2026-05-11T02:30:00Z"), duration: twoHours, in: Self.utc) == nil)
    }

    @Test("civil dates convert to days since 1970 and back")
    func civil() {
        #expect(CivilTime.days(year: 1970, month: 1, day: 1) == 0)
        #expect(CivilTime.days(year: 2000, month: 3, day: 1) == 11_017)
        #expect(CivilTime.days(year: 1969, month: 12, day: 31) == -1)
        for days in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            let (year, month, day) = CivilTime.civil(fromDays: days)
            #expect(CivilTime.days(year: year, month: month, day: day) == days)
        }
        #expect(CivilTime(year: 1970, month: 1, day: 1, hour: 0, minute: 0).weekday == 4)  // Thursday
        #expect(CivilTime(year: 1969, month: 12, day: 28, hour: 0, minute: 0).weekday == 0)  // Sunday
        #expect(CivilTime.daysInMonth(year: 1900, month: 2) == 28)
        #expect(CivilTime.daysInMonth(year: 2000, month: 2) == 29)
    }
}
