import Foundation
public import Logging
import PinguinClientKit
public import ServiceLifecycle
import Synchronization

/// What a pub/sub subscription delivers.
public enum RedisPubSubEvent: Sendable, Hashable {
    /// A message published to a subscribed channel.
    case message(channel: String, payload: [UInt8])
    /// A message on a channel matching a subscribed pattern.
    case patternMessage(pattern: String, channel: String, payload: [UInt8])
    /// The connection was lost and has been re-established; messages published meanwhile are gone.
    case reconnected
    /// The subscriber did not keep up and this many older events were dropped.
    case overflow(dropped: Int)
}

extension BoundedEventQueue<RedisPubSubEvent>.Event {
    var flattened: RedisPubSubEvent {
        switch self {
        case .element(let event): event
        case .overflow(let dropped): .overflow(dropped: dropped)
        }
    }
}

/// The pub/sub side of Redis, on a dedicated connection.
///
/// Run it as a `Service` (or call ``run()`` in a task); ``subscribe(channels:patterns:bufferSize:)``
/// returns once the server has confirmed the subscription. After a lost connection it reconnects
/// with backoff, subscribes again to everything still wanted, and tells every subscription with
/// ``RedisPubSubEvent/reconnected``. Each subscription buffers at most `bufferSize` events; beyond
/// that the oldest are dropped and an ``RedisPubSubEvent/overflow(dropped:)`` says how many.
public final class RedisSubscriber: Service, Sendable {
    private let configuration: RedisConfiguration
    private let logger: Logger
    private let state = Mutex(State())
    /// A pipe whose read end interrupts the read loop when the wanted subscriptions change.
    private let wakeDescriptor: Int32
    private let wakeWriter: Int32

    private struct Registration {
        var channels: Set<String>
        var patterns: Set<String>
        var queue: BoundedEventQueue<RedisPubSubEvent>
        var ready: CheckedContinuation<Void, any Error>?
    }

    private struct State {
        var registrations: [UInt64: Registration] = [:]
        var nextID: UInt64 = 0
        var confirmedChannels: Set<String> = []
        var confirmedPatterns: Set<String> = []
        var finished = false

        var wantedChannels: Set<String> { registrations.values.reduce(into: []) { $0.formUnion($1.channels) } }
        var wantedPatterns: Set<String> { registrations.values.reduce(into: []) { $0.formUnion($1.patterns) } }
    }

    public init(_ configuration: RedisConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        var pipeEnds: [Int32] = [-1, -1]
        if pipe(&pipeEnds) != 0 {
            fatalError("pipe failed: \(String(cString: strerror(errno)))")
        }
        for end in pipeEnds {
            _ = fcntl(end, F_SETFL, O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        wakeDescriptor = pipeEnds[0]
        wakeWriter = pipeEnds[1]
    }

    deinit {
        close(wakeDescriptor)
        close(wakeWriter)
    }

    /// Subscribes to `channels` and `patterns` (glob-style, as `PSUBSCRIBE`), returning once Redis confirmed.
    public func subscribe(channels: [String], patterns: [String] = [], bufferSize: Int = 1024) async throws -> RedisSubscription {
        let queue = BoundedEventQueue<RedisPubSubEvent>(capacity: bufferSize)
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        queue.setOnFinish { [weak self] in
            self?.remove(id)
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (ready: CheckedContinuation<Void, any Error>) in
                let failure: (any Error)? = state.withLock { state in
                    if state.finished { return RedisError(code: .connectionClosed, message: "the subscriber has stopped") }
                    if Task.isCancelled { return CancellationError() }
                    var registration = Registration(
                        channels: Set(channels), patterns: Set(patterns), queue: queue, ready: ready)
                    if registration.channels.isSubset(of: state.confirmedChannels),
                        registration.patterns.isSubset(of: state.confirmedPatterns)
                    {
                        registration.ready = nil
                        ready.resume()
                    }
                    state.registrations[id] = registration
                    return nil
                }
                if let failure { ready.resume(throwing: failure) }
                wake()
            }
        } onCancel: {
            queue.finish()
        }
        return RedisSubscription(queue: queue)
    }

    /// Reads messages until cancelled or gracefully shut down, reconnecting whenever the connection breaks.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.readLoop()
        }
    }

    private func readLoop() async {
        var backoff = Backoff()
        var connectedBefore = false
        while !Task.isCancelled {
            do {
                let connection = try await RedisConnection.connect(configuration: configuration, logger: logger)
                backoff.reset()
                if connectedBefore { broadcast(.reconnected) }
                connectedBefore = true
                do {
                    try await serve(connection)
                } catch {
                    await connection.close()
                    throw error
                }
                await connection.close()
            } catch {
                if Task.isCancelled { break }
                logger.warning("redis subscriber connection lost", metadata: [
                    "redis.target": "\(configuration)", "error": "\(error)",
                ])
                try? await Task.sleep(for: backoff.next())
            }
        }
        finishAll()
    }

    private func serve(_ connection: RedisConnection) async throws {
        state.withLock { state in
            state.confirmedChannels = []
            state.confirmedPatterns = []
        }
        var sentChannels: Set<String> = []
        var sentPatterns: Set<String> = []
        while !Task.isCancelled {
            drainWake()
            let (channels, patterns) = state.withLock { ($0.wantedChannels, $0.wantedPatterns) }
            var commands: [RedisCommand] = []
            let newChannels = channels.subtracting(sentChannels)
            if !newChannels.isEmpty { commands.append(RedisCommand("SUBSCRIBE", arguments: newChannels.sorted())) }
            let oldChannels = sentChannels.subtracting(channels)
            if !oldChannels.isEmpty { commands.append(RedisCommand("UNSUBSCRIBE", arguments: oldChannels.sorted())) }
            let newPatterns = patterns.subtracting(sentPatterns)
            if !newPatterns.isEmpty { commands.append(RedisCommand("PSUBSCRIBE", arguments: newPatterns.sorted())) }
            let oldPatterns = sentPatterns.subtracting(patterns)
            if !oldPatterns.isEmpty { commands.append(RedisCommand("PUNSUBSCRIBE", arguments: oldPatterns.sorted())) }
            if !commands.isEmpty {
                try await connection.write(commands)
                sentChannels = channels
                sentPatterns = patterns
            }
            if let message = try await connection.readMessage(timeout: .seconds(1), wakeDescriptor: wakeDescriptor) {
                handle(message)
            }
        }
    }

    private func handle(_ message: RedisValue) {
        guard let parts = message.array, let kind = parts.first?.string else { return }
        switch (kind, parts.count) {
        case ("message", 3):
            guard let channel = parts[1].string, let payload = parts[2].bytes else { return }
            deliver(.message(channel: channel, payload: payload)) { $0.channels.contains(channel) }
        case ("pmessage", 4):
            guard let pattern = parts[1].string, let channel = parts[2].string, let payload = parts[3].bytes else { return }
            deliver(.patternMessage(pattern: pattern, channel: channel, payload: payload)) { $0.patterns.contains(pattern) }
        case ("subscribe", 3), ("psubscribe", 3):
            guard let name = parts[1].string else { return }
            let ready = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
                if kind == "subscribe" { state.confirmedChannels.insert(name) } else { state.confirmedPatterns.insert(name) }
                var ready: [CheckedContinuation<Void, any Error>] = []
                for (id, registration) in state.registrations where registration.ready != nil {
                    if registration.channels.isSubset(of: state.confirmedChannels),
                        registration.patterns.isSubset(of: state.confirmedPatterns)
                    {
                        ready.append(registration.ready!)
                        state.registrations[id]?.ready = nil
                    }
                }
                return ready
            }
            ready.forEach { $0.resume() }
        case ("unsubscribe", 3), ("punsubscribe", 3):
            guard let name = parts[1].string else { return }
            _ = state.withLock { state in
                if kind == "unsubscribe" { state.confirmedChannels.remove(name) } else { state.confirmedPatterns.remove(name) }
            }
        default:
            logger.debug("unexpected pub/sub reply", metadata: ["redis.reply": "\(kind)"])
        }
    }

    private func deliver(_ event: RedisPubSubEvent, to matches: (Registration) -> Bool) {
        let queues = state.withLock { state in
            state.registrations.values.filter(matches).map(\.queue)
        }
        for queue in queues {
            queue.push(event)
        }
    }

    private func broadcast(_ event: RedisPubSubEvent) {
        deliver(event) { _ in true }
    }

    private func remove(_ id: UInt64) {
        let ready = state.withLock { $0.registrations.removeValue(forKey: id)?.ready }
        ready?.resume(throwing: CancellationError())
        wake()
    }

    private func finishAll() {
        let registrations = state.withLock { state -> [Registration] in
            state.finished = true
            defer { state.registrations = [:] }
            return Array(state.registrations.values)
        }
        for registration in registrations {
            registration.ready?.resume(throwing: RedisError(code: .connectionClosed, message: "the subscriber has stopped"))
            registration.queue.finish()
        }
    }

    private func wake() {
        var one: UInt8 = 1
        _ = write(wakeWriter, &one, 1)
    }

    private func drainWake() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeDescriptor, &buffer, buffer.count) > 0 {}
    }
}

/// The events of one subscription; ends when the subscriber stops. Cancelling the task that
/// iterates it, or calling ``cancel()``, unsubscribes.
public struct RedisSubscription: AsyncSequence, Sendable {
    public typealias Element = RedisPubSubEvent
    let queue: BoundedEventQueue<RedisPubSubEvent>

    public func cancel() {
        queue.finish()
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var inner: BoundedEventQueue<RedisPubSubEvent>.AsyncIterator
        public mutating func next() async -> RedisPubSubEvent? {
            await inner.next()?.flattened
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(inner: queue.makeAsyncIterator())
    }
}
