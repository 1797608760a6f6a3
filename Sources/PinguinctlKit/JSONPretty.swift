public import PinguinWire

/// JSON indented by two spaces, for `-o json` read by people and by `jq` alike.
public enum JSONPretty {
    public static func string(_ value: JSONValue) -> String {
        var output = ""
        write(value, indent: 0, into: &output)
        return output
    }

    private static func write(_ value: JSONValue, indent: Int, into output: inout String) {
        let inner = String(repeating: "  ", count: indent + 1)
        let outer = String(repeating: "  ", count: indent)
        switch value {
        case .array(let values) where !values.isEmpty:
            output += "[\n"
            for (index, element) in values.enumerated() {
                output += inner
                write(element, indent: indent + 1, into: &output)
                output += index == values.count - 1 ? "\n" : ",\n"
            }
            output += outer + "]"
        case .object(let object) where object.count > 0:
            output += "{\n"
            for index in 0..<object.count {
                output += inner + JSONWriter.string(.string(object.keys[index])) + ": "
                write(object.values[index], indent: indent + 1, into: &output)
                output += index == object.count - 1 ? "\n" : ",\n"
            }
            output += outer + "}"
        default:
            output += JSONWriter.string(value)
        }
    }
}
