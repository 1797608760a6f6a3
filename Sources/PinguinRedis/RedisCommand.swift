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
        var all: [[UInt8]] = []
        all.reserveCapacity(arguments.count + 1)
        all.append(Array(name.utf8))
        for argument in arguments { all.append(argument.redisBytes) }
        self.arguments = all
    }

    public init(rawArguments: [[UInt8]]) {
        precondition(!rawArguments.isEmpty, "a command needs a name")
        arguments = rawArguments
    }

    public var name: String { String(decoding: arguments[0], as: UTF8.self).uppercased() }

    /// Appends the command in RESP, as an array of bulk strings.
    func encode(into buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "*"))
        appendDecimal(arguments.count, to: &buffer)
        for argument in arguments {
            buffer.append(UInt8(ascii: "$"))
            appendDecimal(argument.count, to: &buffer)
            buffer.append(contentsOf: argument)
            buffer.append(13)
            buffer.append(10)
        }
    }

    /// The command name only: arguments may hold secrets (AUTH) or large payloads.
    public var description: String { name }
}

/// Appends `value` in decimal followed by CRLF.
private func appendDecimal(_ value: Int, to buffer: inout [UInt8]) {
    if value < 10 {
        buffer.append(UInt8(ascii: "0") + UInt8(value))
    } else {
        buffer.append(contentsOf: String(value).utf8)
    }
    buffer.append(13)
    buffer.append(10)
}
