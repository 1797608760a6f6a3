public import Foundation

// Binary encodings of the standard types, as PostgreSQL's `*send`/`*recv` functions define them.

extension Bool: PostgresArrayElement {
    public static var postgresType: PostgresType { .bool }
    public static var postgresArrayType: PostgresType { .boolArray }

    public func encode(into buffer: inout [UInt8]) {
        buffer.append(self ? 1 : 0)
    }

    public static func decode(from bytes: ArraySlice<UInt8>, type: PostgresType) throws(PostgresError) -> Bool {
        guard type == .bool, bytes.count == 1 else { throw typeMismatch(Bool.self, type) }
        return bytes.first! != 0
    }
}

/// Integers decode from any integer column that fits, and fail (never truncate) when it does not.
private func decodeInteger<T: FixedWidthInteger>(
    _: T.Type, from bytes: ArraySlice<UInt8>, type: PostgresType
) throws(PostgresError) -> T {
    var reader = PostgresByteReader(bytes)
    let wide: Int64
    switch (type, bytes.count) {
    case (.int2, 2): wide = Int64(try reader.readInteger(Int16.self))
    case (.int4, 4): wide = Int64(try reader.readInteger(Int32.self))
    case (.int8, 8): wide = try reader.readInteger(Int64.self)
    case (.oidType, 4): wide = Int64(try reader.readInteger(UInt32.self))
    case (.numeric, _):
        // sum(bigint) and friends answer numeric; accept it when it is a whole number that fits.
        let text = try PostgresNumeric.decode(from: bytes, type: type).description
        guard let exact = Int64(text) else {
            throw PostgresError(code: .decoding, message: "numeric value \(text) is not an integer that fits in \(T.self)")
        }
        wide = exact
    default: throw typeMismatch(T.self, type)
    }
    guard let value = T(exactly: wide) else {
        throw PostgresError(code: .decoding, message: "\(type) value \(wide) does not fit in \(T.self)")
    }
    return value
}

extension Int: PostgresArrayElement {
    public static var postgresType: PostgresType { .int8 }
    public static var postgresArrayType: PostgresType { .int8Array }
    public func encode(into buffer: inout [UInt8]) { buffer.appendBigEndian(Int64(self)) }
    public static func decode(from bytes: ArraySlice<UInt8>, type: PostgresType) throws(PostgresError) -> Int {
        try decodeInteger(Int.self, from: bytes, type: type)
    }
}

extension Int64: PostgresArrayElement {
    public static var postgresType: PostgresType { .int8 }
    public static var postgresArrayType: PostgresType { .int8Array }
    public func encode(into buffer: inout [UInt8]) { buffer.appendBigEndian(self) }
    public static func decode(from bytes: ArraySlice<UInt8>, type: PostgresType) throws(PostgresError) -> Int64 {
        try decodeInteger(Int64.self, from: bytes, type: type)
    }
}

extension Int32: PostgresArrayElement {
    public static var postgresType: PostgresType { .int4 }
    public static var postgresArrayType: PostgresType { .int4Array }
    public func encode(into buffer: inout [UInt8]) { buffer.appendBigEndian(self) }
    public static func decode(from bytes: ArraySlice<UInt8>, type: PostgresType) throws(PostgresError) -> Int32 {
        try decodeInteger(Int32.self, from: bytes, type: type)
    }
}

extension Int16: PostgresArrayElement {
    public static var postgresType: PostgresType { .int2 }
    public static var postgresArrayType: PostgresType { .int2Array }
    public func encode(into buffer: inout [UInt8]) { buffer.appendBigEndian(self) }
    public static func decode(from bytes: ArraySlice<UInt8>, type: PostgresType) throws(PostgresError) -> Int16 {
        try decodeInteger(Int16.self, from: bytes, type: type)
    }
}

extension Double: PostgresArrayElement {
    public static var postgresType: PostgresType { .float8 }
    public static var postgresArrayType: PostgresType { .float8Array }
    public func encode(into buffer: inout [UInt8]) { buffer.appendBigEndian(bitPattern) }
    public static func decode(from bytes: ArraySlice<UInt8>, type: PostgresType) throws(PostgresError) -> Double {
        var reader = PostgresByteReader(bytes)
        switch (type, bytes.count) {
        case (.float8, 8): return Double(bitPattern: try reader.readInteger(UInt64.self))
        case (.float4, 4): return Double(Float(bitPattern: try reader.readInteger(UInt32.self)))
        case (.int2, _), (.int4, _), (.int8, _): return Double(try Int64.decode(from: bytes, type: type))
        case (.numeric, _):
            let numeric = try PostgresNumeric.decode(from: bytes, type: type)
            guard let value = Double(numeric.description) else { throw typeMismatch(Double.self, type) }
            return value
        default: throw typeMismatch(Double.self, type)
        }
    }
}

extension Float: PostgresArrayElement {
    public static var postgresType: PostgresType { .float4 }
    public static var postgresArrayType: PostgresType { .float4Array }
    public func encode(into buffer: inout [UInt8]) { buffer.appendBigEndian(bitPattern) }
    public static func decode(from bytes: ArraySlice<UInt8>, type: PostgresType) throws(PostgresError) -> Float {
        guard type == .float4, bytes.count == 4 else { throw typeMismatch(Float.self, type) }
        var reader = PostgresByteReader(bytes)
        return Float(bitPattern: try reader.readInteger(UInt32.self))
    }
}

extension String: PostgresArrayElement {
    public static var postgresType: PostgresType { .text }
    public static var postgresArrayType: PostgresType { .textArray }
    public func encode(into buffer: inout [UInt8]) { buffer.append(contentsOf: utf8) }

    public static func decode(from bytes: ArraySlice<UInt8>, type: PostgresType) throws(PostgresError) -> String {
        switch type {
        case .text, .varchar, .name, .bpchar, .char, .json, .unspecified:
            return String(decoding: bytes, as: UTF8.self)
        case .jsonb:
            guard bytes.first == 1 else {
                throw PostgresError(code: .decoding, message: "unsupported jsonb format version")
            }
            return String(decoding: bytes.dropFirst(), as: UTF8.self)
        default:
            throw typeMismatch(String.self, type)
        }
    }
}

/// `bytea`. (`[UInt8]` is taken by arrays of integers, so raw bytes travel as `Data`.)
extension Data: PostgresArrayElement {
    public static var postgresType: PostgresType { .bytea }
    public static var postgresArrayType: PostgresType { .byteaArray }
    public func encode(into buffer: inout [UInt8]) { buffer.append(contentsOf: self) }
    public static func decode(from bytes: ArraySlice<UInt8>, type: PostgresType) throws(PostgresError) -> Data {
        guard type == .bytea else { throw typeMismatch(Data.self, type) }
        return Data(bytes)
    }
}

/// Microseconds between the Unix epoch and PostgreSQL's, 2000-01-01 00:00:00 UTC.
private let postgresEpochOffsetMicroseconds: Int64 = 946_684_800_000_000

/// `timestamptz`, with microsecond precision (PostgreSQL's). `±infinity` decode as `distantPast`/`distantFuture`.
extension Date: PostgresArrayElement {
    public static var postgresType: PostgresType { .timestamptz }
    public static var postgresArrayType: PostgresType { .timestamptzArray }

    public func encode(into buffer: inout [UInt8]) throws(PostgresError) {
        let micros = (timeIntervalSince1970 * 1_000_000).rounded()
        guard micros.isFinite, let unixMicros = Int64(exactly: micros) else {
            throw PostgresError(code: .encoding, message: "date \(self) is out of timestamptz range")
        }
        buffer.appendBigEndian(unixMicros - postgresEpochOffsetMicroseconds)
    }

    public static func decode(from bytes: ArraySlice<UInt8>, type: PostgresType) throws(PostgresError) -> Date {
        guard type == .timestamptz || type == .timestamp, bytes.count == 8 else { throw typeMismatch(Date.self, type) }
        var reader = PostgresByteReader(bytes)
        let micros = try reader.readInteger(Int64.self)
        if micros == .max { return .distantFuture }
        if micros == .min { return .distantPast }
        // Split before converting so that large values keep microsecond precision.
        let unix = micros + postgresEpochOffsetMicroseconds
        let seconds = unix.quotientAndRemainder(dividingBy: 1_000_000)
        return Date(timeIntervalSince1970: Double(seconds.quotient) + Double(seconds.remainder) / 1_000_000)
    }
}

extension UUID: PostgresArrayElement {
    public static var postgresType: PostgresType { .uuid }
    public static var postgresArrayType: PostgresType { .uuidArray }
    public func encode(into buffer: inout [UInt8]) {
        withUnsafeBytes(of: uuid) { buffer.append(contentsOf: $0) }
    }
    public static func decode(from bytes: ArraySlice<UInt8>, type: PostgresType) throws(PostgresError) -> UUID {
        guard type == .uuid, bytes.count == 16 else { throw typeMismatch(UUID.self, type) }
        var raw: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &raw) { $0.copyBytes(from: bytes) }
        return UUID(uuid: raw)
    }
}

/// A `jsonb` value: JSON text, sent and received as is. Build one from any `Encodable`.
public struct PostgresJSONB: PostgresArrayElement, Hashable {
    /// The JSON text, UTF-8.
    public var text: String

    public init(text: String) {
        self.text = text
    }

    public init(encoding value: some Encodable, encoder: JSONEncoder = JSONEncoder()) throws {
        text = String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    public func decode<T: Decodable>(_: T.Type = T.self, decoder: JSONDecoder = JSONDecoder()) throws -> T {
        try decoder.decode(T.self, from: Data(text.utf8))
    }

    public static var postgresType: PostgresType { .jsonb }
    public static var postgresArrayType: PostgresType { .jsonbArray }

    public func encode(into buffer: inout [UInt8]) {
        buffer.append(1)  // jsonb binary format version
        buffer.append(contentsOf: text.utf8)
    }

    public static func decode(from bytes: ArraySlice<UInt8>, type: PostgresType) throws(PostgresError) -> PostgresJSONB {
        guard type == .jsonb || type == .json else { throw typeMismatch(PostgresJSONB.self, type) }
        return PostgresJSONB(text: try String.decode(from: bytes, type: type))
    }
}

/// One-dimensional arrays without NULL elements, in `array_send` format.
extension Array: PostgresEncodable where Element: PostgresArrayElement {
    public static var postgresType: PostgresType { Element.postgresArrayType }

    public func encode(into buffer: inout [UInt8]) throws(PostgresError) {
        guard !isEmpty else {
            buffer.appendBigEndian(Int32(0))  // dimensions
            buffer.appendBigEndian(Int32(0))  // has nulls
            buffer.appendBigEndian(Element.postgresType.oid)
            return
        }
        guard let count = Int32(exactly: count) else {
            throw PostgresError(code: .encoding, message: "array of \(self.count) elements is too long")
        }
        buffer.appendBigEndian(Int32(1))
        buffer.appendBigEndian(Int32(0))
        buffer.appendBigEndian(Element.postgresType.oid)
        buffer.appendBigEndian(count)
        buffer.appendBigEndian(Int32(1))  // lower bound
        for element in self {
            let lengthAt = buffer.count
            buffer.appendBigEndian(Int32(0))
            try element.encode(into: &buffer)
            patchLength(&buffer, at: lengthAt)
        }
    }
}

extension Array: PostgresDecodable where Element: PostgresArrayElement {
    public static func decode(from bytes: ArraySlice<UInt8>, type: PostgresType) throws(PostgresError) -> [Element] {
        guard type == Element.postgresArrayType else { throw typeMismatch([Element].self, type) }
        var reader = PostgresByteReader(bytes)
        let dimensions = try reader.readInteger(Int32.self)
        _ = try reader.readInteger(Int32.self)  // has-nulls flag; NULL elements are rejected below
        let elementType = PostgresType(oid: try reader.readInteger(UInt32.self))
        if dimensions == 0 { return [] }
        guard dimensions == 1 else {
            throw PostgresError(code: .decoding, message: "arrays of \(dimensions) dimensions are not supported")
        }
        let count = try reader.readInteger(Int32.self)
        _ = try reader.readInteger(Int32.self)  // lower bound
        var result: [Element] = []
        result.reserveCapacity(Int(Swift.max(count, 0)))
        for index in 0..<Int(Swift.max(count, 0)) {
            let length = try reader.readInteger(Int32.self)
            guard length >= 0 else {
                throw PostgresError(code: .decoding, message: "array element \(index + 1) is NULL; \(Element.self) cannot hold it")
            }
            result.append(try Element.decode(from: try reader.readBytes(Int(length)), type: elementType))
        }
        return result
    }
}

/// Overwrites the Int32 placeholder at `lengthAt` with the number of bytes written after it.
func patchLength(_ buffer: inout [UInt8], at lengthAt: Int) {
    let length = UInt32(buffer.count - lengthAt - 4)
    buffer[lengthAt] = UInt8(truncatingIfNeeded: length >> 24)
    buffer[lengthAt + 1] = UInt8(truncatingIfNeeded: length >> 16)
    buffer[lengthAt + 2] = UInt8(truncatingIfNeeded: length >> 8)
    buffer[lengthAt + 3] = UInt8(truncatingIfNeeded: length)
}

/// A `numeric` value, exact, as its decimal text (`"-12.50"`, `"NaN"`, `"Infinity"`).
/// `Int` and `Double` also decode from numeric columns (Int only for whole numbers that fit).
public struct PostgresNumeric: PostgresDecodable, Hashable, CustomStringConvertible {
    public let description: String

    public init(_ text: String) {
        description = text
    }

    public static func decode(from bytes: ArraySlice<UInt8>, type: PostgresType) throws(PostgresError) -> PostgresNumeric {
        guard type == .numeric else { throw typeMismatch(PostgresNumeric.self, type) }
        var reader = PostgresByteReader(bytes)
        let count = Int(try reader.readInteger(Int16.self))
        let weight = Int(try reader.readInteger(Int16.self))
        let sign = try reader.readInteger(UInt16.self)
        let scale = Int(try reader.readInteger(Int16.self))
        switch sign {
        case 0xC000: return PostgresNumeric("NaN")
        case 0xD000: return PostgresNumeric("Infinity")
        case 0xF000: return PostgresNumeric("-Infinity")
        case 0x0000, 0x4000: break
        default: throw PostgresError(code: .decoding, message: "numeric has an unknown sign 0x\(String(sign, radix: 16))")
        }
        var digits: [Int] = []
        for _ in 0..<max(count, 0) {
            let digit = Int(try reader.readInteger(Int16.self))
            guard (0..<10_000).contains(digit) else {
                throw PostgresError(code: .decoding, message: "numeric digit \(digit) is out of range")
            }
            digits.append(digit)
        }
        // Base-10000 groups: group i is worth 10000^(weight - i).
        var integer = ""
        if weight >= 0 {
            for index in 0...weight {
                let group = index < digits.count ? digits[index] : 0
                integer += index == 0 ? String(group) : String(repeating: "0", count: 4 - String(group).count) + String(group)
            }
        } else {
            integer = "0"
        }
        var fraction = ""
        if scale > 0 {
            var index = weight + 1
            while fraction.count < scale {
                let group = index >= 0 && index < digits.count ? digits[index] : 0
                fraction += String(repeating: "0", count: 4 - String(group).count) + String(group)
                index += 1
            }
            fraction = String(fraction.prefix(scale))
        }
        let negative = sign == 0x4000 && (digits.contains { $0 != 0 })
        return PostgresNumeric((negative ? "-" : "") + integer + (fraction.isEmpty ? "" : "." + fraction))
    }
}
