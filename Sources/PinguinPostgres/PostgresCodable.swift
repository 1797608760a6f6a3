/// A Swift value that can be sent to PostgreSQL in the binary format.
public protocol PostgresEncodable: Sendable {
    /// The type the value is sent as; the server casts from it where the statement asks.
    static var postgresType: PostgresType { get }
    /// True for SQL NULL (an empty `Optional`); nothing is encoded then.
    var isPostgresNull: Bool { get }
    /// Appends the value's binary representation.
    func encode(into buffer: inout [UInt8]) throws(PostgresError)
}

extension PostgresEncodable {
    public var isPostgresNull: Bool { false }
}

/// A Swift value that can be read from a column in the binary format.
public protocol PostgresDecodable: Sendable {
    /// Decodes a non-NULL value of `type` from `bytes`.
    static func decode(from bytes: ArraySlice<UInt8>, type: PostgresType) throws(PostgresError) -> Self
    /// The value for SQL NULL; throws except for `Optional`.
    static func decodeNull() throws(PostgresError) -> Self
}

extension PostgresDecodable {
    public static func decodeNull() throws(PostgresError) -> Self {
        throw PostgresError(code: .decoding, message: "NULL cannot be decoded as \(Self.self); decode an Optional")
    }
}

/// A type that can be an element of a PostgreSQL array (one dimension, no NULL elements).
public protocol PostgresArrayElement: PostgresEncodable, PostgresDecodable {
    static var postgresArrayType: PostgresType { get }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public static var postgresType: PostgresType { Wrapped.postgresType }
    public var isPostgresNull: Bool { self == nil }
    public func encode(into buffer: inout [UInt8]) throws(PostgresError) {
        if let value = self { try value.encode(into: &buffer) }
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static func decode(from bytes: ArraySlice<UInt8>, type: PostgresType) throws(PostgresError) -> Self {
        try Wrapped.decode(from: bytes, type: type)
    }

    public static func decodeNull() throws(PostgresError) -> Self { nil }
}

/// A value already in PostgreSQL's binary format, with its type; `bytes == nil` is NULL.
public struct PostgresValue: Hashable, Sendable {
    public var type: PostgresType
    public var bytes: [UInt8]?

    public init(type: PostgresType, bytes: [UInt8]?) {
        self.type = type
        self.bytes = bytes
    }

    public init(_ value: some PostgresEncodable) throws(PostgresError) {
        self = try PostgresValue(encoding: value)
    }

    init(encoding value: any PostgresEncodable) throws(PostgresError) {
        type = Swift.type(of: value).postgresType
        if value.isPostgresNull {
            bytes = nil
        } else {
            var buffer: [UInt8] = []
            try value.encode(into: &buffer)
            bytes = buffer
        }
    }

    /// Decodes the value as `T`.
    public func decode<T: PostgresDecodable>(_: T.Type = T.self) throws(PostgresError) -> T {
        guard let bytes else { return try T.decodeNull() }
        return try T.decode(from: bytes[...], type: type)
    }
}

extension PostgresValue: PostgresEncodable {
    public static var postgresType: PostgresType { .unspecified }
    public var isPostgresNull: Bool { bytes == nil }
    public func encode(into buffer: inout [UInt8]) throws(PostgresError) {
        if let bytes { buffer.append(contentsOf: bytes) }
    }
}

// MARK: - Byte helpers

extension Array where Element == UInt8 {
    @inlinable
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}

/// Reads big-endian integers from a byte slice, failing cleanly on short input.
struct PostgresByteReader {
    var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { bytes.isEmpty }

    mutating func readInteger<T: FixedWidthInteger>(_: T.Type = T.self) throws(PostgresError) -> T {
        let size = MemoryLayout<T>.size
        guard bytes.count >= size else {
            throw PostgresError(code: .decoding, message: "value is truncated: \(bytes.count) bytes left, need \(size)")
        }
        var value: T = 0
        for byte in bytes.prefix(size) {
            value = (value << 8) | T(byte)
        }
        bytes = bytes.dropFirst(size)
        return value
    }

    mutating func readBytes(_ count: Int) throws(PostgresError) -> ArraySlice<UInt8> {
        guard count >= 0, bytes.count >= count else {
            throw PostgresError(code: .decoding, message: "value is truncated: \(bytes.count) bytes left, need \(count)")
        }
        let slice = bytes.prefix(count)
        bytes = bytes.dropFirst(count)
        return slice
    }
}

func typeMismatch<T>(_: T.Type, _ type: PostgresType) -> PostgresError {
    PostgresError(code: .decoding, message: "a \(type) value cannot be decoded as \(T.self)")
}
