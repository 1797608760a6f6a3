public import Foundation

/// A value that can be one argument of a Redis command (sent as a bulk string).
public protocol RedisArgument: Sendable {
    var redisBytes: [UInt8] { get }
}

extension String: RedisArgument {
    public var redisBytes: [UInt8] { Array(utf8) }
}

extension Substring: RedisArgument {
    public var redisBytes: [UInt8] { Array(utf8) }
}

extension Int: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}

extension Int64: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}

extension Double: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}

extension Array: RedisArgument where Element == UInt8 {
    public var redisBytes: [UInt8] { self }
}

extension Data: RedisArgument {
    public var redisBytes: [UInt8] { Array(self) }
}

/// One command as an argument vector: never formatted into a string, so any byte is safe.
public struct RedisCommand: Sendable, CustomStringConvertible {
    public var arguments: [[UInt8]]

    public init(_ name: String, _ arguments: any RedisArgument...) {
        self.init(name, arguments: arguments)
    }

    public init(_ name: String, arguments: [any RedisArgument]) {
        self.arguments = [Array(name.utf8)] + arguments.map(\.redisBytes)
    }

    public init(rawArguments: [[UInt8]]) {
        precondition(!rawArguments.isEmpty, "a command needs a name")
        arguments = rawArguments
    }

    public var name: String { String(decoding: arguments[0], as: UTF8.self).uppercased() }

    /// The command name only: arguments may hold secrets (AUTH) or large payloads.
    public var description: String { name }
}
