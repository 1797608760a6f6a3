import PinguinWire
import Testing

/// The methods the spec's examples imply: subtract, sum, get_data, and notification sinks.
/// foobar and foo.get must not exist.
private let handler: JSONRPCResponder.Handler = { request in
    func number(_ value: JSONValue?) -> Double? { value?.doubleValue }
    switch request.method {
    case "subtract":
        switch request.params {
        case .array(let values) where values.count == 2:
            guard let a = number(values[0]), let b = number(values[1]) else { return .failure(.invalidParams("numbers expected")) }
            return .success(.double(a - b))
        case .object(let members):
            guard let a = number(members["minuend"]), let b = number(members["subtrahend"]) else {
                return .failure(.invalidParams("minuend and subtrahend are required", field: "minuend"))
            }
            return .success(.double(a - b))
        default:
            return .failure(.invalidParams("two numbers expected"))
        }
    case "sum":
        guard case .array(let values) = request.params else { return .failure(.invalidParams("an array expected")) }
        return .success(.double(values.compactMap { $0.doubleValue }.reduce(0, +)))
    case "get_data":
        return .success(.array([.string("hello"), .int(5)]))
    case "update", "notify_hello", "notify_sum":
        return .success(.null)
    case "void":
        return .success(.null)
    default:
        return .failure(.methodNotFound(request.method))
    }
}

/// A response reduced to what the comparison rules look at: jsonrpc, id, result, error.code.
private struct Answer: Hashable, CustomStringConvertible {
    var id: JSONValue
    var result: JSONValue?
    var errorCode: Int?
    var hasResultMember: Bool

    init(_ value: JSONValue) {
        let object = value.objectValue!
        precondition(object["jsonrpc"] == .string("2.0"))
        id = object["id"] ?? .string("<missing>")
        result = object["result"]
        hasResultMember = object.keys.contains("result")
        errorCode = object["error"]?.objectValue?["code"]?.int64Value.map(Int.init)
    }

    var description: String { "id \(JSONWriter.string(id)) result \(result.map(JSONWriter.string) ?? "-") error \(errorCode.map(String.init) ?? "-")" }
}

private func send(_ line: String, maximumBatch: Int = 50) async throws -> JSONValue? {
    guard let bytes = await JSONRPCResponder.respond(to: Array(line.utf8), maximumBatch: maximumBatch, handler: handler) else { return nil }
    return try JSONParser.parse(bytes)
}

private func expectSingle(_ line: String, id: JSONValue, result: JSONValue? = nil, error: Int? = nil,
                          sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let reply = try #require(try await send(line), sourceLocation: sourceLocation)
    #expect(reply.arrayValue == nil, "expected one response object", sourceLocation: sourceLocation)
    let answer = Answer(reply)
    #expect(answer.id == id, sourceLocation: sourceLocation)
    #expect(answer.errorCode == error, sourceLocation: sourceLocation)
    if let result { #expect(answer.result == result, sourceLocation: sourceLocation) }
    // result present exactly on success
    #expect(answer.hasResultMember == (error == nil), sourceLocation: sourceLocation)
}

@Suite("JSON-RPC 2.0 conformance (the spec's examples)")
struct JSONRPCSpecExamples {
    @Test("1 positional parameters")
    func positional() async throws {
        try await expectSingle(#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#, id: .number("1"), result: .number("19"))
        try await expectSingle(#"{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}"#, id: .number("2"), result: .number("-19"))
    }

    @Test("2 named parameters")
    func named() async throws {
        try await expectSingle(#"{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}"#, id: .number("3"), result: .number("19"))
        try await expectSingle(#"{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}"#, id: .number("4"), result: .number("19"))
    }

    @Test("3 notifications get no reply, not even for an unknown method")
    func notifications() async throws {
        #expect(try await send(#"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#) == nil)
        #expect(try await send(#"{"jsonrpc": "2.0", "method": "foobar"}"#) == nil)
        #expect(try await send(#"{"jsonrpc": "2.0", "method": "subtract", "params": "bad"}"#) != nil)  // invalid, so not a notification
    }

    @Test("4 non-existent method")
    func methodNotFound() async throws {
        try await expectSingle(#"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#, id: .string("1"), error: -32601)
    }

    @Test("5 invalid JSON")
    func invalidJSON() async throws {
        try await expectSingle(#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#, id: .null, error: -32700)
    }

    @Test("6 invalid Request object")
    func invalidRequest() async throws {
        try await expectSingle(#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#, id: .null, error: -32600)
    }

    @Test("7 batch with invalid JSON")
    func batchInvalidJSON() async throws {
        try await expectSingle(#"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method"]"#, id: .null, error: -32700)
    }

    @Test("8 empty array")
    func emptyBatch() async throws {
        try await expectSingle("[]", id: .null, error: -32600)
    }

    @Test("9 and 10 invalid batches")
    func invalidBatches() async throws {
        let one = try #require(try await send("[1]")?.arrayValue)
        #expect(one.map(Answer.init) == [Answer(JSONRPCResponse.failure(id: .null, error: .invalidRequest("")))])
        let three = try #require(try await send("[1,2,3]")?.arrayValue)
        #expect(three.count == 3)
        #expect(three.map(Answer.init).allSatisfy { $0.errorCode == -32600 && $0.id == .null })
    }

    @Test("11 mixed batch, compared as a multiset")
    func mixedBatch() async throws {
        let line = #"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}, {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"}, {"foo": "boo"}, {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"}, {"jsonrpc": "2.0", "method": "get_data", "id": "9"}]"#
        let answers = try #require(try await send(line)?.arrayValue).map(Answer.init)
        let expected: [(JSONValue, JSONValue?, Int?)] = [
            (.string("1"), .number("7"), nil), (.string("2"), .number("19"), nil), (.null, nil, -32600),
            (.string("5"), nil, -32601), (.string("9"), .array([.string("hello"), .number("5")]), nil),
        ]
        #expect(answers.count == 5)
        for (id, result, error) in expected {
            #expect(answers.contains { $0.id == id && $0.errorCode == error && (result == nil || $0.result == result) }, "\(id)")
        }
    }

    @Test("12 all-notification batch: nothing at all")
    func allNotifications() async throws {
        #expect(try await send(#"[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]}, {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]"#) == nil)
    }
}

@Suite("JSON-RPC 2.0 edge cases")
struct JSONRPCEdgeCases {
    @Test("ids are echoed verbatim: strings, zero, negatives, beyond 2^53, fractions, null")
    func ids() async throws {
        for id in ["\"abc\"", "0", "-1", "9007199254740993", "12345678901234567890123", "1.5", "null"] {
            let reply = try #require(try await send(#"{"jsonrpc":"2.0","method":"subtract","params":[2,1],"id":\#(id)}"#))
            let text = JSONWriter.string(reply)
            #expect(text.hasSuffix(#","id":\#(id)}"#), "\(text)")
            #expect(Answer(reply).result == .number("1"))
        }
    }

    @Test("invalid ids are Invalid Request with id null", arguments: ["true", "[]", "{}"])
    func invalidIDs(_ id: String) async throws {
        try await expectSingle(#"{"jsonrpc":"2.0","method":"subtract","params":[2,1],"id":\#(id)}"#, id: .null, error: -32600)
    }

    @Test("bad params, jsonrpc or method: Invalid Request with the id echoed", arguments: [
        #"{"jsonrpc":"2.0","method":"subtract","params":null,"id":7}"#,
        #"{"jsonrpc":"2.0","method":"subtract","params":"x","id":7}"#,
        #"{"jsonrpc":"2.0","method":"subtract","params":3,"id":7}"#,
        #"{"method":"subtract","params":[1,1],"id":7}"#,
        #"{"jsonrpc":"1.0","method":"subtract","params":[1,1],"id":7}"#,
        #"{"jsonrpc":2.0,"method":"subtract","params":[1,1],"id":7}"#,
        #"{"jsonrpc":"2.0","params":[1,1],"id":7}"#,
        #"{"jsonrpc":"2.0","method":"","id":7}"#,
        #"{"jsonrpc":"2.0","method":1,"id":7}"#,
        #"{"jsonrpc":"2.0","Method":"subtract","params":[1,1],"id":7}"#,
    ])
    func invalidWithID(_ line: String) async throws {
        try await expectSingle(line, id: .number("7"), error: -32600)
    }

    @Test("empty params are fine for a method without parameters; rpc.* unknown is not found")
    func emptyParams() async throws {
        try await expectSingle(#"{"jsonrpc":"2.0","method":"get_data","params":[],"id":1}"#, id: .number("1"))
        try await expectSingle(#"{"jsonrpc":"2.0","method":"get_data","params":{},"id":1}"#, id: .number("1"))
        try await expectSingle(#"{"jsonrpc":"2.0","method":"rpc.nope","id":1}"#, id: .number("1"), error: -32601)
    }

    @Test("a void success carries result null; an error carries no result")
    func resultPresence() async throws {
        let success = try #require(try await send(#"{"jsonrpc":"2.0","method":"void","id":1}"#))
        #expect(JSONWriter.string(success) == #"{"jsonrpc":"2.0","result":null,"id":1}"#)
        let failure = try #require(try await send(#"{"jsonrpc":"2.0","method":"nope","id":1}"#))
        #expect(failure.objectValue?.keys.contains("result") == false)
        #expect(failure.objectValue?["error"]?.objectValue?["data"]?.objectValue?["kind"] == .string("method_not_found"))
    }

    @Test("nested batch, oversized batch, duplicate ids")
    func batches() async throws {
        let nested = try #require(try await send(#"[[{"jsonrpc":"2.0","method":"subtract","params":[1,1],"id":1}]]"#)?.arrayValue)
        #expect(nested.map(Answer.init).map(\.errorCode) == [-32600])
        let entries = (1...3).map { #"{"jsonrpc":"2.0","method":"subtract","params":[1,1],"id":\#($0)}"# }.joined(separator: ",")
        let tooLarge = try #require(try await send("[\(entries)]", maximumBatch: 2))
        #expect(Answer(tooLarge).errorCode == -32600)
        #expect(Answer(tooLarge).id == .number("1"))
        #expect(tooLarge.objectValue?["error"]?.objectValue?["data"]?.objectValue?["kind"] == .string("batch_too_large"))
        let duplicates = try #require(try await send(#"[{"jsonrpc":"2.0","method":"subtract","params":[3,1],"id":1},{"jsonrpc":"2.0","method":"subtract","params":[5,1],"id":1}]"#)?.arrayValue)
        #expect(Set(duplicates.map { Answer($0).result }) == [.number("2"), .number("4")])
    }

    @Test("a UTF-8 BOM or invalid UTF-8 is a parse error")
    func encoding() async throws {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF] + Array(#"{"jsonrpc":"2.0","method":"void","id":1}"#.utf8)
        let reply = try #require(await JSONRPCResponder.respond(to: bom, handler: handler))
        #expect(Answer(try JSONParser.parse(reply)).errorCode == -32700)
        let invalid: [UInt8] = Array(#"{"jsonrpc":"2.0","method":""#.utf8) + [0xFF] + Array(#"","id":1}"#.utf8)
        let second = try #require(await JSONRPCResponder.respond(to: invalid, handler: handler))
        #expect(Answer(try JSONParser.parse(second)).errorCode == -32700)
    }
}

@Suite("Line framing")
struct LineFramerTests {
    @Test("splits on newlines, accepts CRLF, skips blank lines, survives 1-byte writes")
    func framing() {
        var framer = LineFramer(maximumLineBytes: 100)
        #expect(framer.feed(Array("a\nbc\r\n\n\r\nd".utf8)) == [.line(Array("a".utf8)), .line(Array("bc".utf8))])
        #expect(framer.bufferedBytes == 1)
        var frames: [LineFramer.Frame] = []
        for byte in Array("e\nf".utf8) { frames += framer.feed([byte]) }
        #expect(frames == [.line(Array("de".utf8))])
        #expect(framer.finish() == [.line(Array("f".utf8))])
    }

    @Test("an oversized line is reported once, discarded, and the next line works")
    func oversized() {
        var framer = LineFramer(maximumLineBytes: 8)
        #expect(framer.feed(Array("12345678\r\n".utf8)) == [.line(Array("12345678".utf8))])
        var frames = framer.feed(Array(String(repeating: "x", count: 1000).utf8))
        #expect(frames == [.tooLong])
        #expect(framer.bufferedBytes == 0)
        frames = framer.feed(Array(String(repeating: "x", count: 100_000).utf8) + Array("\nok\n".utf8))
        #expect(frames == [.line(Array("ok".utf8))])
        #expect(framer.feed(Array("123456789\n".utf8)) == [.tooLong])
    }
}
