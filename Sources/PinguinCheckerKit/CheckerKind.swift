public import PinguinWire

/// One kind of check a plugin offers (`http`, `dns`, `null`…), as announced in its `initialize` answer.
public struct CheckerKind: Sendable {
    /// The monitor kind: `^[a-z0-9][a-z0-9_-]{0,62}$`.
    public var kind: String
    /// One line for `plugin.list`.
    public var description: String
    /// JSON Schema (the 2020-12 subset of `PinguinWire.JSONSchema`) for the monitor's `config`.
    /// The supervisor validates configs against it and fills in its defaults; the kit fills in the
    /// top-level defaults too, so a check sees them even when the plugin is run by hand.
    public var configSchema: JSONValue
    /// JSON Schema for the monitor's `target` (a string), if the kind constrains it.
    public var targetSchema: JSONValue?

    public init(kind: String, description: String, configSchema: JSONValue, targetSchema: JSONValue? = nil) {
        self.kind = kind
        self.description = description
        self.configSchema = configSchema
        self.targetSchema = targetSchema
    }
}
