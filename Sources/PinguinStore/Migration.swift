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
