/// An error from the PostgreSQL client: a server error with its SQLSTATE, a connection
/// problem, or a value that could not be encoded or decoded.
///
/// Its description never contains a password: libpq messages name host and port only, and
/// connection strings are redacted before they reach a message.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }

        /// The connection string or an option is not valid.
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// Opening the connection failed (refused, authentication, unknown database…).
        public static let connectionFailed = Code("connectionFailed")
        /// The connection broke or was closed; the statement's outcome is unknown.
        public static let connectionClosed = Code("connectionClosed")
        /// The server rejected the statement; see ``PostgresError/sqlState``.
        public static let server = Code("server")
        /// The statement was cancelled because its task was cancelled.
        public static let cancelled = Code("cancelled")
        /// A bound value could not be encoded.
        public static let encoding = Code("encoding")
        /// A column value could not be decoded as the requested Swift type.
        public static let decoding = Code("decoding")
        /// The server answered in a way the client did not expect.
        public static let unexpectedResult = Code("unexpectedResult")

        public var description: String { name }
    }

    public var code: Code
    /// What went wrong, in one line.
    public var message: String
    /// The five-character SQLSTATE of a server error (e.g. `23505` for a unique violation).
    public var sqlState: String?
    public var detail: String?
    public var hint: String?
    public var constraint: String?
    public var table: String?
    public var column: String?
    public var underlying: (any Error & Sendable)?

    public init(
        code: Code, message: String, sqlState: String? = nil, detail: String? = nil, hint: String? = nil,
        constraint: String? = nil, table: String? = nil, column: String? = nil,
        underlying: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.table = table
        self.column = column
        self.underlying = underlying
    }

    public var description: String {
        var text = "PostgreSQL \(code)"
        if let sqlState { text += " \(sqlState)" }
        text += ": \(message)"
        if let detail { text += " (\(detail))" }
        if let hint { text += " hint: \(hint)" }
        return text
    }
}
