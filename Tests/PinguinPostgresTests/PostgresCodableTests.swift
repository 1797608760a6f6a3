import Foundation
@testable import PinguinPostgres
import Testing

@Suite("Binary codecs")
struct PostgresCodableTests {
    private func roundTrip<T: PostgresEncodable & PostgresDecodable & Equatable>(_ value: T) throws -> T {
        try PostgresValue(value).decode(T.self)
    }

    @Test("scalars survive encode and decode")
    func scalars() throws {
        #expect(try roundTrip(true) == true)
        #expect(try roundTrip(Int16.min) == Int16.min)
        #expect(try roundTrip(Int32.max) == Int32.max)
        #expect(try roundTrip(Int64.min) == Int64.min)
        #expect(try roundTrip(-42) == -42)
        #expect(try roundTrip(3.141592653589793) == 3.141592653589793)
        #expect(try roundTrip(Float(1.5)) == 1.5)
        #expect(try roundTrip("grüße, 🐧") == "grüße, 🐧")
        #expect(try roundTrip(Data([0, 1, 0xFF, 0x0A])) == Data([0, 1, 0xFF, 0x0A]))
        let uuid = UUID()
        #expect(try roundTrip(uuid) == uuid)
        #expect(try roundTrip(PostgresJSONB(text: #"{"a":[1,2]}"#)) == PostgresJSONB(text: #"{"a":[1,2]}"#))
    }

    @Test("timestamps keep microseconds, before and after 2000")
    func timestamps() throws {
        for seconds in [0.0, 946_684_799.999_999, 1_795_000_000.123_456, -1_000_000.5] {
            let date = Date(timeIntervalSince1970: seconds)
            let decoded = try roundTrip(date)
            #expect(abs(decoded.timeIntervalSince1970 - seconds) < 0.000_001)
        }
    }

    @Test("arrays, empty ones included")
    func arrays() throws {
        #expect(try roundTrip([1, 2, 3]) == [1, 2, 3])
        #expect(try roundTrip([String]()) == [])
        #expect(try roundTrip(["a", "", "ü"]) == ["a", "", "ü"])
        #expect(try roundTrip([true, false]) == [true, false])
    }

    @Test("NULL decodes only into an Optional")
    func nulls() throws {
        let null = PostgresValue(type: .int8, bytes: nil)
        #expect(try null.decode(Int?.self) == nil)
        #expect(throws: PostgresError.self) { try null.decode(Int.self) }
        #expect(try PostgresValue(Int?.none).bytes == nil)
    }

    @Test("type mismatches and overflow are errors, never silent conversions")
    func mismatches() throws {
        #expect(throws: PostgresError.self) { try PostgresValue("12").decode(Int.self) }
        #expect(throws: PostgresError.self) { try PostgresValue(Int64.max).decode(Int32.self) }
        #expect(throws: PostgresError.self) { try PostgresValue(1.5).decode(Bool.self) }
        #expect(throws: PostgresError.self) {
            try PostgresValue(type: .int8, bytes: [0, 1]).decode(Int.self)
        }
        // Widening is fine.
        #expect(try PostgresValue(Int16(7)).decode(Int.self) == 7)
        #expect(try PostgresValue(Int32(7)).decode(Double.self) == 7)
    }

    @Test("COPY rows must have one value per column")
    func copyRowWidth() throws {
        var batch = PostgresCopyBatch(columnCount: 2)
        try batch.appendRow(1, "one")
        #expect(throws: PostgresError.self) { try batch.appendRow(2) }
        #expect(throws: PostgresError.self) { try batch.appendRow(values: [3, "three", true]) }
        try batch.appendRow(values: [4, String?.none])
        #expect(batch.rowCount == 2)
    }
}
