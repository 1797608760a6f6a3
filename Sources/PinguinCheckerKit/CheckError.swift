/// Thrown by a checker that could not check. The supervisor records `unknown` with `message`,
/// never `down`. Any other thrown error is answered as an internal error with its description.
public struct CheckError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable {
        /// The JSON-RPC error code of the answer.
        public let rawValue: Int

        /// The config or target cannot be checked (`-32602`).
        public static let invalidParams = Code(rawValue: -32602)
        /// Anything else that stopped the check (`-32603`).
        public static let internalError = Code(rawValue: -32603)
    }

    public var code: Code
    /// A stable word for `error.data.kind` (`bad_config`, `no_permission`…).
    public var kind: String
    public var message: String

    public init(_ message: String, kind: String = "internal", code: Code = .internalError) {
        self.message = message
        self.kind = kind
        self.code = code
    }

    /// The config or target cannot be checked (a value the schema could not rule out).
    public static func invalidConfig(_ message: String) -> CheckError {
        CheckError(message, kind: "invalid_config", code: .invalidParams)
    }

    public var description: String { message }
}
