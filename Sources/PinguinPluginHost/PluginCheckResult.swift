public import PinguinWire

/// A plugin's answer to `check.run`, checked against proto-docs/schemas/plugin/check-run-result.json
/// by hand (it is read for every check, so it skips the general validator).
public struct PluginCheckResult: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable {
        case up, down, degraded, unknown
    }

    public var status: Status
    public var message: String
    public var latencyMilliseconds: Double?
    public var phases: JSONObject
    public var details: JSONObject
    public var errorKind: String?
    public var metrics: [JSONValue]

    public static let maximumMessageBytes = 1024
    public static let maximumDetailsBytes = 65_536

    /// Reads a result; the error names the field that breaks the schema.
    public static func parse(_ value: JSONValue) -> Result<PluginCheckResult, PluginResultError> {
        guard let object = value.objectValue else {
            return .failure(.init("result is \(value.typeName), not an object"))
        }
        guard let statusText = object["status"]?.stringValue, let status = Status(rawValue: statusText) else {
            return .failure(.init("result.status must be one of up, down, degraded, unknown, got \(describe(object["status"]))"))
        }
        guard let message = object["message"]?.stringValue else {
            return .failure(.init("result.message must be a string, got \(describe(object["message"]))"))
        }
        guard message.utf8.count <= maximumMessageBytes else {
            return .failure(.init("result.message is \(message.utf8.count) bytes, more than \(maximumMessageBytes)"))
        }
        var latency: Double?
        if let value = object["latency_ms"] {
            guard let number = value.doubleValue, number >= 0, number.isFinite else {
                return .failure(.init("result.latency_ms must be a non-negative number, got \(describe(value))"))
            }
            latency = number
        }
        var phases = JSONObject()
        if let value = object["phases"] {
            guard let object = value.objectValue else {
                return .failure(.init("result.phases must be an object, got \(describe(value))"))
            }
            for (key, phase) in zip(object.keys, object.values) {
                guard let number = phase.doubleValue, number >= 0, number.isFinite else {
                    return .failure(.init("result.phases.\(key) must be a non-negative number, got \(describe(phase))"))
                }
            }
            phases = object
        }
        var details = JSONObject()
        if let value = object["details"] {
            guard let object = value.objectValue else {
                return .failure(.init("result.details must be an object, got \(describe(value))"))
            }
            let size = JSONWriter.bytes(value).count
            guard size <= maximumDetailsBytes else {
                return .failure(.init("result.details is \(size) bytes of JSON, more than \(maximumDetailsBytes)"))
            }
            details = object
        }
        var errorKind: String?
        if let value = object["error_kind"] {
            guard let text = value.stringValue, isErrorKind(text) else {
                return .failure(.init("result.error_kind must be a word of a-z, 0-9 and _ starting with a letter, got \(describe(value))"))
            }
            errorKind = text
        }
        var metrics: [JSONValue] = []
        if let value = object["metrics"] {
            guard let array = value.arrayValue else {
                return .failure(.init("result.metrics must be an array, got \(describe(value))"))
            }
            for (index, metric) in array.enumerated() {
                guard let entry = metric.objectValue, let label = entry["label"]?.stringValue, !label.isEmpty else {
                    return .failure(.init("result.metrics[\(index)] needs a non-empty string label"))
                }
                switch entry["value"] {
                case .null?: break
                case let number? where number.doubleValue != nil: break
                default: return .failure(.init("result.metrics[\(index)].value must be a number or null"))
                }
            }
            metrics = array
        }
        return .success(PluginCheckResult(
            status: status, message: message, latencyMilliseconds: latency, phases: phases, details: details,
            errorKind: errorKind, metrics: metrics))
    }

    private static func isErrorKind(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...63).contains(bytes.count), (0x61...0x7A).contains(bytes[0]) else { return false }
        return bytes.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
    }

    private static func describe(_ value: JSONValue?) -> String {
        guard let value else { return "nothing" }
        let text = String(decoding: JSONWriter.bytes(value).prefix(60), as: UTF8.self)
        return "\(value.typeName) \(text)"
    }
}

public struct PluginResultError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
