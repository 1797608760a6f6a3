import PinguinWire
import Testing

private func schema(_ text: String) throws -> JSONSchema {
    try JSONSchema(JSONParser.parse(text))
}

private func json(_ text: String) throws -> JSONValue {
    try JSONParser.parse(text)
}

/// The messages of validating `instance` against `schemaText`, rooted at `config`.
private func messages(_ schemaText: String, _ instance: String, at prefix: String = "config") throws -> [String] {
    try schema(schemaText).validate(json(instance), at: prefix).map(\.message)
}

private func isValid(_ schemaText: String, _ instance: String) throws -> Bool {
    try schema(schemaText).validate(json(instance)).isEmpty
}

private func schemaError(_ schemaText: String) throws -> JSONSchemaError? {
    let value = try JSONParser.parse(schemaText)
    do {
        _ = try JSONSchema(value)
        return nil
    } catch {
        return error
    }
}

@Suite("JSON Schema: types and values")
struct JSONSchemaTypeTests {
    @Test("type: every name, and integer means no fraction (1.0 and 1e2 count)")
    func types() throws {
        #expect(try isValid(#"{"type":"null"}"#, "null"))
        #expect(try isValid(#"{"type":"boolean"}"#, "false"))
        #expect(try isValid(#"{"type":"object"}"#, "{}"))
        #expect(try isValid(#"{"type":"array"}"#, "[]"))
        #expect(try isValid(#"{"type":"number"}"#, "1.5"))
        #expect(try isValid(#"{"type":"string"}"#, #""x""#))
        for integer in ["1", "-7", "1.0", "1e2", "1.5e1", "0.0", "-0", "123456789012345678901234567890"] {
            #expect(try isValid(#"{"type":"integer"}"#, integer), "\(integer)")
        }
        for fraction in ["1.5", "1e-2", "0.1", "12345678901234567890.5"] {
            #expect(try !isValid(#"{"type":"integer"}"#, fraction), "\(fraction)")
        }
        #expect(try messages(#"{"type":"integer"}"#, "1.5") == ["config must be an integer, not 1.5"])
        #expect(try messages(#"{"type":"string"}"#, "5") == ["config must be a string, not a number"])
        #expect(try messages(#"{"type":["string","null"]}"#, "{}") == ["config must be a string or null, not an object"])
        #expect(try messages(#"{"type":["string","integer","boolean"]}"#, "[]") == ["config must be a string, an integer or a boolean, not an array"])
        #expect(try isValid(#"{"type":["string","null"]}"#, "null"))
        #expect(try messages(#"{"type":"object"}"#, "1", at: "") == ["the value must be an object, not a number"])
    }

    @Test("enum and const use JSON equality: 1 == 1.0, member order ignored")
    func enumAndConst() throws {
        let methods = #"{"enum":["GET","HEAD","POST"]}"#
        #expect(try messages(methods, #""FETCH""#) == [#"config must be one of GET, HEAD, POST, not "FETCH""#])
        #expect(try isValid(methods, #""HEAD""#))
        #expect(try isValid(#"{"enum":[1, "a", null]}"#, "1.0"))
        #expect(try isValid(#"{"enum":[{"a":1,"b":[2]}]}"#, #"{"b":[2.0],"a":1}"#))
        #expect(try !isValid(#"{"enum":[{"a":1}]}"#, #"{"a":1,"b":2}"#))
        #expect(try messages(#"{"enum":["a b", 2, true]}"#, "3") == [#"config must be one of "a b", 2, true, not 3"#])
        #expect(try messages(#"{"const":2}"#, "3") == ["config must be 2, not 3"])
        #expect(try isValid(#"{"const":2}"#, "2.00"))
        #expect(try isValid(#"{"const":null}"#, "null"))
        #expect(try messages(#"{"const":null}"#, "0") == ["config must be null, not 0"])
        #expect(try messages(#"{"const":"v2"}"#, #""v3""#) == [#"config must be "v2", not "v3""#])
        #expect(try !isValid(#"{"const":[1,2]}"#, "[2,1]"))
    }

    @Test("boolean schemas, annotations and unknown keywords")
    func booleansAndAnnotations() throws {
        #expect(try isValid("true", #"{"anything":[1]}"#))
        #expect(try messages("false", "1") == ["config is not allowed"])
        #expect(try messages(#"{"properties":{"legacy":false}}"#, #"{"legacy":1}"#) == ["config.legacy is not allowed"])
        let annotated = #"""
            {"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://example.com/s","$comment":"c",
             "title":"t","description":"d","examples":[1],"default":1,"deprecated":true,"readOnly":true,"writeOnly":false,
             "x-ui-widget":"slider","format":"no-such-format","minimum":0}
            """#
        #expect(try isValid(annotated, "5"))
        #expect(try isValid(annotated, #""no-such-format applies to nothing""#))
        #expect(try messages(annotated, "-1") == ["config must be at least 0, not -1"])
    }
}

@Suite("JSON Schema: numbers")
struct JSONSchemaNumberTests {
    @Test("bounds, each with its message")
    func bounds() throws {
        let timeout = #"{"minimum":1,"maximum":60}"#
        #expect(try messages(timeout, "120") == ["config must be at most 60, not 120"])
        #expect(try messages(timeout, "0") == ["config must be at least 1, not 0"])
        #expect(try isValid(timeout, "60"))
        #expect(try isValid(timeout, "1.0"))
        let exclusive = #"{"exclusiveMinimum":0,"exclusiveMaximum":1}"#
        #expect(try messages(exclusive, "0") == ["config must be greater than 0, not 0"])
        #expect(try messages(exclusive, "1") == ["config must be less than 1, not 1"])
        #expect(try isValid(exclusive, "0.5"))
        #expect(try isValid(exclusive, "5e-1"))
        #expect(try messages(#"{"minimum":-1.5}"#, "-2") == ["config must be at least -1.5, not -2"])
        #expect(try isValid(#"{"minimum":-1.5}"#, "-1.25"))
        #expect(try isValid(#"{"maximum":1e3}"#, "999.999"))
        #expect(try !isValid(#"{"maximum":1e3}"#, "1000.001"))
        // Bounds only apply to numbers.
        #expect(try isValid(#"{"maximum":1}"#, #""100""#))
    }

    @Test("big integers are compared exactly, never rounded through Double")
    func bigIntegers() throws {
        let bound = #"{"maximum":9007199254740992}"#
        #expect(try messages(bound, "9007199254740993") == ["config must be at most 9007199254740992, not 9007199254740993"])
        #expect(try isValid(bound, "9007199254740992"))
        #expect(try isValid(#"{"minimum":9007199254740993}"#, "9007199254740993"))
        #expect(try !isValid(#"{"minimum":9007199254740993}"#, "9007199254740992"))
        #expect(try !isValid(#"{"exclusiveMaximum":100000000000000000000000000001}"#, "100000000000000000000000000001"))
        #expect(try isValid(#"{"exclusiveMaximum":100000000000000000000000000001}"#, "100000000000000000000000000000"))
        #expect(try !isValid(#"{"const":9007199254740993}"#, "9007199254740992"))
        #expect(try isValid(#"{"maximum":-9007199254740993}"#, "-9007199254740994"))
        #expect(try !isValid(#"{"maximum":-9007199254740993}"#, "-9007199254740992"))
    }

    @Test("multipleOf is exact for decimals and big integers")
    func multipleOf() throws {
        #expect(try messages(#"{"multipleOf":5}"#, "7") == ["config must be a multiple of 5, not 7"])
        #expect(try isValid(#"{"multipleOf":5}"#, "10"))
        #expect(try isValid(#"{"multipleOf":0.1}"#, "0.3"))  // 0.3 / 0.1 in Double is 2.9999999999999996
        #expect(try isValid(#"{"multipleOf":0.01}"#, "19.99"))
        #expect(try !isValid(#"{"multipleOf":0.01}"#, "19.995"))
        #expect(try isValid(#"{"multipleOf":1.5}"#, "4.5"))
        #expect(try !isValid(#"{"multipleOf":1.5}"#, "4"))
        #expect(try isValid(#"{"multipleOf":3}"#, "9007199254740993"))
        #expect(try !isValid(#"{"multipleOf":2}"#, "9007199254740993"))
        #expect(try isValid(#"{"multipleOf":7}"#, "7e300"))
        #expect(try !isValid(#"{"multipleOf":10}"#, "5"))
        #expect(try isValid(#"{"multipleOf":1}"#, "1e2"))
        #expect(try !isValid(#"{"multipleOf":1}"#, "1.5"))
        #expect(try isValid(#"{"multipleOf":0.5}"#, "0"))
    }
}

@Suite("JSON Schema: strings and formats")
struct JSONSchemaStringTests {
    @Test("lengths count Unicode code points")
    func lengths() throws {
        #expect(try messages(#"{"minLength":3}"#, #""ab""#) == ["config must be at least 3 characters long, not 2"])
        #expect(try messages(#"{"maxLength":1}"#, #""ab""#) == ["config must be at most 1 character long, not 2"])
        #expect(try isValid(#"{"maxLength":1}"#, #""🐧""#))  // one code point, four UTF-8 bytes, two UTF-16 units
        #expect(try !isValid(#"{"maxLength":1}"#, #""e\u0301""#))  // one grapheme, two code points
        #expect(try isValid(#"{"minLength":2}"#, #""e\u0301""#))
    }

    @Test("pattern is an unanchored search")
    func pattern() throws {
        #expect(try isValid(#"{"pattern":"b+"}"#, #""abbbc""#))
        #expect(try !isValid(#"{"pattern":"^b+$"}"#, #""abbbc""#))
        #expect(try messages(#"{"pattern":"^[a-z]+$"}"#, #""ABC""#) == [#"config must match the pattern ^[a-z]+$, not "ABC""#])
        #expect(try isValid(#"{"pattern":"^\\p{L}+$"}"#, #""éß""#))
    }

    @Test("format: uri, hostname, ipv4, ipv6, date-time, date, time, uuid, regex")
    func formats() throws {
        let cases: [(String, [String], [String])] = [
            (
                "uri", ["https://example.com", "http://user@[::1]:8080/a?b=c#d", "mailto:ops@example.com", "urn:isbn:0451450523", "https://ex.com/%20"],
                ["example.com", "/relative", "https://", "http://exa mple.com", "https://example.com:80a/", "1http://x", "https://x/%zz", "http://x/#a#b"]
            ),
            (
                "hostname", ["example.com", "a-b.c1", "localhost", "example.com.", String(repeating: "a", count: 63) + ".com"],
                ["", "-a.com", "a-.com", "a..b", "exa mple.com", "a_b.com", String(repeating: "a", count: 64) + ".com"]
            ),
            ("ipv4", ["192.168.0.1", "0.0.0.0", "255.255.255.255"], ["256.1.1.1", "1.2.3", "01.2.3.4", "1.2.3.4.5", "a.b.c.d", "1.2.3.4 "]),
            (
                "ipv6", ["::1", "::", "2001:db8::8a2e:370:7334", "1:2:3:4:5:6:7:8", "::ffff:192.168.1.1", "fe80::", "1::2:3"],
                ["1:2:3:4:5:6:7:8:9", "1::2::3", ":::", "12345::", "1:2:3:4:5:6:7", "fe80::1%eth0", "::ffff:256.1.1.1", "g::1", ":1::"]
            ),
            (
                "date-time", ["2025-01-31T12:00:00Z", "2024-02-29T23:59:59.123+02:00", "2016-12-31T23:59:60Z", "2016-12-31t15:59:60-08:00"],
                ["2025-02-29T12:00:00Z", "2025-01-31 12:00:00Z", "2025-01-31T12:00:00", "2025-13-01T00:00:00Z", "2025-01-31T24:00:00Z",
                 "2025-01-31T12:00:60Z", "2025-01-31T12:00:00.Z", "2025-1-31T12:00:00Z", "2025-01-31T12:00:00+0200"]
            ),
            ("date", ["2025-01-31", "2000-02-29"], ["1900-02-29", "2025-04-31", "2025-01-31T00:00:00Z"]),
            ("time", ["08:30:00Z", "23:59:60Z", "08:30:00.5+01:00"], ["08:30:00", "08:30Z", "25:00:00Z"]),
            ("uuid", ["2eb8aa08-aa98-11ea-b4aa-73b441d16380"], ["2eb8aa08aa9811eab4aa73b441d16380", "2eb8aa08-aa98-11ea-b4aa-73b441d1638g"]),
            ("regex", ["^a+$", "(?<name>x)"], ["(", "[a-"]),
        ]
        for (format, valid, invalid) in cases {
            let compiled = try JSONSchema(.object(JSONObject(["format": .string(format)])))
            for text in valid {
                #expect(compiled.validate(.string(text)).isEmpty, "\(format): \(text) should be valid")
            }
            for text in invalid {
                #expect(!compiled.validate(.string(text)).isEmpty, "\(format): \(text) should be invalid")
            }
        }
        #expect(
            try messages(#"{"format":"uri"}"#, #""example.com""#)
                == [#"config must be an absolute URI with a scheme (such as https://example.com/), not "example.com""#])
        #expect(try isValid(#"{"format":"ipv4"}"#, "12"))  // formats only constrain strings
    }
}

@Suite("JSON Schema: objects")
struct JSONSchemaObjectTests {
    @Test("required names the missing field; additionalProperties false lists the allowed ones")
    func requiredAndAdditional() throws {
        let http = #"""
            {"type":"object","properties":{"method":{"type":"string"},"url":{"type":"string"}},
             "required":["url"],"additionalProperties":false}
            """#
        #expect(try messages(http, "{}") == ["config.url is required"])
        let violations = try schema(http).validate(json(#"{"url":"https://x","metod":"GET"}"#), at: "config")
        #expect(violations.map(\.message) == [#"config has no field "metod" (did you mean "method"? allowed: method, url)"#])
        #expect(violations.first?.path == "config.metod")
        #expect(violations.first?.keyword == "additionalProperties")
        #expect(violations.first?.schemaPath == "#/additionalProperties")
        #expect(try messages(http, #"{"url":"u","zzz":1}"#) == [#"config has no field "zzz" (allowed: method, url)"#])
        #expect(try messages(#"{"additionalProperties":false}"#, #"{"a":1}"#) == [#"config has no field "a" (no fields are allowed)"#])
        let many = #"{"properties":{"a":{},"b":{},"c":{},"d":{},"e":{},"f":{},"g":{},"h":{},"i":{},"j":{},"k":{},"l":{},"m":{}},"additionalProperties":false}"#
        #expect(try messages(many, #"{"zz":1}"#) == [#"config has no field "zz" (allowed: a, b, c, d, e, f, g, h, i, j, k, l, …)"#])
    }

    @Test("additionalProperties as a schema, patternProperties and propertyNames")
    func patternsAndNames() throws {
        let headers = #"{"additionalProperties":{"type":"string"},"propertyNames":{"pattern":"^[A-Za-z0-9-]+$"}}"#
        #expect(try messages(headers, #"{"Accept":1}"#, at: "config.headers") == ["config.headers.Accept must be a string, not a number"])
        #expect(
            try messages(headers, #"{"Bad Header":"x"}"#, at: "config.headers")
                == [#"the field name "Bad Header" in config.headers must match the pattern ^[A-Za-z0-9-]+$, not "Bad Header""#])
        let patterned = #"{"properties":{"name":{"type":"string"}},"patternProperties":{"^x-":{"type":"integer"}},"additionalProperties":false}"#
        #expect(try isValid(patterned, #"{"name":"a","x-retries":3}"#))
        #expect(try messages(patterned, #"{"x-retries":"3"}"#) == ["config.x-retries must be an integer, not a string"])
        #expect(try messages(patterned, #"{"y":1}"#) == [#"config has no field "y" (allowed: name, names matching ^x-)"#])
    }

    @Test("minProperties, maxProperties, dependentRequired, dependentSchemas")
    func counts() throws {
        #expect(try messages(#"{"minProperties":1}"#, "{}") == ["config must have at least 1 field, not 0"])
        #expect(try messages(#"{"maxProperties":2}"#, #"{"a":1,"b":2,"c":3}"#) == ["config must have at most 2 fields, not 3"])
        let dependent = #"{"dependentRequired":{"username":["password"]}}"#
        #expect(try messages(dependent, #"{"username":"u"}"#) == ["config.password is required when config.username is present"])
        #expect(try isValid(dependent, #"{"password":"p"}"#))
        let schemas = #"{"dependentSchemas":{"tls":{"required":["port"]}}}"#
        #expect(try messages(schemas, #"{"tls":true}"#) == ["config.port is required"])
        #expect(try isValid(schemas, "{}"))
    }

    @Test("paths: nested members and elements, odd keys quoted, an empty prefix")
    func paths() throws {
        let steps = #"{"properties":{"steps":{"items":{"properties":{"expect":{"type":"object"}}}}}}"#
        let violations = try schema(steps).validate(json(#"{"steps":[{},{},{"expect":3}]}"#), at: "config")
        #expect(violations.map(\.path) == ["config.steps[2].expect"])
        #expect(violations.map(\.schemaPath) == ["#/properties/steps/items/properties/expect/type"])
        #expect(violations.map(\.message) == ["config.steps[2].expect must be an object, not a number"])
        let odd = #"{"additionalProperties":{"type":"string"}}"#
        #expect(try schema(odd).validate(json(#"{"a.b":1,"":2,"x y":3,"ok_1-2":4}"#), at: "config").map(\.path)
            == [#"config["a.b"]"#, #"config[""]"#, #"config["x y"]"#, "config.ok_1-2"])
        #expect(try schema(odd).validate(json(#"{"a":1}"#)).map(\.path) == ["a"])
        #expect(try schema(#"{"items":{"type":"string"}}"#).validate(json("[1]")).map(\.message) == ["[0] must be a string, not a number"])
    }
}

@Suite("JSON Schema: arrays")
struct JSONSchemaArrayTests {
    @Test("items, prefixItems, minItems, maxItems")
    func items() throws {
        #expect(try messages(#"{"items":{"type":"integer"}}"#, #"[1,"2",3.5]"#)
            == ["config[1] must be an integer, not a string", "config[2] must be an integer, not 3.5"])
        let pair = #"{"prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}"#
        #expect(try isValid(pair, #"["a",1]"#))
        #expect(try isValid(pair, #"["a"]"#))
        #expect(try messages(pair, #"[1,"a"]"#) == ["config[0] must be a string, not a number", "config[1] must be an integer, not a string"])
        #expect(try messages(pair, #"["a",1,true]"#) == ["config must have at most 2 items, not 3"])
        #expect(try messages(#"{"prefixItems":[{}],"items":{"type":"null"}}"#, "[1,2]") == ["config[1] must be null, not a number"])
        #expect(try messages(#"{"minItems":1}"#, "[]") == ["config must have at least 1 item, not 0"])
        #expect(try messages(#"{"maxItems":2}"#, "[1,2,3]") == ["config must have at most 2 items, not 3"])
    }

    @Test("uniqueItems uses JSON equality")
    func unique() throws {
        #expect(try messages(#"{"uniqueItems":true}"#, "[1,2,1.0]") == ["config must not contain duplicates, but items 0 and 2 are equal"])
        #expect(try !isValid(#"{"uniqueItems":true}"#, #"[{"a":1,"b":2},{"b":2,"a":1}]"#))
        #expect(try isValid(#"{"uniqueItems":true}"#, #"[1,"1",true,null,[1],{"a":1}]"#))
        #expect(try isValid(#"{"uniqueItems":false}"#, "[1,1]"))
    }

    @Test("contains, minContains, maxContains")
    func contains() throws {
        let contains = #"{"contains":{"const":"GET"}}"#
        #expect(try isValid(contains, #"["POST","GET"]"#))
        #expect(try messages(contains, #"["POST"]"#) == [#"config must contain at least 1 item matching the schema under "contains", but has 0"#])
        let bounded = #"{"contains":{"type":"integer"},"minContains":2,"maxContains":3}"#
        #expect(try !isValid(bounded, #"[1,"a"]"#))
        #expect(try isValid(bounded, #"[1,"a",2]"#))
        #expect(try messages(bounded, "[1,2,3,4]") == [#"config must contain at most 3 items matching the schema under "contains", but has 4"#])
        #expect(try isValid(#"{"contains":{"type":"integer"},"minContains":0}"#, "[]"))
    }
}

@Suite("JSON Schema: composition and references")
struct JSONSchemaCompositionTests {
    @Test("allOf reports every branch's violations")
    func allOf() throws {
        #expect(try messages(#"{"allOf":[{"minimum":10},{"multipleOf":3}]}"#, "4")
            == ["config must be at least 10, not 4", "config must be a multiple of 3, not 4"])
    }

    @Test("anyOf: passes on one match; explains the alternative that was meant, or all of them")
    func anyOf() throws {
        let either = #"{"anyOf":[{"type":"string"},{"type":"integer","minimum":1}]}"#
        #expect(try isValid(either, #""x""#))
        #expect(try isValid(either, "3"))
        // The integer alternative was clearly meant: its own violation is reported.
        #expect(try messages(either, "0") == ["config must be at least 1, not 0"])
        // Every alternative wants another type: one sentence, merged through nesting.
        #expect(try messages(either, "true") == ["config must be a string or an integer, not a boolean"])
        #expect(try messages(#"{"anyOf":[{"anyOf":[{"type":"string"},{"type":"null"}]},{"type":["integer","string"]}]}"#, "1.5")
            == ["config must be a string, null or an integer, not 1.5"])
        // Several alternatives of the right type fail: each one's first reason.
        #expect(try messages(#"{"anyOf":[{"minimum":10},{"multipleOf":2}]}"#, "3")
            == ["config must match one of the alternatives: config must be at least 10, not 3 (alternative 1); or config must be a multiple of 2, not 3 (alternative 2)"])
    }

    @Test("oneOf: exactly one; a const discriminator picks the alternative to explain")
    func oneOf() throws {
        let auth = #"""
            {"oneOf":[
              {"properties":{"type":{"const":"basic"},"username":{"type":"string"}},"required":["type","username"]},
              {"properties":{"type":{"const":"bearer"},"token":{"type":"string"}},"required":["type","token"]}]}
            """#
        #expect(try isValid(auth, #"{"type":"bearer","token":"t"}"#))
        #expect(try messages(auth, #"{"type":"bearer"}"#, at: "config.auth") == ["config.auth.token is required"])
        let overlapping = #"{"oneOf":[{"type":"integer"},{"minimum":0}]}"#
        #expect(try messages(overlapping, "5") == ["config matches alternatives 1 and 2, but must match exactly one"])
        #expect(try isValid(overlapping, "-1"))
        #expect(try isValid(overlapping, "0.5"))
    }

    @Test("not, if/then/else")
    func notAndConditionals() throws {
        #expect(try messages(#"{"not":{"const":"admin"}}"#, #""admin""#) == [#"config must not match the schema under "not", but "admin" does"#])
        #expect(try isValid(#"{"not":{"const":"admin"}}"#, #""ops""#))
        let conditional = #"""
            {"if":{"properties":{"method":{"const":"POST"}},"required":["method"]},
             "then":{"required":["body"]},"else":{"properties":{"body":false}}}
            """#
        #expect(try messages(conditional, #"{"method":"POST"}"#) == ["config.body is required"])
        #expect(try messages(conditional, #"{"method":"GET","body":"x"}"#) == ["config.body is not allowed"])
        #expect(try isValid(conditional, #"{"method":"POST","body":"x"}"#))
        #expect(try isValid(conditional, #"{"method":"GET"}"#))
    }

    @Test("$ref: $defs, pointers into properties, escaped tokens, the root, recursion")
    func references() throws {
        let tree = #"""
            {"$defs":{"node":{"type":"object","properties":{"name":{"type":"string"},
                                                           "children":{"type":"array","items":{"$ref":"#/$defs/node"}}},
                              "required":["name"],"additionalProperties":false}},
             "$ref":"#/$defs/node"}
            """#
        #expect(try isValid(tree, #"{"name":"a","children":[{"name":"b","children":[{"name":"c"}]}]}"#))
        let violations = try schema(tree).validate(json(#"{"name":"a","children":[{"name":"b","children":[{"nam":"c"}]}]}"#), at: "config")
        #expect(violations.map(\.path) == ["config.children[0].children[0].name", "config.children[0].children[0].nam"])
        #expect(violations.first?.schemaPath == "#/$defs/node/required")
        #expect(try isValid(##"{"properties":{"next":{"$ref":"#"}},"type":"object"}"##, #"{"next":{"next":{}}}"#))
        #expect(try messages(##"{"properties":{"next":{"$ref":"#"}},"type":"object"}"##, #"{"next":{"next":1}}"#)
            == ["config.next.next must be an object, not a number"])
        #expect(try messages(##"{"properties":{"a":{"maximum":3},"b":{"$ref":"#/properties/a"}}}"##, #"{"b":4}"#) == ["config.b must be at most 3, not 4"])
        #expect(try messages(##"{"$defs":{"a/b":{"type":"string"},"c d":{"type":"null"}},"properties":{"x":{"$ref":"#/$defs/a~1b"},"y":{"$ref":"#/$defs/c%20d"}}}"##, #"{"x":1,"y":1}"#)
            == ["config.x must be a string, not a number", "config.y must be null, not a number"])
        #expect(try isValid(#"{"$id":"https://example.com/s.json","$defs":{"p":{"type":"integer"}},"$ref":"https://example.com/s.json#/$defs/p"}"#, "1"))
        #expect(try isValid(##"{"definitions":{"p":{"type":"integer"}},"$ref":"#/definitions/p"}"##, "1"))
    }

    @Test("$ref loops that never descend into the value, and bad references, are schema errors")
    func referenceErrors() throws {
        let loop = try schemaError(##"{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"allOf":[{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"}"##)
        #expect(loop?.code == .referenceLoop)
        #expect(try schemaError(##"{"$ref":"#"}"##)?.code == .referenceLoop)
        let missing = try schemaError(##"{"properties":{"a":{"$ref":"#/$defs/nope"}}}"##)
        #expect(missing?.code == .unresolvedReference)
        #expect(missing?.schemaPath == "#/properties/a/$ref")
        #expect(try schemaError(#"{"$ref":"https://example.com/other.json"}"#)?.code == .unsupported)
        #expect(try schemaError(##"{"$ref":"#anchor"}"##)?.code == .unsupported)
    }
}

@Suite("JSON Schema: malformed schemas, many violations, defaults, a real config")
struct JSONSchemaUsageTests {
    @Test("a malformed schema is an error naming the schema path")
    func malformed() throws {
        let wrongType = try schemaError(#"{"properties":{"timeout":{"maximum":"60"}}}"#)
        #expect(wrongType?.code == .invalidKeyword)
        #expect(wrongType?.schemaPath == "#/properties/timeout/maximum")
        #expect(wrongType?.description == "invalid JSON Schema at #/properties/timeout/maximum: maximum must be a number, not a string")
        let regex = try schemaError(#"{"properties":{"name":{"pattern":"(unclosed"}}}"#)
        #expect(regex?.code == .invalidPattern)
        #expect(regex?.schemaPath == "#/properties/name/pattern")
        let unknownType = try schemaError(#"{"type":["string","float"]}"#)
        #expect(unknownType?.code == .unknownType)
        #expect(unknownType?.schemaPath == "#/type/1")
        #expect(unknownType?.reason.hasPrefix(#"unknown type "float""#) == true)
        #expect(try schemaError(#"{"patternProperties":{"[":{}}}"#)?.schemaPath == "#/patternProperties/[")
        #expect(try schemaError(#"{"minLength":-1}"#)?.schemaPath == "#/minLength")
        #expect(try schemaError(#"{"maxItems":1.5}"#)?.code == .invalidKeyword)
        #expect(try schemaError(#"{"maxItems":2.0}"#) == nil)
        #expect(try schemaError(#"{"required":"url"}"#)?.code == .invalidKeyword)
        #expect(try schemaError(#"{"multipleOf":0}"#)?.code == .invalidKeyword)
        #expect(try schemaError(#"{"items":[{}]}"#)?.schemaPath == "#/items")
        #expect(try schemaError(#"{"anyOf":[]}"#)?.schemaPath == "#/anyOf")
        #expect(try schemaError(#"{"properties":{"a":3}}"#)?.schemaPath == "#/properties/a")
        #expect(try schemaError(#"{"$defs":{"unused":{"type":"nothing"}}}"#)?.schemaPath == "#/$defs/unused/type")
        #expect(try schemaError(#"{"unevaluatedProperties":false}"#)?.code == .unsupported)
        #expect(try schemaError(#"{"uniqueItems":"yes"}"#)?.code == .invalidKeyword)
        #expect(try schemaError("3")?.schemaPath == "#")
    }

    @Test("several violations are reported at once, up to a cap")
    func several() throws {
        let compiled = try schema(#"""
            {"type":"object","required":["url","method"],
             "properties":{"timeout":{"type":"integer","maximum":60},"method":{"enum":["GET","HEAD"]},"url":{"format":"uri"}}}
            """#)
        let violations = compiled.validate(try json(#"{"timeout":120.5}"#), at: "config")
        #expect(violations.map(\.message) == ["config.url is required", "config.method is required", "config.timeout must be an integer, not 120.5",
                                              "config.timeout must be at most 60, not 120.5"])
        #expect(violations.map(\.keyword) == ["required", "required", "type", "maximum"])
        let many = try schema(#"{"items":{"type":"string"}}"#).validate(.array(Array(repeating: .int(1), count: 500)))
        #expect(many.count == JSONSchema.maximumViolations)
        #expect(try schema(#"{"items":{"type":"string"}}"#).isValid(json(#"["a"]"#)))
    }

    @Test("applyingDefaults fills missing properties, recursing into present objects and arrays")
    func defaults() throws {
        let compiled = try schema(#"""
            {"$defs":{"step":{"properties":{"method":{"default":"GET"}}}},
             "properties":{"timeout":{"type":"integer","default":10},
                           "tls":{"properties":{"verify":{"default":true}}},
                           "retry":{"properties":{"count":{"default":1}}},
                           "headers":{"default":{}},
                           "steps":{"items":{"$ref":"#/$defs/step"}},
                           "mode":{"$ref":"#/$defs/step/properties/method"}},
             "allOf":[{"properties":{"interval":{"default":60}}}]}
            """#)
        let filled = compiled.applyingDefaults(to: try json(#"{"timeout":5,"tls":{},"steps":[{},{"method":"POST"}]}"#))
        #expect(JSONWriter.string(filled)
            == #"{"timeout":5,"tls":{"verify":true},"steps":[{"method":"GET"},{"method":"POST"}],"interval":60,"headers":{},"mode":"GET"}"#)
        #expect(compiled.applyingDefaults(to: .string("x")) == .string("x"))
    }

    @Test("a realistic HTTP check config")
    func httpCheck() throws {
        let compiled = try schema(#"""
            {"$schema":"https://json-schema.org/draft/2020-12/schema",
             "title":"HTTP check","type":"object","additionalProperties":false,"required":["url"],
             "properties":{
               "url":{"type":"string","format":"uri","pattern":"^https?://","description":"what to fetch"},
               "method":{"enum":["GET","HEAD","POST"],"default":"GET"},
               "timeout":{"type":"integer","minimum":1,"maximum":60,"default":10},
               "headers":{"type":"object","additionalProperties":{"type":"string","maxLength":8192},
                          "propertyNames":{"pattern":"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"}},
               "body":{"type":"string"},
               "expect":{"$ref":"#/$defs/expect"},
               "steps":{"type":"array","maxItems":10,"items":{"type":"object","required":["path"],
                        "properties":{"path":{"type":"string","pattern":"^/"},"expect":{"$ref":"#/$defs/expect"}}}}},
             "$defs":{"expect":{"type":"object","additionalProperties":false,"properties":{
                 "status":{"type":"array","items":{"type":"integer","minimum":100,"maximum":599},"uniqueItems":true,"minItems":1,"default":[200]},
                 "body_contains":{"type":"string","minLength":1}}}},
             "if":{"properties":{"method":{"const":"HEAD"}},"required":["method"]},
             "then":{"not":{"required":["body"]}}}
            """#)
        let good = try json(#"{"url":"https://example.com/health","headers":{"Accept":"application/json"},"expect":{}}"#)
        #expect(compiled.validate(good, at: "config").isEmpty)
        #expect(JSONWriter.string(compiled.applyingDefaults(to: good))
            == #"{"url":"https://example.com/health","headers":{"Accept":"application/json"},"expect":{"status":[200]},"method":"GET","timeout":10}"#)

        let bad = try json(#"""
            {"url":"ftp://example.com","metod":"GET","method":"FETCH","timeout":120,"headers":{"Accept":1},
             "steps":[{"path":"/a"},{"path":"/b","expect":{"status":[200,200,700]}},{"path":"c","expect":{"status":[]}}]}
            """#)
        let violations = compiled.validate(bad, at: "config")
        #expect(violations.map(\.path) == [
            "config.url", "config.metod", "config.method", "config.timeout", "config.headers.Accept",
            "config.steps[1].expect.status", "config.steps[1].expect.status[2]",
            "config.steps[2].path", "config.steps[2].expect.status",
        ])
        #expect(violations.map(\.message) == [
            #"config.url must match the pattern ^https?://, not "ftp://example.com""#,
            #"config has no field "metod" (did you mean "method"? allowed: url, method, timeout, headers, body, expect, steps)"#,
            #"config.method must be one of GET, HEAD, POST, not "FETCH""#,
            "config.timeout must be at most 60, not 120",
            "config.headers.Accept must be a string, not a number",
            "config.steps[1].expect.status must not contain duplicates, but items 0 and 1 are equal",
            "config.steps[1].expect.status[2] must be at most 599, not 700",
            #"config.steps[2].path must match the pattern ^/, not "c""#,
            "config.steps[2].expect.status must have at least 1 item, not 0",
        ])
        let head = compiled.validate(try json(#"{"url":"https://x","method":"HEAD","body":"b"}"#), at: "config")
        #expect(head.map(\.message) == [#"config must not match the schema under "not", but {"url":"https://x","method":"HEAD","body":"b"} does"#])
    }
}
