public import PinguinPluginHost
public import PinguinWire

/// One check to run through the plugin: a target, a config, and the status it must answer
/// (`pinguinctl plugin test --case TARGET CONFIG STATUS`).
public struct ConformanceCase: Sendable, Hashable {
    public var target: String
    public var config: JSONObject
    /// nil: any valid status will do.
    public var expectedStatus: PluginCheckResult.Status?

    public init(target: String, config: JSONObject, expectedStatus: PluginCheckResult.Status?) {
        self.target = target
        self.config = config
        self.expectedStatus = expectedStatus
    }

    /// Reads a case from its command-line words: CONFIG is a JSON object, STATUS one of `up`,
    /// `down`, `degraded`, `unknown` or `any`.
    public init(target: String, config: String, status: String) throws(ConformanceUsageError) {
        let parsed: JSONValue
        do {
            parsed = try JSONParser.parse(Array(config.utf8))
        } catch {
            throw ConformanceUsageError("--case \(target): CONFIG is not JSON (\(error.description)): \(config)")
        }
        guard let object = parsed.objectValue else {
            throw ConformanceUsageError("--case \(target): CONFIG must be a JSON object, got \(parsed.typeName) \(config)")
        }
        let expected: PluginCheckResult.Status?
        if status == "any" {
            expected = nil
        } else if let known = PluginCheckResult.Status(rawValue: status) {
            expected = known
        } else {
            throw ConformanceUsageError("--case \(target): STATUS must be up, down, degraded, unknown or any, got \"\(status)\"")
        }
        self.init(target: target, config: object, expectedStatus: expected)
    }

    /// `"/etc/hostname" {}`: how the case is named in the report.
    var label: String {
        "\(JSONWriter.string(.string(target))) \(JSONWriter.string(.object(config)))"
    }
}

/// The command line asks for something impossible (exit status 2).
public struct ConformanceUsageError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
