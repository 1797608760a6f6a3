/// Rows laid out in aligned columns, kubectl style: upper-case headers, three spaces apart.
public struct TextTable: Sendable {
    public var headers: [String]
    public var rows: [[String]]

    public init(headers: [String], rows: [[String]] = []) {
        self.headers = headers
        self.rows = rows
    }

    public mutating func append(_ row: [String]) {
        rows.append(row)
    }

    /// The table as text, one line per row, each ending in a newline. `style` may decorate a
    /// padded cell (colour); it never changes the layout.
    public func render(style: (_ column: Int, _ cell: String) -> String = { $1 }) -> String {
        let columnCount = headers.count
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.prefix(columnCount).enumerated() {
                widths[index] = max(widths[index], cell.count)
            }
        }
        var output = ""
        func line(_ cells: [String], styled: Bool) {
            var text = ""
            for index in 0..<columnCount {
                let cell = index < cells.count ? cells[index] : ""
                let isLast = index == columnCount - 1
                let padded = isLast ? cell : cell + String(repeating: " ", count: widths[index] - cell.count + 3)
                text += styled ? style(index, padded) : padded
            }
            while text.hasSuffix(" ") { text.removeLast() }
            output += text + "\n"
        }
        line(headers, styled: false)
        for row in rows { line(row, styled: true) }
        return output
    }

    /// `text` cut to `limit` characters, ending in `…` when cut.
    public static func truncate(_ text: String, to limit: Int) -> String {
        guard text.count > limit, limit > 1 else { return text }
        return String(text.prefix(limit - 1)) + "…"
    }
}
