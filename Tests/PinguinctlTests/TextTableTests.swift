import PinguinWire
import PinguinctlKit
import Testing

@Suite("Tables")
struct TextTableTests {
    @Test("columns align on the widest cell, three spaces apart, no trailing spaces")
    func alignment() {
        var table = TextTable(headers: ["ID", "NAME", "STATUS"])
        table.append(["1", "default/web", "up"])
        table.append(["12", "a", ""])
        #expect(table.render() == """
        ID   NAME          STATUS
        1    default/web   up
        12   a

        """)
    }

    @Test("style decorates cells without moving columns")
    func style() {
        var table = TextTable(headers: ["A", "B"])
        table.append(["x", "y"])
        let rendered = table.render { column, cell in column == 0 ? "[" + cell + "]" : cell }
        #expect(rendered == "A   B\n[x   ]y\n")
    }

    @Test("truncation ends in an ellipsis and keeps the limit")
    func truncation() {
        #expect(TextTable.truncate("https://example.com/very/long", to: 10) == "https://e…")
        #expect(TextTable.truncate("short", to: 10) == "short")
    }

    @Test("monitor ls shows id, namespace/name, kind, target, interval, status, since")
    func monitorTable() throws {
        let monitor = try JSONParser.parse(#"""
        {"id":7,"namespace":"shop","name":"web","kind":"http","target":"https://shop.example.com/health/check/with/a/very/long/path",
         "interval_ms":30000,"paused":false,"enabled":true,
         "status":{"state":"down","since":"2025-06-01T00:00:00Z"}}
        """#).objectValue!
        let now = Timestamp.milliseconds(rfc3339: "2025-06-01T00:05:00Z")!
        let text = Tables.monitors([monitor], now: now).render()
        let lines = text.split(separator: "\n")
        #expect(lines[0].hasPrefix("ID   NAMESPACE/NAME   KIND   TARGET"))
        #expect(lines[1].contains("shop/web"))
        #expect(lines[1].contains("https://shop.example.com/health/check/w…"))
        #expect(lines[1].contains("30s"))
        #expect(lines[1].hasSuffix("down     5m"))
    }
}

@Suite("Durations")
struct DurationTextTests {
    @Test("parses units and compounds", arguments: [
        ("500ms", 500), ("30s", 30_000), ("1m", 60_000), ("1h30m", 5_400_000), ("1d", 86_400_000), ("0", 0), (" 2m ", 120_000),
    ] as [(String, Int64)])
    func parses(_ text: String, _ milliseconds: Int64) {
        #expect(DurationText.milliseconds(text) == milliseconds)
    }

    @Test("refuses bare numbers, unknown units and junk", arguments: ["30", "30x", "", "m", "1.5s", "-1s", "99999999999999999d"])
    func refuses(_ text: String) {
        #expect(DurationText.milliseconds(text) == nil)
    }

    @Test("formats in the largest exact unit")
    func formats() {
        #expect(DurationText.format(milliseconds: 3_600_000) == "1h")
        #expect(DurationText.format(milliseconds: 90_000) == "90s")
        #expect(DurationText.format(milliseconds: 1500) == "1500ms")
        #expect(DurationText.format(milliseconds: 0) == "0ms")
        for value: Int64 in [1, 999, 1000, 61_000, 86_400_000, 172_800_000] {
            #expect(DurationText.milliseconds(DurationText.format(milliseconds: value)) == value)
        }
    }
}
