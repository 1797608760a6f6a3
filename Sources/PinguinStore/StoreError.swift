/// An error of the storage layer that is not simply a database error.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }

        /// An argument is out of range or inconsistent; the message names it.
        public static let invalidArgument = Code("invalidArgument")
        /// What was asked for does not exist.
        public static let notFound = Code("notFound")
        /// The database schema is older or newer than this binary expects.
        public static let schemaMismatch = Code("schemaMismatch")

        public var description: String { name }
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
