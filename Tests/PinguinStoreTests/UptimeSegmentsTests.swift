import Foundation
@testable import PinguinStore
import Testing

@Suite("Uptime segments")
struct UptimeSegmentsTests {
    private func date(_ seconds: Double) -> Date { Date(timeIntervalSince1970: seconds) }
    private let allBuilt: [UptimeSegments.Source: Date] = [.hour: .distantFuture, .day: .distantFuture, .month: .distantFuture]

    @Test("a range splits into day, hour, minute and raw pieces that tile it exactly")
    func tiles() {
        let from = date(86_400 * 10 + 3_600 * 22 + 60 * 59 + 30)  // day 10, 22:59:30
        let to = date(86_400 * 13 + 3_600 * 1 + 60 * 2 + 15)  // day 13, 01:02:15
        let segments = UptimeSegments.split(from: from, to: to, builtThrough: allBuilt)
        #expect(segments.first?.from == from)
        #expect(segments.last?.to == to)
        for (a, b) in zip(segments, segments.dropFirst()) { #expect(a.to == b.from) }
        #expect(segments.map(\.source) == [.raw, .hour, .day, .hour, .minute, .raw])
        let days = segments.first { $0.source == .day }.map { $0.to.timeIntervalSince1970 - $0.from.timeIntervalSince1970 }
        #expect(days.map { $0.rounded() } == 172_800)
    }

    @Test("long ranges are widened to whole hours and use built months")
    func long() {
        let utc = ISO8601DateFormatter()
        let from = utc.date(from: "2025-11-22T02:07:30Z")!
        let to = utc.date(from: "2026-11-22T02:07:30Z")!
        let segments = UptimeSegments.split(from: from, to: to, builtThrough: [
            .month: utc.date(from: "2026-11-01T00:00:00Z")!, .day: .distantFuture, .hour: .distantFuture,
        ])
        #expect(segments.first?.from == utc.date(from: "2025-11-22T02:00:00Z"))
        #expect(segments.last?.to == utc.date(from: "2026-11-22T03:00:00Z"))
        #expect(!segments.contains { $0.source == .minute || $0.source == .raw })
        let months = segments.filter { $0.source == .month }
        #expect(months.count == 1)
        #expect(months.first?.from == utc.date(from: "2025-12-01T00:00:00Z"))
        #expect(months.first?.to == utc.date(from: "2026-11-01T00:00:00Z"))
        // Without built months, days do the work.
        let noMonths = UptimeSegments.split(from: from, to: to, builtThrough: [.day: .distantFuture, .hour: .distantFuture])
        #expect(!noMonths.contains { $0.source == .month })
        for (a, b) in zip(segments, segments.dropFirst()) { #expect(a.to == b.from) }
    }

    @Test("short ranges use raw results only, and empty ranges nothing")
    func short() {
        #expect(UptimeSegments.split(from: date(10), to: date(50)).map(\.source) == [.raw])
        #expect(UptimeSegments.split(from: date(50), to: date(50)).isEmpty)
        #expect(UptimeSegments.split(from: date(0), to: date(86_400), builtThrough: allBuilt).map(\.source) == [.day])
    }

    @Test("levels are used only as far as they are built; minutes fill the rest")
    func watermarks() {
        let segments = UptimeSegments.split(from: date(0), to: date(2 * 86_400), builtThrough: [.day: date(86_400), .hour: date(86_400 + 7_200)])
        #expect(segments.map(\.source) == [.day, .hour, .minute])
        #expect(segments.map(\.to) == [date(86_400), date(86_400 + 7_200), date(2 * 86_400)])
        #expect(UptimeSegments.split(from: date(0), to: date(86_400)).map(\.source) == [.minute])
    }
}
