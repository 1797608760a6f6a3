/// An error from the Redis client. Its description never contains the password.
public struct RedisError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }

        /// The URL or an option is not valid.
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// Connecting failed (refused, timed out, authentication rejected).
        public static let connectionFailed = Code("connectionFailed")
        /// The connection broke; a command in flight may or may not have run.
        public static let connectionClosed = Code("connectionClosed")
        /// No answer within the command timeout; the connection is closed.
        public static let timedOut = Code("timedOut")
        /// The task was cancelled while waiting; the connection is closed.
        public static let cancelled = Code("cancelled")
        /// The server answered with an error reply (`-ERR …`); see ``RedisError/message``.
        public static let server = Code("server")
        /// The reply does not have the shape the command promises.
        public static let unexpectedReply = Code("unexpectedReply")

        public var description: String { name }
    }

    public var code: Code
    public var message: String
    public var underlying: (any Error & Sendable)?

    public init(code: Code, message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// The first word of a server error: `NOSCRIPT`, `BUSYGROUP`, `WRONGTYPE`, `ERR`…
    public var serverErrorPrefix: String? {
        guard code == .server else { return nil }
        return message.split(separator: " ", maxSplits: 1).first.map(String.init)
    }

    public var description: String {
        "Redis \(code): \(message)"
    }
}
