import PinguinScheduler
import Testing

@Suite("Slot clock")
struct SlotClockTests {
    @Test("offsets are stable, inside the interval, and spread monitors of one interval evenly")
    func offsets() {
        let interval: Int64 = 60_000
        let offsets = (1...60_000).map { SlotClock.offset(monitor: Int64($0), interval: interval) }
        #expect(offsets.allSatisfy { (0..<interval).contains($0) })
        #expect(SlotClock.offset(monitor: 42, interval: interval) == SlotClock.offset(monitor: 42, interval: interval))
        // 60 buckets of one second: each should hold about 1000 monitors.
        var buckets = [Int](repeating: 0, count: 60)
        for offset in offsets { buckets[Int(offset / 1_000)] += 1 }
        #expect(buckets.min()! > 850 && buckets.max()! < 1_150, "\(buckets.min()!)…\(buckets.max()!)")
        // Consecutive ids do not get consecutive offsets (no thundering herd of a batch import).
        #expect(Set(offsets.prefix(100).map { $0 / 1_000 }).count > 40)
    }

    @Test("the next slot is strictly after the time, on the grid of interval and offset")
    func nextSlot() {
        #expect(SlotClock.nextSlot(after: 1_000_000, interval: 10_000, offset: 3_000) == 1_003_000)
        #expect(SlotClock.nextSlot(after: 1_003_000, interval: 10_000, offset: 3_000) == 1_013_000)
        #expect(SlotClock.nextSlot(after: 1_002_999, interval: 10_000, offset: 3_000) == 1_003_000)
        for time in stride(from: Int64(1_795_000_000_000), to: 1_795_000_100_000, by: 777) {
            let next = SlotClock.nextSlot(after: time, interval: 30_000, offset: 12_345)
            #expect(next > time && next - time <= 30_000 && (next - 12_345) % 30_000 == 0)
        }
    }
}
