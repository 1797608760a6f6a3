/// An error printed as one line on stderr, with the exit status scripts can rely on.
public struct CLIFailure: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as an exit status.
    public enum Code: Int32, Sendable {
        /// The server answered with an error, or apply or status found a problem.
        case failed = 1
        /// A usage error or a bad input file.
        case usage = 2
        /// The server cannot be reached (or the connection broke).
        case unreachable = 3
        /// `apply --dry-run --exit-code` found changes to make.
        case changes = 4
    }

    public var message: String
    public var code: Code
    /// The server's error kind (`not_found`, `version_conflict`…) when it answered with one.
    public var kind: String?

    public init(_ message: String, code: Code, kind: String? = nil) {
        self.message = message
        self.code = code
        self.kind = kind
    }

    public var status: Int32 { code.rawValue }
    public var description: String { message }

    public static func usage(_ message: String) -> CLIFailure { CLIFailure(message, code: .usage) }
}
