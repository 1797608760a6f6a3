import Foundation
import PinguinControlPlane
import Testing

@Suite("RFC 3339 times")
struct RFC3339Tests {
    @Test("writing matches Foundation's formatter to the microsecond, before 1970 and in leap years")
    func writing() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        for seconds in [0.0, 1_795_000_000.123456, 951_782_400.5, -86_400.25, 4_102_444_799.999999, 1_709_208_000] {
            let date = Date(timeIntervalSince1970: seconds)
            let text = RFC3339.string(date)
            let whole = (seconds * 1_000_000).rounded() / 1_000_000
            let expectedPrefix = formatter.string(from: Date(timeIntervalSince1970: whole.rounded(.down))).dropLast()
            #expect(text.hasPrefix(expectedPrefix), "\(seconds): \(text)")
            #expect(text.hasSuffix("Z") && text.count == 27, "\(text)")
            // And it reads back to the same microsecond.
            let back = RFC3339.parse(text)
            #expect(back.map { abs($0.timeIntervalSince1970 - whole) < 0.000_001 } == true, "\(text)")
        }
        #expect(RFC3339.string(Date(timeIntervalSince1970: 1_795_000_000.123456)) == "2026-11-18T11:06:40.123456Z")
        #expect(RFC3339.parse("2026-02-30T00:00:00Z") == nil)
        #expect(RFC3339.parse("yesterday") == nil)
    }
}
