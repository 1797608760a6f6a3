import Foundation
import PinguinModel
import Testing

private func fields(_ result: CheckResult) -> [String: [UInt8]] {
    Dictionary(uniqueKeysWithValues: result.streamFields.map { ($0.0, Array($0.1.utf8)) })
}

@Suite("Results stream format")
struct CheckResultStreamTests {
    private let sample = CheckResult(
        monitorID: 42, scheduledAt: Date(unixMicroseconds: 1_795_000_000_123_456), location: "eu-1", status: .degraded,
        slotMilliseconds: 60_000, startedAt: Date(unixMicroseconds: 1_795_000_000_200_000),
        finishedAt: Date(unixMicroseconds: 1_795_000_000_300_000), latencyMilliseconds: 100.25,
        message: "slow: 100 ms", phases: #"{"connect":1.5}"#, details: #"{"code":200,"ok":true}"#, supervisor: "sv-7")

    @Test("a result survives encoding to stream fields and back, to the microsecond")
    func roundTrip() throws {
        let decoded = try CheckResult(streamFields: fields(sample))
        #expect(decoded == sample)
        #expect(decoded.scheduledAt.unixMicroseconds == 1_795_000_000_123_456)
        let minimal = CheckResult(monitorID: 1, scheduledAt: Date(unixMicroseconds: 1_795_000_000_000_000), status: .skipped, slotMilliseconds: 1000)
        #expect(try CheckResult(streamFields: fields(minimal)) == minimal)
    }

    @Test("every bad field is rejected with its name", arguments: [
        ("monitor", nil, "field \"monitor\": is missing"),
        ("monitor", "abc", "field \"monitor\": is not an integer"),
        ("monitor", "-3", "field \"monitor\": must be positive"),
        ("scheduled", "1795000000", "field \"scheduled\": 1795000000 is not a time in microseconds since 1970"),
        ("status", "sideways", "field \"status\": \"sideways\" is not one of up, down, degraded, unknown, paused, maintenance, skipped"),
        ("slot_ms", "0", "field \"slot_ms\": must be a positive number of milliseconds"),
        ("latency_ms", "-1", "field \"latency_ms\": must be a non-negative number"),
        ("latency_ms", "nan", "field \"latency_ms\": must be a non-negative number"),
        ("details", "[1,2]", "field \"details\": is not a JSON object"),
        ("phases", "{\"a\":}", "field \"phases\": is not a JSON object"),
        ("location", "", "field \"location\": must be 1 to 64 bytes"),
    ] as [(String, String?, String)])
    func rejects(_ field: String, _ value: String?, _ message: String) {
        var raw = fields(sample)
        raw[field] = value.map { Array($0.utf8) }
        #expect {
            try CheckResult(streamFields: raw)
        } throws: { error in
            (error as? CheckResultError)?.description == message
        }
    }

    @Test("text that PostgreSQL cannot store is rejected: invalid UTF-8 and NUL")
    func rejectsUnstorableText() {
        var raw = fields(sample)
        raw["message"] = [0x66, 0xFF, 0x6F]
        #expect(throws: CheckResultError.self) { try CheckResult(streamFields: raw) }
        raw["message"] = [0x66, 0x00, 0x6F]
        #expect(throws: CheckResultError.self) { try CheckResult(streamFields: raw) }
    }

    @Test("long messages are cut at a character boundary")
    func longMessage() throws {
        var raw = fields(sample)
        raw["message"] = Array(String(repeating: "é", count: 600).utf8)  // 1200 bytes
        let decoded = try CheckResult(streamFields: raw)
        #expect(decoded.message.utf8.count == 1024)
        #expect(decoded.message == String(repeating: "é", count: 512))
    }
}

@Suite("JSON syntax")
struct JSONSyntaxTests {
    @Test("accepts well-formed JSON", arguments: [
        "{}", "[]", "0", "-0.5e+10", "\"a\\u00e9\\n\"", "{\"a\":[1,{\"b\":null}],\"c\":true,\"d\":false}", " \n{ } \t",
        "\"ü 🐧\"", "1E5", "[1.0, -2, 3e-3]",
    ])
    func accepts(_ text: String) {
        #expect(JSONSyntax.isValid(Array(text.utf8)))
    }

    @Test("rejects malformed JSON and what jsonb cannot hold", arguments: [
        "", "{", "}", "{\"a\"}", "{\"a\":1,}", "[1,]", "01", "1.", ".5", "+1", "tru", "nul", "\"unterminated",
        "\"bad \\x escape\"", "\"\\u12\"", "{} {}", "NaN", "\"\\u0000\"", "\"tab\there\"", "{'a':1}",
    ])
    func rejects(_ text: String) {
        #expect(!JSONSyntax.isValid(Array(text.utf8)))
    }

    @Test("rejects invalid UTF-8 and nesting deeper than the limit")
    func limits() {
        #expect(!JSONSyntax.isValid([0x22, 0xC3, 0x22]))
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(!JSONSyntax.isValid(Array(deep.utf8)))
        let fine = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(JSONSyntax.isValid(Array(fine.utf8)))
        #expect(JSONSyntax.isObject(Array(" {\"a\":1}".utf8)))
        #expect(!JSONSyntax.isObject(Array("[1]".utf8)))
    }
}
