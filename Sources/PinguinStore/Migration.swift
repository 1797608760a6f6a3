/// One versioned change to the schema, with the SQL that undoes it.
public struct Migration: Sendable, Hashable {
    public let version: Int
    public let name: String
    public let up: String
    public let down: String

    public init(version: Int, name: String, up: String, down: String) {
        self.version = version
        self.name = name
        self.up = up
        self.down = down
    }
}

extension Migration {
    /// A fingerprint of the SQL (FNV-1a, 64 bits, hex), recorded when the migration is applied, so
    /// that a migration edited after it ran is noticed instead of silently diverging.
    public var checksum: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (up + "\u{0}" + down).utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
