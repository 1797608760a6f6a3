public import PinguinWire
import Yams

/// Where a value came from in a YAML file, for error messages.
public struct YAMLPosition: Sendable, Equatable {
    public var line: Int
    public var column: Int
}

/// Converts between YAML and ``JSONValue``, the CLI's one value type.
public enum YAMLBridge {
    /// Every document in `text`, empty ones as `nil`, with a position per document root.
    static func documents(_ text: String) throws(CLIFailure) -> [Node?] {
        do {
            var sequence = try Yams.compose_all(yaml: text)
            var nodes: [Node?] = []
            while let node = sequence.next() { nodes.append(node) }
            if let error = sequence.error { throw error }
            // An empty document between `---` lines composes to an empty plain scalar.
            return nodes.map { node in
                if case .scalar(let scalar) = node, scalar.string.isEmpty, scalar.style == .plain || scalar.style == .any { return nil }
                return node
            }
        } catch let error as CLIFailure {
            throw error
        } catch let error as YamlError {
            throw CLIFailure.usage("invalid YAML: " + describe(error))
        } catch {
            throw CLIFailure.usage("invalid YAML: \(error)")
        }
    }

    /// The first line of a libyaml error, with its position: YamlError's own text spans lines.
    private static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _):
            let prefix = context.map { "\($0.text) " } ?? ""
            return "line \(mark.line): \(prefix)\(problem)"
        case .composer(let context, let problem, let mark, _):
            let prefix = context.map { "\($0.text) " } ?? ""
            return "line \(mark.line): \(prefix)\(problem)"
        default:
            return String(describing: error).split(separator: "\n").first.map(String.init) ?? "error"
        }
    }

    /// Parses YAML text holding one document into a JSON value (`null` when empty).
    public static func parse(_ text: String) throws(CLIFailure) -> JSONValue {
        let nodes = try documents(text)
        guard nodes.count <= 1 else { throw CLIFailure.usage("expected one YAML document, found \(nodes.count)") }
        guard let node = nodes.first ?? nil else { return .null }
        return try json(node, path: "")
    }

    static func position(_ node: Node) -> YAMLPosition? {
        node.mark.map { YAMLPosition(line: $0.line, column: $0.column) }
    }

    /// The JSON value of a YAML node: plain scalars resolve as YAML 1.1 core types do, quoted
    /// ones stay strings; mapping keys must be strings.
    static func json(_ node: Node, path: String) throws(CLIFailure) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            let tag = node.tag.description
            switch tag {
            case Tag.Name.null.rawValue: return .null
            case Tag.Name.bool.rawValue: return node.bool.map(JSONValue.bool) ?? .string(scalar.string)
            case Tag.Name.int.rawValue:
                if let value = node.int { return .int(value) }
                return .string(scalar.string)
            case Tag.Name.float.rawValue:
                if let value = node.float, value.isFinite { return .double(value) }
                return .string(scalar.string)
            default: return .string(scalar.string)
            }
        case .mapping(let mapping):
            var object = JSONObject()
            var seen = Set<String>()
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else {
                    throw CLIFailure.usage("\(path.isEmpty ? "document" : path): keys must be strings")
                }
                let name = keyScalar.string
                let childPath = path.isEmpty ? name : "\(path).\(name)"
                guard seen.insert(name).inserted else { throw CLIFailure.usage("\(childPath): given twice") }
                object.append(name, try json(value, path: childPath))
            }
            return .object(object)
        case .sequence(let sequence):
            var values: [JSONValue] = []
            for (index, element) in sequence.enumerated() {
                values.append(try json(element, path: "\(path)[\(index)]"))
            }
            return .array(values)
        case .alias:
            throw CLIFailure.usage("\(path): YAML aliases are not supported")
        }
    }

    /// The YAML node for a JSON value; strings that would read back as another type are quoted.
    static func node(_ value: JSONValue) -> Node {
        switch value {
        case .null: return Node("null", Tag(.null))
        case .bool(let flag): return Node(flag ? "true" : "false", Tag(.bool))
        case .number(let text): return Node(text, Tag(text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) ? .float : .int))
        case .string(let text):
            // libyaml writes plain whatever it can: text a reader would take for a number,
            // boolean or null ("123", "true", "") must be quoted to stay a string.
            if text.contains("\n") { return Node(text, Tag(.str), .literal) }
            let readsAsString = Node(text).tag.description == Tag.Name.str.rawValue
            return Node(text, Tag(.str), readsAsString ? .any : .doubleQuoted)
        case .array(let values):
            return Node(values.map(node), Tag(.seq), values.isEmpty ? .flow : .block)
        case .object(let object):
            let pairs = (0..<object.count).map { (Node(object.keys[$0], Tag(.str)), node(object.values[$0])) }
            return Node(pairs, Tag(.map), pairs.isEmpty ? .flow : .block)
        }
    }

    /// YAML text for `value`, keys in their order, ending in a newline.
    public static func string(_ value: JSONValue) -> String {
        string(documents: [value])
    }

    /// Several YAML documents separated by `---`.
    public static func string(documents values: [JSONValue]) -> String {
        do {
            return try Yams.serialize(nodes: values.map(node), indent: 2, width: -1, allowUnicode: true, explicitStart: values.count > 1)
        } catch {
            // The emitter fails only on nodes we never build (invalid tags or anchors).
            return values.map { JSONWriter.string($0) }.joined(separator: "\n---\n") + "\n"
        }
    }
}
