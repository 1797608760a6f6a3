import PinguinWire
import Testing

@Suite("JSON parser and writer")
struct JSONParserTests {
    @Test("numbers keep their exact text; writing is compact and round-trips")
    func roundTrip() throws {
        let text = #"{"id":9007199254740993,"f":1.50,"e":-2E+10,"s":"a\"b\\c\n\u00e9\ud83d\udc27","a":[true,false,null,{}],"o":{}}"#
        let value = try JSONParser.parse(text)
        #expect(value.objectValue?["id"] == .number("9007199254740993"))
        #expect(value.objectValue?["f"] == .number("1.50"))
        #expect(value.objectValue?["s"] == .string("a\"b\\c\né🐧"))
        let written = JSONWriter.string(value)
        #expect(written == #"{"id":9007199254740993,"f":1.50,"e":-2E+10,"s":"a\"b\\c\né🐧","a":[true,false,null,{}],"o":{}}"#)
        #expect(try JSONParser.parse(written) == value)
        #expect(JSONWriter.string(.string("\u{01}\t")) == #""\u0001\t""#)
    }

    @Test("rejects what RFC 8259 rejects, saying where", arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "+1", ".5", "1e", "tru", "nul", "\"abc", "\"\\x\"",
        "\"\\ud800\"", "\"\\udc00\"", "{} {}", "NaN", "'a'", "{\"a\" 1}", "\"tab\there\"", "[1 2]",
    ])
    func rejects(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test("rejects invalid UTF-8 and nesting beyond the limit")
    func limits() {
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xFF, 0x22]) }
        let tooDeep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(tooDeep) }
        let deepEnough = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try JSONParser.parse(deepEnough) }
    }

    @Test("duplicate member names: the last one is seen, all are kept")
    func duplicates() throws {
        let value = try JSONParser.parse(#"{"a":1,"a":2}"#)
        #expect(value.objectValue?["a"] == .number("2"))
        #expect(value.objectValue?.count == 2)
    }
}
