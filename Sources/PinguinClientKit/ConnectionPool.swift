import Synchronization

/// A bounded pool of connections shared by many tasks.
///
/// Connections are opened lazily up to `maximumConnections`. A connection found unusable when it
/// is returned or handed out (the server restarted, a socket closed) is dropped and replaced by a
/// fresh one, so callers reconnect transparently after a server restart. Opening retries with
/// exponential backoff for up to `connectRetryTimeout`, then fails with the last error.
public final class ConnectionPool<Connection: PoolableConnection>: Sendable {
    public typealias Connector = @Sendable () async throws -> Connection

    public let maximumConnections: Int
    public let connectRetryTimeout: Duration
    private let connector: Connector
    private let state: Mutex<State>

    private enum Grant {
        case connection(Connection)
        /// The waiter may open a connection of its own: capacity was freed.
        case slot
    }

    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Grant, any Error>
    }

    private struct State {
        var idle: [Connection] = []
        var open = 0
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
        var closed = false
    }

    public init(maximumConnections: Int, connectRetryTimeout: Duration, connector: @escaping Connector) {
        precondition(maximumConnections > 0, "a pool needs room for at least one connection")
        self.maximumConnections = maximumConnections
        self.connectRetryTimeout = connectRetryTimeout
        self.connector = connector
        self.state = Mutex(State())
    }

    /// Number of connections currently open (idle or lent out).
    public var openConnections: Int {
        state.withLock { $0.open }
    }

    /// Lends a connection to `body` and takes it back afterwards, whatever `body` does.
    public func withConnection<T: Sendable>(_ body: (Connection) async throws -> T) async throws -> T {
        let connection = try await acquire()
        do {
            let result = try await body(connection)
            await release(connection)
            return result
        } catch {
            await release(connection)
            throw error
        }
    }

    /// Closes idle connections and fails every waiter; connections lent out close on return.
    public func close() async {
        let (idle, waiters) = state.withLock { state in
            state.closed = true
            let idle = state.idle
            let waiters = state.waiters
            state.open -= idle.count
            state.idle = []
            state.waiters = []
            return (idle, waiters)
        }
        for waiter in waiters {
            waiter.continuation.resume(throwing: ConnectionPoolError.closed)
        }
        for connection in idle {
            await connection.close()
        }
    }

    private enum Step {
        case reuse(Connection)
        case open
        case wait
        case closed
    }

    private func acquire() async throws -> Connection {
        while true {
            try Task.checkCancellation()
            let step: Step = state.withLock { state in
                if state.closed { return .closed }
                if let connection = state.idle.popLast() { return .reuse(connection) }
                if state.open < maximumConnections {
                    state.open += 1
                    return .open
                }
                return .wait
            }
            switch step {
            case .closed:
                throw ConnectionPoolError.closed
            case .reuse(let connection):
                if await connection.prepareForReuse() { return connection }
                await connection.close()
                // Its capacity stays ours: open a replacement.
                return try await openCountedConnection()
            case .open:
                return try await openCountedConnection()
            case .wait:
                switch try await waitForGrant() {
                case .connection(let connection):
                    if await connection.prepareForReuse() { return connection }
                    await connection.close()
                    return try await openCountedConnection()
                case .slot:
                    return try await openCountedConnection()
                }
            }
        }
    }

    /// Opens a connection for capacity already counted in `open`; gives the capacity back on failure.
    private func openCountedConnection() async throws -> Connection {
        do {
            return try await connectWithRetry()
        } catch {
            giveBackCapacity()
            throw error
        }
    }

    private func connectWithRetry() async throws -> Connection {
        let deadline = ContinuousClock.now + connectRetryTimeout
        var backoff = Backoff()
        while true {
            do {
                return try await connector()
            } catch {
                if error is CancellationError { throw error }
                let delay = backoff.next()
                if ContinuousClock.now + delay > deadline { throw error }
                try await Task.sleep(for: delay)
            }
        }
    }

    private func waitForGrant() async throws -> Grant {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Grant, any Error>) in
                let resumeNow: (any Error)? = state.withLock { state in
                    if state.closed { return ConnectionPoolError.closed }
                    if Task.isCancelled { return CancellationError() }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let error = resumeNow { continuation.resume(throwing: error) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    private func release(_ connection: Connection) async {
        let reusable = await connection.prepareForReuse()
        if !reusable {
            await connection.close()
            giveBackCapacity()
            return
        }
        let (waiter, closeIt): (Waiter?, Bool) = state.withLock { state in
            if state.closed {
                state.open -= 1
                return (nil, true)
            }
            if !state.waiters.isEmpty {
                return (state.waiters.removeFirst(), false)
            }
            state.idle.append(connection)
            return (nil, false)
        }
        if closeIt {
            await connection.close()
        }
        waiter?.continuation.resume(returning: .connection(connection))
    }

    /// Capacity of a closed or never-opened connection: a waiter may use it, or it is freed.
    private func giveBackCapacity() {
        let waiter = state.withLock { state -> Waiter? in
            if !state.closed, !state.waiters.isEmpty {
                return state.waiters.removeFirst()
            }
            state.open -= 1
            return nil
        }
        waiter?.continuation.resume(returning: .slot)
    }
}

/// Errors of ``ConnectionPool`` itself; connection errors pass through unchanged.
public enum ConnectionPoolError: Error, Sendable, CustomStringConvertible {
    case closed

    public var description: String {
        switch self {
        case .closed: "the connection pool is closed"
        }
    }
}
