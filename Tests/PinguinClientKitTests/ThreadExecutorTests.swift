import Foundation
import PinguinClientKit
import Testing

private actor Counter {
    private let executor: ThreadExecutor
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    private(set) var value = 0
    private(set) var callsOffThread = 0

    init(executor: ThreadExecutor) {
        self.executor = executor
    }

    deinit {
        executor.shutdown()
    }

    func increment() -> Int {
        if !executor.isCurrentThread { callsOffThread += 1 }
        value += 1
        return value
    }

    /// Blocks its own thread until `semaphore` is signalled, as a libpq call would block.
    func block(on semaphore: DispatchSemaphore) {
        semaphore.wait()
    }
}

@Suite("ThreadExecutor")
struct ThreadExecutorTests {
    @Test("isolated methods run on the executor's own thread, one at a time")
    func runsOnOwnThread() async {
        let counter = Counter(executor: ThreadExecutor(name: "pinguin-test-thread"))
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<1000 {
                group.addTask { _ = await counter.increment() }
            }
        }
        #expect(await counter.value == 1000)
        #expect(await counter.callsOffThread == 0)
    }

    @Test("blocked executor threads leave the cooperative pool free", .timeLimit(.minutes(3)))
    func blockingDoesNotStarveCooperativePool() async {
        // Four actors block their threads until a plain task signals them. Were those blocking
        // calls on the cooperative pool (two threads here), the signalling task could never run
        // and the test would hang until its time limit.
        let semaphore = DispatchSemaphore(value: 0)
        let blockers = (0..<4).map { Counter(executor: ThreadExecutor(name: "blocker-\($0)")) }
        await withTaskGroup(of: Void.self) { group in
            for blocker in blockers {
                group.addTask { await blocker.block(on: semaphore) }
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(50))
                for _ in blockers { semaphore.signal() }
            }
        }
        for blocker in blockers {
            #expect(await blocker.increment() == 1)
        }
    }
}
