/// Lets tests that restart a server run alone: ordinary integration tests hold the gate shared,
/// a restart test holds it exclusively, so no other test sees the server vanish mid-statement.
/// A test that needs both servers takes the Redis gate before the PostgreSQL gate, never the
/// other way round, so the gates cannot deadlock.
public actor ServiceGate {
    public static let postgres = ServiceGate()
    public static let redis = ServiceGate()

    private var readers = 0
    private var writer = false
    private var waiting: [(exclusive: Bool, continuation: CheckedContinuation<Void, Never>)] = []

    private func acquire(exclusive: Bool) async {
        if canEnter(exclusive: exclusive), waiting.isEmpty {
            enter(exclusive: exclusive)
            return
        }
        await withCheckedContinuation { waiting.append((exclusive, $0)) }
    }

    private func canEnter(exclusive: Bool) -> Bool {
        exclusive ? (!writer && readers == 0) : !writer
    }

    private func enter(exclusive: Bool) {
        if exclusive { writer = true } else { readers += 1 }
    }

    private func release(exclusive: Bool) {
        if exclusive { writer = false } else { readers -= 1 }
        while let next = waiting.first, canEnter(exclusive: next.exclusive) {
            waiting.removeFirst()
            enter(exclusive: next.exclusive)
            next.continuation.resume()
        }
    }

    public nonisolated func shared<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await run(exclusive: false, body)
    }

    public nonisolated func exclusive<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await run(exclusive: true, body)
    }

    private nonisolated func run<T: Sendable>(exclusive: Bool, _ body: () async throws -> T) async throws -> T {
        await acquire(exclusive: exclusive)
        do {
            let result = try await body()
            await release(exclusive: exclusive)
            return result
        } catch {
            await release(exclusive: exclusive)
            throw error
        }
    }
}

extension ServiceGate {
    /// Holds the gate shared, makes a client, runs `body` with it, and closes it whatever happens.
    public nonisolated func withClient<Client, T: Sendable>(
        _ make: () throws -> Client, close: (Client) async -> Void, _ body: (Client) async throws -> T
    ) async throws -> T {
        try await shared {
            let client = try make()
            do {
                let result = try await body(client)
                await close(client)
                return result
            } catch {
                await close(client)
                throw error
            }
        }
    }
}
