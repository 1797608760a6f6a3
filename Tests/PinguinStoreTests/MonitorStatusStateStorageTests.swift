import Foundation
import PinguinModel
import PinguinStore
import Testing

@Suite("monitor_state.engine") struct MonitorStatusStateStorageTests {
    @Test("the state round-trips through its JSON, dates to the microsecond, so a stored slot is not newer than itself")
    func roundTrip() {
        let policy = StatusPolicy(failureThreshold: 1)
        var state = MonitorStatusState()
        var clock = Date(unixMicroseconds: 1_800_000_000_123_457)
        for (status, message) in [(CheckStatus.up, "ok"), (.down, "refused \"quoted\"\nsecond line"), (.down, "timeout")] {
            clock = Date(unixMicroseconds: clock.unixMicroseconds + 60_000_000)
            state = StatusMachine.apply(StatusInput(scheduledAt: clock, status: status, message: message), to: state, policy: policy).state
        }
        #expect(state.incidentOpen && state.notified == .down && state.firstFailureMessage == "refused \"quoted\"\nsecond line")
        let stored = MonitorStatusState(engineJSON: state.engineJSON)
        #expect(stored == state)
        let again = StatusMachine.apply(StatusInput(scheduledAt: Date(unixMicroseconds: clock.unixMicroseconds), status: .up), to: stored, policy: policy)
        #expect(again.ignored == .notNewer)
    }

    @Test("a fresh row's {} and an unreadable value are a fresh state")
    func freshAndBroken() {
        #expect(MonitorStatusState(engineJSON: "{}") == MonitorStatusState())
        #expect(MonitorStatusState(engineJSON: "not json") == MonitorStatusState())
        #expect(MonitorStatusState(engineJSON: #"{"status":"sideways","failures":"many"}"#) == MonitorStatusState())
    }
}
