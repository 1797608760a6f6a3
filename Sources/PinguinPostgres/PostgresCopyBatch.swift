/// Rows for `COPY … FROM STDIN (FORMAT binary)`, encoded as they are appended.
///
/// Encoding happens on the caller's task, so the connection's thread only streams bytes.
/// Binary COPY needs each value's type to match its column exactly (`Int` is `int8`,
/// `Int32` is `int4`, `Date` is `timestamptz`); a mismatch fails the COPY with the server's error.
public struct PostgresCopyBatch: Sendable {
    public let columnCount: Int
    public private(set) var rowCount = 0
    private var bytes: [UInt8]

    private static let signature: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]

    public init(columnCount: Int, reservingBytes: Int = 0) {
        precondition(columnCount > 0 && columnCount <= Int(Int16.max), "COPY needs 1…32767 columns")
        self.columnCount = columnCount
        bytes = []
        bytes.reserveCapacity(max(reservingBytes, 64))
        bytes.append(contentsOf: Self.signature)
        bytes.appendBigEndian(Int32(0))  // flags: no OIDs
        bytes.appendBigEndian(Int32(0))  // header extension length
    }

    /// Appends one row; the number of values must equal `columnCount`.
    public mutating func appendRow<each Value: PostgresEncodable>(_ value: repeat each Value) throws(PostgresError) {
        var count = 0
        for _ in repeat each value { count += 1 }
        guard count == columnCount else {
            throw PostgresError(code: .encoding, message: "COPY row \(rowCount + 1) has \(count) values for \(columnCount) columns")
        }
        let rowStart = bytes.count
        bytes.appendBigEndian(Int16(columnCount))
        do {
            for field in repeat each value {
                try appendField(field)
            }
        } catch {
            bytes.removeSubrange(rowStart...)
            throw error
        }
        rowCount += 1
    }

    /// Appends one row of values whose types are only known at run time.
    public mutating func appendRow(values: [any PostgresEncodable]) throws(PostgresError) {
        guard values.count == columnCount else {
            throw PostgresError(code: .encoding, message: "COPY row \(rowCount + 1) has \(values.count) values for \(columnCount) columns")
        }
        let rowStart = bytes.count
        bytes.appendBigEndian(Int16(columnCount))
        do {
            for field in values {
                try appendField(field)
            }
        } catch {
            bytes.removeSubrange(rowStart...)
            throw error
        }
        rowCount += 1
    }

    private mutating func appendField(_ field: some PostgresEncodable) throws(PostgresError) {
        if field.isPostgresNull {
            bytes.appendBigEndian(Int32(-1))
            return
        }
        let lengthAt = bytes.count
        bytes.appendBigEndian(Int32(0))
        try field.encode(into: &bytes)
        patchLength(&bytes, at: lengthAt)
    }

    /// The whole COPY stream, trailer included.
    func finishedBytes() -> [UInt8] {
        var finished = bytes
        finished.appendBigEndian(Int16(-1))
        return finished
    }
}
