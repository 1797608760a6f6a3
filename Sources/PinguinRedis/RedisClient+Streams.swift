/// One entry of a Redis stream.
public struct RedisStreamEntry: Sendable, Hashable {
    public var id: String
    /// Field names and values. Empty for an entry deleted while it was pending.
    public var fields: [String: [UInt8]]
    /// The stream it was read from, when a read named several (else empty).
    public var stream: String

    public init(id: String, fields: [String: [UInt8]], stream: String = "") {
        self.id = id
        self.fields = fields
        self.stream = stream
    }

    public func string(_ field: String) -> String? {
        fields[field].map { String(decoding: $0, as: UTF8.self) }
    }
}

/// What `XPENDING key group` reports.
public struct RedisPendingSummary: Sendable, Hashable {
    public var count: Int
    public var smallestID: String?
    public var greatestID: String?
    /// Pending entries per consumer.
    public var consumers: [String: Int]
}

/// One pending entry as `XPENDING key group start end count` reports it.
public struct RedisPendingEntry: Sendable, Hashable {
    public var id: String
    public var consumer: String
    public var idle: Duration
    public var deliveries: Int
}

/// What `XAUTOCLAIM` returns: claimed entries, the cursor to continue from, and the IDs of
/// pending entries whose messages no longer exist (removed from the pending list by Redis).
public struct RedisAutoClaim: Sendable, Hashable {
    public var nextStart: String
    public var entries: [RedisStreamEntry]
    public var deletedIDs: [String]
}

extension RedisClient {
    /// `XADD key [MAXLEN ~ n] * field value …`; returns the new entry's ID.
    @discardableResult
    public func xadd(_ key: String, fields: [(String, any RedisArgument)], id: String = "*", approximateMaxLength: Int? = nil) async throws -> String {
        let reply = try await send(Self.xaddCommand(key, fields: fields, id: id, approximateMaxLength: approximateMaxLength))
        guard let entryID = reply.string else {
            throw RedisError(code: .unexpectedReply, message: "XADD returned no ID")
        }
        return entryID
    }

    /// The `XADD` command, for use in pipelines.
    public static func xaddCommand(_ key: String, fields: [(String, any RedisArgument)], id: String = "*", approximateMaxLength: Int? = nil) -> RedisCommand {
        var arguments: [any RedisArgument] = [key]
        if let approximateMaxLength { arguments += ["MAXLEN", "~", approximateMaxLength] }
        arguments.append(id)
        for (field, value) in fields {
            arguments.append(field)
            arguments.append(value)
        }
        return RedisCommand("XADD", arguments: arguments)
    }

    /// `XGROUP CREATE key group id MKSTREAM`; an existing group is left as it is.
    public func xgroupCreate(_ key: String, group: String, startID: String = "$") async throws {
        do {
            try await send("XGROUP", "CREATE", key, group, startID, "MKSTREAM")
        } catch let error as RedisError where error.serverErrorPrefix == "BUSYGROUP" {
            return
        }
    }

    /// `XREADGROUP GROUP group consumer COUNT n [BLOCK ms] STREAMS key id`. `id` ">" reads new
    /// entries; "0" re-reads this consumer's pending ones. Returns [] when `block` passes idle.
    public func xreadgroup(
        _ key: String, group: String, consumer: String, id: String = ">", count: Int = 100, block: Duration? = nil
    ) async throws -> [RedisStreamEntry] {
        var arguments: [any RedisArgument] = ["GROUP", group, consumer, "COUNT", count]
        if let block { arguments += ["BLOCK", Int(block.milliseconds)] }
        arguments += ["STREAMS", key, id]
        let command = RedisCommand("XREADGROUP", arguments: arguments)
        return try await withConnection { try await $0.sendStreamRead(command, blocking: block ?? .zero) }
    }

    /// `XREADGROUP … STREAMS key… >…` over several streams at once; each entry names its stream.
    public func xreadgroup(
        streams: [String], group: String, consumer: String, count: Int = 100, block: Duration? = nil
    ) async throws -> [RedisStreamEntry] {
        var arguments: [any RedisArgument] = ["GROUP", group, consumer, "COUNT", count]
        if let block { arguments += ["BLOCK", Int(block.milliseconds)] }
        arguments.append("STREAMS")
        arguments += streams.map { $0 as any RedisArgument }
        arguments += streams.map { _ in ">" as any RedisArgument }
        let command = RedisCommand("XREADGROUP", arguments: arguments)
        return try await withConnection { try await $0.sendStreamRead(command, blocking: block ?? .zero) }
    }

    /// `XACK key group id…`; returns how many were acknowledged.
    @discardableResult
    public func xack(_ key: String, group: String, ids: [String]) async throws -> Int {
        guard !ids.isEmpty else { return 0 }
        return try await send(RedisCommand("XACK", arguments: [key, group] + ids)).int ?? 0
    }

    /// `XAUTOCLAIM key group consumer min-idle start COUNT n`: takes over entries that another
    /// consumer has held for longer than `minIdle`.
    public func xautoclaim(
        _ key: String, group: String, consumer: String, minIdle: Duration, start: String = "0-0", count: Int = 100
    ) async throws -> RedisAutoClaim {
        let reply = try await send("XAUTOCLAIM", key, group, consumer, Int(minIdle.milliseconds), start, "COUNT", count)
        guard let parts = reply.array, parts.count >= 2, let next = parts[0].string, let items = parts[1].array else {
            throw RedisError(code: .unexpectedReply, message: "XAUTOCLAIM reply has an unexpected shape")
        }
        let deleted = parts.count > 2 ? (parts[2].array ?? []).compactMap(\.string) : []
        return RedisAutoClaim(nextStart: next, entries: try items.map(Self.streamEntry), deletedIDs: deleted)
    }

    /// `XPENDING key group`.
    public func xpending(_ key: String, group: String) async throws -> RedisPendingSummary {
        let reply = try await send("XPENDING", key, group)
        guard let parts = reply.array, parts.count == 4, let count = parts[0].int else {
            throw RedisError(code: .unexpectedReply, message: "XPENDING reply has an unexpected shape")
        }
        var consumers: [String: Int] = [:]
        for consumer in parts[3].array ?? [] {
            if let pair = consumer.array, pair.count == 2, let name = pair[0].string, let pending = pair[1].int {
                consumers[name] = pending
            }
        }
        return RedisPendingSummary(count: count, smallestID: parts[1].string, greatestID: parts[2].string, consumers: consumers)
    }

    /// `XPENDING key group [IDLE ms] start end count [consumer]`.
    public func xpending(
        _ key: String, group: String, start: String = "-", end: String = "+", count: Int = 100,
        consumer: String? = nil, minIdle: Duration? = nil
    ) async throws -> [RedisPendingEntry] {
        var arguments: [any RedisArgument] = [key, group]
        if let minIdle { arguments += ["IDLE", Int(minIdle.milliseconds)] }
        arguments += [start, end, count]
        if let consumer { arguments.append(consumer) }
        let reply = try await send(RedisCommand("XPENDING", arguments: arguments))
        return try (reply.array ?? []).map { item in
            guard let fields = item.array, fields.count == 4, let id = fields[0].string, let owner = fields[1].string,
                let idle = fields[2].int, let deliveries = fields[3].int
            else {
                throw RedisError(code: .unexpectedReply, message: "XPENDING entry has an unexpected shape")
            }
            return RedisPendingEntry(id: id, consumer: owner, idle: .milliseconds(idle), deliveries: deliveries)
        }
    }

    static func streamEntry(_ value: RedisValue) throws(RedisError) -> RedisStreamEntry {
        guard let pair = value.array, pair.count == 2, let id = pair[0].string else {
            throw RedisError(code: .unexpectedReply, message: "stream entry has an unexpected shape")
        }
        var fields: [String: [UInt8]] = [:]
        let flat = pair[1].array ?? []
        guard flat.count % 2 == 0 else {
            throw RedisError(code: .unexpectedReply, message: "stream entry \(id) has an odd number of field items")
        }
        var index = 0
        while index < flat.count {
            if let name = flat[index].string, let value = flat[index + 1].bytes { fields[name] = value }
            index += 2
        }
        return RedisStreamEntry(id: id, fields: fields)
    }
}
