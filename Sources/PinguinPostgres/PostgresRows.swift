/// A column of a query result.
public struct PostgresColumn: Hashable, Sendable {
    public var name: String
    public var type: PostgresType
}

/// The rows of a query result, fully read into memory (the libpq result is freed).
public struct PostgresRows: Sendable, RandomAccessCollection {
    public let columns: [PostgresColumn]
    /// Row-major cells; `nil` is SQL NULL.
    let cells: [[UInt8]?]
    /// The command tag's row count: rows returned, inserted, updated or deleted.
    public let affectedRows: Int

    init(columns: [PostgresColumn], cells: [[UInt8]?], affectedRows: Int) {
        self.columns = columns
        self.cells = cells
        self.affectedRows = affectedRows
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { columns.isEmpty ? 0 : cells.count / columns.count }

    public subscript(position: Int) -> PostgresRow {
        PostgresRow(rows: self, index: position)
    }

    func columnIndex(named name: String) -> Int? {
        columns.firstIndex { $0.name == name }
    }
}

/// One row of ``PostgresRows``.
public struct PostgresRow: Sendable {
    let rows: PostgresRows
    let index: Int

    public var columns: [PostgresColumn] { rows.columns }

    /// The raw value in column `column` (0-based).
    public subscript(column: Int) -> PostgresValue {
        PostgresValue(type: rows.columns[column].type, bytes: rows.cells[index * rows.columns.count + column])
    }

    /// Decodes column `column` (0-based) as `T`; the error names the column.
    public func decode<T: PostgresDecodable>(_: T.Type = T.self, column: Int) throws(PostgresError) -> T {
        guard column >= 0, column < rows.columns.count else {
            throw PostgresError(code: .decoding, message: "column index \(column) is out of range (\(rows.columns.count) columns)")
        }
        do {
            return try self[column].decode(T.self)
        } catch {
            var error = error
            error.column = rows.columns[column].name
            error.message = "column \"\(rows.columns[column].name)\": \(error.message)"
            throw error
        }
    }

    /// Decodes the column named `name` as `T`.
    public func decode<T: PostgresDecodable>(_: T.Type = T.self, column name: String) throws(PostgresError) -> T {
        guard let column = rows.columnIndex(named: name) else {
            throw PostgresError(code: .decoding, message: "the result has no column \"\(name)\"", column: name)
        }
        return try decode(T.self, column: column)
    }
}
