import PinguinCheckerKit
import PinguinWire

/// The `null` kind's config, defaults as in its schema (the kit fills them in already; these
/// cover a config given by hand).
struct NullConfig {
    enum Failure: String {
        case none = ""
        case error
        case crash
        case hang
    }

    var status: CheckStatus = .up
    var message = "null check"
    var delayMilliseconds: Int64 = 0
    var fail: Failure = .none

    static let schema: JSONValue = try! JSONParser.parse(#"""
        {"type":"object","additionalProperties":false,"properties":{
        "status":{"enum":["up","down","degraded","unknown"],"default":"up","description":"The status to answer."},
        "message":{"type":"string","maxLength":1024,"default":"null check"},
        "delay_ms":{"type":"integer","minimum":0,"maximum":3600000,"default":0,"description":"Sleep this long first (cancellable)."},
        "fail":{"enum":["","error","crash","hang"],"default":"","description":"error: a JSON-RPC error; crash: exit 3 mid-check; hang: never answer."}}}
        """#)

    static let targetSchema: JSONValue = try! JSONParser.parse(#"{"type":"string","maxLength":1024}"#)

    init(_ config: JSONObject) throws(CheckError) {
        if let value = config["status"] {
            guard let text = value.stringValue, let status = CheckStatus(rawValue: text) else { throw .invalidConfig("status must be up, down, degraded or unknown") }
            self.status = status
        }
        if let value = config["message"] {
            guard let text = value.stringValue else { throw .invalidConfig("message must be a string") }
            message = text
        }
        if let value = config["delay_ms"] {
            guard let milliseconds = value.int64Value, (0...3_600_000).contains(milliseconds) else { throw .invalidConfig("delay_ms must be an integer from 0 to 3600000") }
            delayMilliseconds = milliseconds
        }
        if let value = config["fail"] {
            guard let text = value.stringValue, let fail = Failure(rawValue: text) else { throw .invalidConfig("fail must be \"\", error, crash or hang") }
            self.fail = fail
        }
    }
}
