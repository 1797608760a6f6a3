import Foundation
@testable import PinguinStore
import Testing

@Suite("Uptime segments")
struct UptimeSegmentsTests {
    private func date(_ seconds: Double) -> Date { Date(timeIntervalSince1970: seconds) }

    @Test("a range splits into day, hour, minute and raw pieces that tile it exactly")
    func tiles() {
        let from = date(86_400 * 10 + 3_600 * 22 + 60 * 59 + 30)  // day 10, 22:59:30
        let to = date(86_400 * 13 + 3_600 * 1 + 60 * 2 + 15)  // day 13, 01:02:15
        let segments = UptimeSegments.split(from: from, to: to)
        #expect(segments.first?.from == from)
        #expect(segments.last?.to == to)
        for (a, b) in zip(segments, segments.dropFirst()) { #expect(a.to == b.from) }
        #expect(segments.map(\.source) == [.raw, .hour, .day, .hour, .minute, .raw])
        let days = segments.first { $0.source == .day }.map { $0.to.timeIntervalSince1970 - $0.from.timeIntervalSince1970 }
        #expect(days == 2 * 86_400)
    }

    @Test("short ranges use raw results only, and empty ranges nothing")
    func short() {
        #expect(UptimeSegments.split(from: date(10), to: date(50)).map(\.source) == [.raw])
        #expect(UptimeSegments.split(from: date(50), to: date(50)).isEmpty)
        #expect(UptimeSegments.split(from: date(0), to: date(86_400)).map(\.source) == [.day])
    }
}
