import Foundation
import PinguinRedis
import PinguinTestSupport
import Testing

private func configuration() throws -> RedisConfiguration {
    try RedisConfiguration(url: TestServices.requireRedisURL())
}

private func makeClient(maximumConnections: Int = 4) throws -> RedisClient {
    var options = RedisClient.Configuration()
    options.maximumConnections = maximumConnections
    options.connectRetryTimeout = .seconds(10)
    return RedisClient(try configuration(), configuration: options, logger: TestServices.logger())
}

private func withClient<T: Sendable>(maximumConnections: Int = 4, _ body: (RedisClient) async throws -> T) async throws -> T {
    try await ServiceGate.redis.withClient({ try makeClient(maximumConnections: maximumConnections) }, close: { await $0.close() }, body)
}

private func uniqueKey(_ prefix: String) -> String {
    "test:\(prefix):\(UUID().uuidString)"
}

/// The next event; the suite's time limit fails a test whose event never comes.
private func nextEvent(_ iterator: inout RedisSubscription.AsyncIterator) async throws -> RedisPubSubEvent? {
    await iterator.next()
}

@Suite("Redis integration", .enabled(if: TestServices.redisEnabled, Comment(rawValue: TestServices.skipReason)), .timeLimit(.minutes(2)))
struct RedisIntegrationTests {
    @Test("commands are binary-safe and error replies are thrown with the server's words")
    func basics() async throws {
        try await withClient { client in
            let key = uniqueKey("bin")
            let value: [UInt8] = [0, 13, 10, 0xFF, 36, 42]
            try await client.send("SET", key, value, "PX", 60_000)
            #expect(try await client.send("GET", key).bytes == value)
            #expect(try await client.send("GET", uniqueKey("missing")) == .null)
            await #expect {
                try await client.send("INCR", key)
            } throws: { error in
                (error as? RedisError)?.code == .server && "\(error)".contains("not an integer")
            }
            try await client.send("DEL", key)
        }
    }

    @Test("a pipeline of 10,000 commands answers in order, error replies in place")
    func pipelining() async throws {
        try await withClient { client in
            let key = uniqueKey("counter")
            var commands = (0..<10_000).map { _ in RedisCommand("INCR", key) }
            commands.insert(RedisCommand("HGET", key, "field"), at: 5_000)  // WRONGTYPE? no: key is a string
            let replies = try await client.pipeline(commands)
            #expect(replies.count == 10_001)
            #expect(replies[0] == .integer(1))
            #expect(replies[4_999] == .integer(5_000))
            if case .error(let message) = replies[5_000] {
                #expect(message.hasPrefix("WRONGTYPE"))
            } else {
                Issue.record("expected an error reply in place, got \(replies[5_000])")
            }
            #expect(replies[5_001] == .integer(5_001))
            #expect(replies.last == .integer(10_000))
            #expect(try await client.send("GET", key).int == 10_000)
            try await client.send("DEL", key)
        }
    }

    @Test("a Lua script runs by EVALSHA and survives SCRIPT FLUSH")
    func scriptAfterFlush() async throws {
        try await withClient(maximumConnections: 1) { client in
            let key = uniqueKey("lua")
            let script = RedisScript("""
                local v = redis.call('INCRBY', KEYS[1], ARGV[1])
                redis.call('PEXPIRE', KEYS[1], 60000)
                return v
                """)
            #expect(try await client.evaluate(script, keys: [key], arguments: [5]).int == 5)
            let sha = try #require(script.loadedSHA)
            #expect(sha.count == 40)
            try await client.send("SCRIPT", "FLUSH")
            #expect(try await client.send("SCRIPT", "EXISTS", sha).array == [.integer(0)])
            #expect(try await client.evaluate(script, keys: [key], arguments: [2]).int == 7)
            #expect(try await client.send("SCRIPT", "EXISTS", sha).array == [.integer(1)])
            try await client.send("DEL", key)
        }
    }

    @Test("two consumers share a stream; a dead consumer's entries are reclaimed with XAUTOCLAIM")
    func streamsWithTwoConsumers() async throws {
        try await withClient { client in
            let stream = uniqueKey("jobs")
            try await client.xgroupCreate(stream, group: "workers", startID: "0")
            try await client.xgroupCreate(stream, group: "workers", startID: "0")  // idempotent
            var added: [String] = []
            for i in 0..<10 {
                added.append(try await client.xadd(stream, fields: [("job", "job-\(i)"), ("n", i)]))
            }
            let a = try await client.xreadgroup(stream, group: "workers", consumer: "a", count: 4)
            let b = try await client.xreadgroup(stream, group: "workers", consumer: "b", count: 100)
            #expect(a.count == 4)
            #expect(b.count == 6)
            #expect(Set((a + b).map(\.id)) == Set(added))
            #expect(a[0].string("job") == "job-0")
            #expect(try await client.xack(stream, group: "workers", ids: b.map(\.id)) == 6)

            // "a" dies without acknowledging: its four entries stay pending on it.
            let summary = try await client.xpending(stream, group: "workers")
            #expect(summary.count == 4)
            #expect(summary.consumers == ["a": 4])
            #expect(summary.smallestID == a.first?.id)

            // Not idle long enough yet: nothing to claim.
            let early = try await client.xautoclaim(stream, group: "workers", consumer: "b", minIdle: .seconds(60))
            #expect(early.entries.isEmpty)

            try await Task.sleep(for: .milliseconds(120))
            let claimed = try await client.xautoclaim(stream, group: "workers", consumer: "b", minIdle: .milliseconds(100))
            #expect(claimed.entries.map(\.id) == a.map(\.id))
            #expect(claimed.entries.map { $0.string("job") } == a.map { $0.string("job") })
            let detail = try await client.xpending(stream, group: "workers")
            #expect(detail.consumers == ["b": 4])
            let entries = try await client.xpending(stream, group: "workers", consumer: "b")
            #expect(entries.map(\.deliveries) == [2, 2, 2, 2])
            #expect(try await client.xack(stream, group: "workers", ids: claimed.entries.map(\.id)) == 4)
            #expect(try await client.xpending(stream, group: "workers").count == 0)
            try await client.send("DEL", stream)
        }
    }

    @Test("XREADGROUP BLOCK wakes when an entry arrives and returns nothing when the block time passes")
    func blockingRead() async throws {
        try await withClient { client in
            let stream = uniqueKey("block")
            try await client.xgroupCreate(stream, group: "g")
            let empty = try await client.xreadgroup(stream, group: "g", consumer: "c", block: .milliseconds(200))
            #expect(empty.isEmpty)
            async let entries = client.xreadgroup(stream, group: "g", consumer: "c", block: .seconds(20))
            try await Task.sleep(for: .milliseconds(200))
            let id = try await client.xadd(stream, fields: [("k", "v")])
            #expect(try await entries.map(\.id) == [id])
            try await client.send("DEL", stream)
        }
    }

    @Test("a command that outlives its timeout fails, and the client recovers")
    func commandTimeout() async throws {
        try await ServiceGate.redis.shared {
            var settings = try configuration()
            settings.commandTimeout = .milliseconds(300)
            let client = RedisClient(settings, logger: TestServices.logger())
            await #expect {
                // BLPOP waits 5 s on the server; we did not allow for it.
                try await client.send("BLPOP", uniqueKey("never"), 5)
            } throws: { error in
                (error as? RedisError)?.code == .timedOut
            }
            #expect(try await client.send("PING") == .simpleString("PONG"))
            await client.close()
        }
    }

    @Test("wrong password: a clear error without the password")
    func wrongPassword() async throws {
        var settings = try configuration()
        settings.password = "not-the-password-5678"
        await #expect {
            try await RedisConnection.connect(configuration: settings, logger: TestServices.logger())
        } throws: { error in
            let error = error as! RedisError
            return error.code == .connectionFailed && !error.description.contains("not-the-password-5678")
                && error.description.contains("authentication")
        }
    }

    @Test("pub/sub delivers channel and pattern messages to each subscription")
    func pubSub() async throws {
        try await ServiceGate.redis.shared {
            let subscriber = RedisSubscriber(try configuration(), logger: TestServices.logger())
            let publisher = try makeClient()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await subscriber.run() }
                let channel = uniqueKey("events")
                let exact = try await subscriber.subscribe(channels: [channel])
                let pattern = try await subscriber.subscribe(channels: [], patterns: ["\(channel.prefix(20))*"])
                var exactEvents = exact.makeAsyncIterator()
                var patternEvents = pattern.makeAsyncIterator()
                #expect(try await publisher.send("PUBLISH", channel, "hello").int == 2)
                #expect(try await nextEvent(&exactEvents) == .message(channel: channel, payload: Array("hello".utf8)))
                #expect(try await nextEvent(&patternEvents) == .patternMessage(
                    pattern: "\(channel.prefix(20))*", channel: channel, payload: Array("hello".utf8)))
                group.cancelAll()
            }
            await publisher.close()
        }
    }

    @Test("a slow subscription drops the oldest events and says how many")
    func pubSubOverflow() async throws {
        try await ServiceGate.redis.shared {
            let subscriber = RedisSubscriber(try configuration(), logger: TestServices.logger())
            let publisher = try makeClient()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await subscriber.run() }
                let channel = uniqueKey("flood")
                let slow = try await subscriber.subscribe(channels: [channel], bufferSize: 10)
                let fast = try await subscriber.subscribe(channels: [channel], bufferSize: 1000)
                _ = try await publisher.pipeline((0..<100).map { RedisCommand("PUBLISH", channel, $0) })
                try await publisher.send("PUBLISH", channel, "last")
                // Both queues are fed by the same delivery, in order: once the fast one has "last",
                // every message has been pushed into the slow one, which nobody has read yet.
                var fastEvents = fast.makeAsyncIterator()
                var fastCount = 0
                while let event = try await nextEvent(&fastEvents) {
                    fastCount += 1
                    if event == .message(channel: channel, payload: Array("last".utf8)) { break }
                }
                #expect(fastCount == 101)
                var events = slow.makeAsyncIterator()
                var received: [RedisPubSubEvent] = []
                while true {
                    guard let event = try await nextEvent(&events) else { break }
                    received.append(event)
                    if event == .message(channel: channel, payload: Array("last".utf8)) { break }
                }
                let dropped = received.reduce(0) { sum, event in
                    if case .overflow(let count) = event { return sum + count }
                    return sum
                }
                let messages = received.filter { if case .message = $0 { return true } else { return false } }
                // The subscriber feeds its queues in no fixed order, so "last" may reach the slow
                // queue only after its reader started waiting: then 90 are dropped and 11 read.
                // Either way every message is accounted for, and the drop is announced first.
                if case .overflow = received.first {} else { Issue.record("the first event should announce the drop: \(String(describing: received.first))") }
                #expect(dropped + messages.count == 101)
                #expect((90...91).contains(dropped) && (10...11).contains(messages.count), "dropped \(dropped), read \(messages.count)")
                group.cancelAll()
            }
            await publisher.close()
        }
    }

    @Test("after a Redis restart the client reconnects and subscribers resubscribe")
    func reconnectAfterRestart() async throws {
        try await ServiceGate.redis.exclusive {
            let client = try makeClient(maximumConnections: 2)
            let subscriber = RedisSubscriber(try configuration(), logger: TestServices.logger())
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await subscriber.run() }
                let channel = uniqueKey("restart")
                let subscription = try await subscriber.subscribe(channels: [channel])
                var events = subscription.makeAsyncIterator()
                #expect(try await client.send("PING") == .simpleString("PONG"))

                try await TestServices.runServicesScript("restart", "redis")

                #expect(try await client.send("PING") == .simpleString("PONG"))
                #expect(try await nextEvent(&events) == .reconnected)
                // The subscription is live again once the server counts a subscriber.
                var receivers = 0
                for _ in 0..<100 where receivers == 0 {
                    receivers = try await client.send("PUBLISH", channel, "back").int ?? 0
                    if receivers == 0 { try await Task.sleep(for: .milliseconds(50)) }
                }
                #expect(receivers == 1)
                #expect(try await nextEvent(&events) == .message(channel: channel, payload: Array("back".utf8)))
                group.cancelAll()
            }
            await client.close()
        }
    }
}
