import Foundation
import PinguinModel
import Testing

/// Feeds results to the status machine one slot apart, as the ingester will, and keeps every
/// step for the assertions.
private struct Run {
    var policy: StatusPolicy
    var state = MonitorStatusState()
    var steps: [StatusStep] = []
    var clock = Date(timeIntervalSince1970: 1_800_000_000)

    init(_ policy: StatusPolicy = StatusPolicy()) { self.policy = policy }

    @discardableResult
    mutating func feed(_ status: CheckStatus, _ message: String = "", hold: Bool = false) -> StatusStep {
        clock += 60
        let step = StatusMachine.apply(StatusInput(scheduledAt: clock, status: status, message: message, holdAlerts: hold), to: state, policy: policy)
        state = step.state
        steps.append(step)
        return step
    }

    mutating func feed(_ statuses: [CheckStatus]) {
        for status in statuses { feed(status, status.rawValue) }
    }

    var notices: [StatusNotice] { steps.flatMap(\.notices) }
    var incidents: [IncidentChange] { steps.compactMap(\.incident) }
}

@Suite("Status machine") struct StatusMachineTests {
    @Test("down needs failure_threshold failures in a row; the incident starts at the first of them")
    func thresholds() {
        var run = Run()
        run.feed(.up)
        let start = run.clock + 60
        run.feed(.down, "connection refused")
        #expect(run.state.status == .pending)
        run.feed(.down, "timeout")
        #expect(run.state.status == .pending)
        #expect(run.notices.isEmpty)
        let third = run.feed(.down, "timeout")
        #expect(third.state.status == .down)
        #expect(third.previousStatus == .pending)
        #expect(third.incident == .open(startedAt: start, firstMessage: "connection refused"))
        #expect(third.notices == [.down(since: start, message: "connection refused")])
        let fourth = run.feed(.down, "still refused")
        #expect(fourth.incident == .failedCheck(message: "still refused"))
        #expect(fourth.notices.isEmpty)
        let back = run.feed(.up)
        #expect(back.state.status == .up)
        #expect(back.incident == .close(endedAt: run.clock, reason: .recovered))
        #expect(back.notices == [.up(outageSeconds: run.clock.timeIntervalSince(start))])
        #expect(run.notices.count == 2)
    }

    @Test("one lost packet, or two, alerts nobody and opens nothing")
    func noCryingWolf() {
        var run = Run()
        run.feed([.up, .down, .up, .down, .down, .up, .up])
        #expect(run.notices.isEmpty)
        #expect(run.incidents.isEmpty)
        #expect(run.state.status == .up)
        #expect(!run.state.isFailing(under: run.policy))
    }

    @Test("failing (retry interval) from the first failure until a success or confirmation")
    func failing() {
        var run = Run()
        run.feed(.up)
        #expect(!run.state.isFailing(under: run.policy))
        run.feed(.down)
        #expect(run.state.isFailing(under: run.policy))
        run.feed(.up)
        #expect(!run.state.isFailing(under: run.policy))
        run.feed([.down, .down])
        #expect(run.state.isFailing(under: run.policy))
        run.feed(.down)
        #expect(run.state.status == .down && !run.state.isFailing(under: run.policy), "confirmed down: the normal interval again")
    }

    @Test("recovery_threshold: a down monitor needs that many successes; the incident ends at the first")
    func recovery() {
        var run = Run(StatusPolicy(failureThreshold: 1, recoveryThreshold: 3))
        run.feed(.up)
        run.feed(.down)
        #expect(run.state.status == .down)
        let firstSuccess = run.clock + 60
        run.feed([.up, .up])
        #expect(run.state.status == .down)
        #expect(run.state.incidentOpen)
        let third = run.feed(.up)
        #expect(third.state.status == .up)
        #expect(third.incident == .close(endedAt: firstSuccess, reason: .recovered))
        // A failure while recovering keeps the same incident: no second "down".
        var again = Run(StatusPolicy(failureThreshold: 1, recoveryThreshold: 2))
        again.feed([.up, .down, .up, .down, .up, .up])
        #expect(again.notices.filter { if case .down = $0 { true } else { false } }.count == 1)
        #expect(again.incidents.filter { if case .open = $0 { true } else { false } }.count == 1)
        #expect(again.state.status == .up)
    }

    @Test("a result for a slot already judged, or older, changes nothing (redelivery, two ingesters)")
    func redeliveryAndOrder() {
        let policy = StatusPolicy(failureThreshold: 1)
        var state = MonitorStatusState()
        let t1 = Date(timeIntervalSince1970: 1_800_000_000)
        let t2 = t1 + 60
        state = StatusMachine.apply(StatusInput(scheduledAt: t2, status: .up), to: state, policy: policy).state
        let again = StatusMachine.apply(StatusInput(scheduledAt: t2, status: .down), to: state, policy: policy)
        #expect(again.ignored == .notNewer)
        #expect(again.state == state)
        #expect(again.notices.isEmpty && again.incident == nil)
        let late = StatusMachine.apply(StatusInput(scheduledAt: t1, status: .down), to: state, policy: policy)
        #expect(late.ignored == .notNewer)
        #expect(late.state == state)
    }

    @Test("a skipped slot is ignored and does not move the slot order: the check it skipped may still answer")
    func skipped() {
        let policy = StatusPolicy(failureThreshold: 1)
        let t1 = Date(timeIntervalSince1970: 1_800_000_000)
        var state = StatusMachine.apply(StatusInput(scheduledAt: t1, status: .up), to: MonitorStatusState(), policy: policy).state
        let skip = StatusMachine.apply(StatusInput(scheduledAt: t1 + 120, status: .skipped), to: state, policy: policy)
        #expect(skip.ignored == .skipped)
        #expect(skip.state == state)
        state = skip.state
        let lateAnswer = StatusMachine.apply(StatusInput(scheduledAt: t1 + 60, status: .down, message: "slow and down"), to: state, policy: policy)
        #expect(lateAnswer.ignored == nil)
        #expect(lateAnswer.state.status == .down)
    }

    @Test("unknown never counts as down: it becomes the status after unknown_threshold in a row, silently")
    func unknownIsNotDown() {
        var run = Run()
        run.feed(.up)
        run.feed(Array(repeating: .unknown, count: 10))
        #expect(run.state.status == .unknown)
        #expect(run.notices.isEmpty)
        #expect(run.incidents.isEmpty)
        #expect(!run.state.isFailing(under: run.policy))
        run.feed(.up)
        #expect(run.state.status == .up)
        #expect(run.notices.isEmpty)  // it was announced up, and is up
        // Unknown results neither break nor extend a run of failures.
        var mixed = Run()
        mixed.feed([.up, .down, .unknown, .down, .unknown, .down])
        #expect(mixed.state.status == .down)
        #expect(mixed.notices.count == 1)
        var short = Run()
        short.feed([.up, .unknown, .unknown])
        #expect(short.state.status == .up)
    }

    @Test("a checker that breaks while the target is down: unknown, the incident stays open, no new down later")
    func unknownWhileDown() {
        var run = Run(StatusPolicy(failureThreshold: 1))
        run.feed([.up, .down, .unknown, .unknown, .unknown])
        #expect(run.state.status == .unknown)
        #expect(run.state.incidentOpen)
        run.feed(.down)
        #expect(run.state.status == .down)
        #expect(run.incidents.filter { if case .open = $0 { true } else { false } }.count == 1)
        #expect(run.notices.count == 1)
    }

    @Test("upside-down: a success is a failure, and the message says so")
    func upsideDown() {
        var run = Run(StatusPolicy(failureThreshold: 2, upsideDown: true))
        run.feed(.down, "refused")
        #expect(run.state.status == .up)
        run.feed(.up, "200 OK")
        run.feed(.up, "200 OK")
        #expect(run.state.status == .down)
        #expect(run.notices.count == 1)
        guard case .down(_, let message) = run.notices.first else {
            Issue.record("expected a down notice, got \(run.notices)")
            return
        }
        #expect(message == "upside-down: up counts as down: 200 OK")
        run.feed(.degraded, "slow")
        #expect(run.state.status == .down)  // an answer, however slow, is what upside-down forbids
    }

    @Test("degraded is its own status, confirmed like down, announced unless alert_on_degraded is off")
    func degraded() {
        var run = Run()
        run.feed([.up, .degraded])
        #expect(run.state.status == .up)
        run.feed(.degraded, "certificate expires in 5 days")
        #expect(run.state.status == .degraded)
        #expect(run.notices == [.degraded(message: "certificate expires in 5 days")])
        run.feed(.up)
        #expect(run.notices.last == .up(outageSeconds: nil))
        #expect(run.incidents.isEmpty)

        var quiet = Run(StatusPolicy(alertOnDegraded: false))
        quiet.feed([.up, .degraded, .degraded, .degraded, .up])
        #expect(quiet.steps[2].state.status == .degraded)
        #expect(quiet.notices.isEmpty)
    }

    @Test("a flapping monitor sends one flapping notice, not a storm, and its status once it settles")
    func flapping() {
        var run = Run(StatusPolicy(failureThreshold: 1))
        run.feed(.up)
        for _ in 0..<20 { run.feed([.down, .up]) }
        let started = run.notices.filter { if case .flappingStarted = $0 { true } else { false } }
        #expect(started.count == 1)
        #expect(run.notices.count <= 6, "\(run.notices)")
        #expect(run.state.flapping)
        // It settles: once the changes age out of the window, flapping stops and the status is
        // announced if it is not the one announced last (here the last announced was down).
        var settlesDown = run
        settlesDown.feed(Array(repeating: .down, count: 25))
        let stopped = settlesDown.notices.filter { if case .flappingStopped = $0 { true } else { false } }
        #expect(stopped.count == 1)
        #expect(!settlesDown.state.flapping)
        #expect(settlesDown.state.notified == .down)
        if case .flappingStopped(_, let status)? = settlesDown.notices.last { #expect(status == .down) } else {
            Issue.record("expected flapping stopped last, got \(settlesDown.notices)")
        }
        var settlesUp = run
        settlesUp.feed(Array(repeating: .up, count: 25))
        #expect(settlesUp.state.notified == .up)
        #expect(Array(settlesUp.notices.suffix(2)).map { if case .flappingStopped = $0 { "stopped" } else if case .up = $0 { "up" } else { "other" } } == ["stopped", "up"],
                "\(settlesUp.notices)")
        // Settled with nothing new to say: nothing more is sent.
        let count = settlesUp.notices.count
        settlesUp.feed(Array(repeating: .up, count: 5))
        #expect(settlesUp.notices.count == count)
    }

    @Test("Naemon's weighted percent state change")
    func percentStateChange() {
        #expect(StatusMachine.percentStateChange("") == 0)
        #expect(StatusMachine.percentStateChange(String(repeating: "u", count: 21)) == 0)
        #expect(StatusMachine.percentStateChange(String(repeating: "ud", count: 10) + "u") == 100)
        // One change, the newest: weight 1.25 of 20 gaps.
        #expect(StatusMachine.percentStateChange(String(repeating: "u", count: 20) + "d") == 6.25)
        // One change, the oldest: weight 0.75.
        #expect(StatusMachine.percentStateChange("u" + String(repeating: "d", count: 20)) == 3.75)
    }

    @Test("maintenance: nothing is sent during it; what changed meanwhile is announced after it")
    func maintenance() {
        var during = Run(StatusPolicy(failureThreshold: 1))
        during.feed(.up)
        during.feed(Array(repeating: .maintenance, count: 5))
        #expect(during.state.status == .maintenance)
        during.feed(.up)
        #expect(during.notices.isEmpty)
        #expect(during.incidents.isEmpty)

        var across = Run(StatusPolicy(failureThreshold: 1))
        across.feed([.up, .down])
        across.feed(Array(repeating: .maintenance, count: 3))
        #expect(across.state.incidentOpen)
        across.feed(.down)
        #expect(across.notices.count == 1)  // still the same outage
        across.feed(.up)
        #expect(across.state.status == .up)
        guard case .up(let outage)? = across.notices.last else {
            Issue.record("expected up, got \(across.notices)")
            return
        }
        #expect(outage == 300)  // from the first failure to the first success: 5 slots of 60 s
    }

    @Test("held alerts (a dependency is down): the incident opens, the notice waits until nothing holds it")
    func heldAlerts() {
        var run = Run(StatusPolicy(failureThreshold: 1))
        run.feed(.up)
        run.feed(.down, "unreachable", hold: true)
        #expect(run.state.status == .down)
        #expect(run.state.incidentOpen)
        #expect(run.notices.isEmpty)
        run.feed(.down, "unreachable", hold: true)
        #expect(run.notices.isEmpty)
        let released = run.feed(.down, "refused")
        #expect(released.notices.count == 1)
        // Recovered while held: the up is announced only if the down was.
        var quiet = Run(StatusPolicy(failureThreshold: 1))
        quiet.feed(.up)
        quiet.feed(.down, "x", hold: true)
        quiet.feed(.up, "", hold: false)
        #expect(quiet.notices.isEmpty)
    }

    @Test("pausing closes the incident without a notice; after resuming only a new outage is announced")
    func paused() {
        var run = Run(StatusPolicy(failureThreshold: 1))
        run.feed([.up, .down])
        let pause = run.feed(.paused)
        #expect(pause.state.status == .paused)
        #expect(pause.incident == .close(endedAt: run.clock, reason: .paused))
        #expect(pause.notices.isEmpty)
        run.feed(.up)
        #expect(run.state.status == .up)
        #expect(run.notices.count == 1)  // the first down only
        run.feed(.down)
        #expect(run.notices.count == 2)
    }

    @Test("a new monitor: up is no news, down is")
    func firstStatus() {
        var up = Run()
        up.feed(.up)
        #expect(up.state.status == .up)
        #expect(up.notices.isEmpty)
        var down = Run()
        down.feed([.down, .down, .down])
        #expect(down.notices.count == 1)
    }
}
