import Foundation
public import PinguinWire

/// A webhook's body template: text with placeholders filled from the payload.
///
/// - `{{monitor.name}}`: the value at that path as text (strings as they are, numbers and
///   booleans as JSON writes them, objects and arrays as JSON, missing or null as nothing);
/// - `{{json monitor.name}}`: the value as JSON (`"api"`, `null`), for building JSON bodies;
/// - `{{title}}` and `{{body}}`: the notification's words, as chat channels get them
///   (`{{json title}}` and `{{json body}}` quote them);
/// - `{{{{` writes `{{`. A placeholder that is never closed stays as it is.
public enum NotificationTemplate {
    public static func render(_ template: String, payload: JSONObject, text: NotificationText) -> String {
        var output = ""
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            output += rest[..<open.lowerBound]
            let after = rest[open.upperBound...]
            if after.hasPrefix("{{") {
                output += "{{"
                rest = after.dropFirst(2)
                continue
            }
            guard let close = after.range(of: "}}") else {
                output += rest[open.lowerBound...]
                return output
            }
            var name = after[..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            var asJSON = false
            if name.hasPrefix("json ") {
                asJSON = true
                name = String(name.dropFirst(5)).trimmingCharacters(in: .whitespaces)
            }
            let value: JSONValue? = switch name {
            case "title": .string(text.title)
            case "body": .string(text.body)
            default: lookup(name, in: payload)
            }
            if asJSON {
                output += JSONWriter.string(value ?? .null)
            } else {
                switch value {
                case .string(let string)?: output += string
                case nil, .null?: break
                case let other?: output += JSONWriter.string(other)
                }
            }
            rest = after[close.upperBound...]
        }
        output += rest
        return output
    }

    /// The value at a dotted path (`incident.started_at`); array elements by index (`monitor.tags.0`).
    static func lookup(_ path: String, in payload: JSONObject) -> JSONValue? {
        var current: JSONValue = .object(payload)
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            switch current {
            case .object(let object):
                guard let next = object[String(part)] else { return nil }
                current = next
            case .array(let array):
                guard let index = Int(part), array.indices.contains(index) else { return nil }
                current = array[index]
            default:
                return nil
            }
        }
        return current
    }
}
