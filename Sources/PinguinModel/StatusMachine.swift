public import Foundation

/// A monitor's status as the status engine decides it from its results (table `monitor_state`).
public enum MonitorStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// No confirmed status yet, or failing but not yet confirmed down.
    case pending
    case up
    case down
    case degraded
    /// The checker could not check, several times in a row. Never an outage.
    case unknown
    case paused
    case maintenance
}

/// How a monitor's results become its status and notices. Defaults avoid alerting on one lost
/// packet: three failures in a row to go down (the scheduler re-checks at the retry interval
/// while a monitor is failing, so confirmation is quick), one success to come back up.
public struct StatusPolicy: Sendable, Hashable {
    /// Failures in a row that make the monitor down. 1 to 100; default 3.
    public var failureThreshold: Int
    /// Successes in a row that bring a down monitor back up. 1 to 100; default 1.
    public var recoveryThreshold: Int
    /// Degraded results in a row that make the monitor degraded. Default 2.
    public var degradedThreshold: Int
    /// Checker errors (`unknown` results) in a row that make the monitor unknown. Default 3.
    public var unknownThreshold: Int
    /// Down when the check succeeds, up when it fails (a port that must stay closed).
    public var upsideDown: Bool
    /// Whether degraded is announced (and its end). Without it degraded is shown, not sent.
    public var alertOnDegraded: Bool
    /// Flap detection over the last ``StatusMachine/flapWindow`` results, with hysteresis:
    /// flapping starts at `flapHighPercent` percent state change and stops below `flapLowPercent`.
    /// Nil: no flap detection.
    public var flapHighPercent: Double?
    public var flapLowPercent: Double

    public init(
        failureThreshold: Int = 3, recoveryThreshold: Int = 1, degradedThreshold: Int = 2, unknownThreshold: Int = 3,
        upsideDown: Bool = false, alertOnDegraded: Bool = true, flapHighPercent: Double? = 20, flapLowPercent: Double = 5
    ) {
        self.failureThreshold = max(1, failureThreshold)
        self.recoveryThreshold = max(1, recoveryThreshold)
        self.degradedThreshold = max(1, degradedThreshold)
        self.unknownThreshold = max(1, unknownThreshold)
        self.upsideDown = upsideDown
        self.alertOnDegraded = alertOnDegraded
        self.flapHighPercent = flapHighPercent
        self.flapLowPercent = flapLowPercent
    }
}

/// Everything the status engine remembers about one monitor between results.
public struct MonitorStatusState: Sendable, Hashable {
    public var status: MonitorStatus = .pending
    /// When ``status`` began (the scheduled time of the result that made it).
    public var since: Date?
    /// The newest slot the engine has judged. An older or equal one is a redelivery or arrived
    /// out of order, and changes nothing.
    public var lastScheduledAt: Date?
    public var failures = 0
    public var successes = 0
    public var degradations = 0
    public var unknowns = 0
    /// The first failure of the current run of failures: an incident starts there.
    public var failingSince: Date?
    public var firstFailureMessage: String?
    /// The first success of the current run of successes: an incident ends there.
    public var recoveringSince: Date?
    /// An incident is open (the monitor went down and has not recovered or been paused).
    public var incidentOpen = false
    public var incidentStartedAt: Date?
    /// The last status announced to people (up, down or degraded); nil before the first.
    public var notified: MonitorStatus?
    public var flapping = false
    /// The confirmed status after each of the last ``StatusMachine/flapWindow`` results, oldest
    /// first: `u` up, `d` down, `g` degraded.
    public var history = ""

    public init() {}

    /// Forgets the runs of results (after a pause or a maintenance window, confirmation starts anew).
    mutating func resetRuns() {
        failures = 0; successes = 0; degradations = 0; unknowns = 0
        failingSince = nil; firstFailureMessage = nil; recoveringSince = nil
    }

    /// Failing but not yet confirmed down: the scheduler checks such a monitor at its retry
    /// interval (`{pinguin}:failing`), so confirmation is quick. The scheduler's reconciliation
    /// applies the same rule to `monitor_state.consecutive_failures`.
    public func isFailing(under policy: StatusPolicy) -> Bool {
        failures > 0 && failures < policy.failureThreshold
    }
}

/// One result as the status engine sees it.
public struct StatusInput: Sendable, Hashable {
    public var scheduledAt: Date
    public var status: CheckStatus
    public var message: String
    /// Alerts are held back (a dependency is down): the status and incidents still change, and
    /// what was held back is announced once nothing holds it any more.
    public var holdAlerts: Bool

    public init(scheduledAt: Date, status: CheckStatus, message: String = "", holdAlerts: Bool = false) {
        self.scheduledAt = scheduledAt
        self.status = status
        self.message = message
        self.holdAlerts = holdAlerts
    }
}

/// What happens to the monitor's incident.
public enum IncidentChange: Sendable, Hashable {
    /// Opened at the first failure of the run that made the monitor down.
    case open(startedAt: Date, firstMessage: String)
    /// One more failed check while down.
    case failedCheck(message: String)
    /// Closed at the first success of the run that brought the monitor back.
    case close(endedAt: Date, reason: CloseReason)

    public enum CloseReason: String, Sendable, Hashable {
        case recovered
        case paused
    }
}

/// A notice for people, before channels and templates.
public enum StatusNotice: Sendable, Hashable {
    /// Down since `since` (the first failure), with that failure's message.
    case down(since: Date, message: String)
    /// Up again; `outageSeconds` when it recovers from an outage that was announced.
    case up(outageSeconds: Double?)
    case degraded(message: String)
    case flappingStarted(percent: Double, status: MonitorStatus)
    case flappingStopped(percent: Double, status: MonitorStatus)
}

/// The engine's decision for one result.
public struct StatusStep: Sendable, Hashable {
    public var state: MonitorStatusState
    /// The status before, when it changed.
    public var previousStatus: MonitorStatus?
    public var incident: IncidentChange?
    public var notices: [StatusNotice] = []
    /// Why the result changed nothing, when it did not.
    public var ignored: IgnoredReason?

    public enum IgnoredReason: String, Sendable, Hashable {
        /// Its slot is not newer than the last one judged: a redelivery, or late.
        case notNewer
        /// A skipped slot says nothing about the target.
        case skipped
    }
}

/// Turns a monitor's results, one at a time, into its status, incidents and notices. Sans-IO:
/// the caller loads the state, applies a result and stores the new state with its effects in
/// one transaction under the monitor's row lock, so two ingesters and redelivered results stay
/// correct.
///
/// Alerting follows the difference between the confirmed status and the last one announced
/// (``MonitorStatusState/notified``). Flapping, maintenance and held alerts (a dependency down)
/// only delay announcements: when they end, whatever changed meanwhile is announced, so the
/// engine never cries wolf and never stays silent.
public enum StatusMachine {
    /// Results in the flap window, as in Nagios and Naemon.
    public static let flapWindow = 21

    public static func apply(_ input: StatusInput, to state: MonitorStatusState, policy: StatusPolicy) -> StatusStep {
        var step = StatusStep(state: state)
        if input.status == .skipped {
            // Not even the slot order moves: the check whose slot it skipped may still answer.
            step.ignored = .skipped
            return step
        }
        if let last = state.lastScheduledAt, input.scheduledAt <= last {
            step.ignored = .notNewer
            return step
        }
        var next = state
        next.lastScheduledAt = input.scheduledAt
        let at = input.scheduledAt

        switch input.status {
        case .paused:
            next.resetRuns()
            if next.incidentOpen {
                step.incident = .close(endedAt: at, reason: .paused)
                next.incidentOpen = false
                next.incidentStartedAt = nil
            }
            // Whoever paused it knows; after resuming, only a new outage is announced.
            next.notified = nil
            next.flapping = false
            next.history = ""
            setStatus(.paused, at: at, &next, &step)
            step.state = next
            return step
        case .maintenance:
            // Checks ran but say nothing that may alert: confirmation starts anew afterwards,
            // and an open incident stays open until the monitor is seen to recover.
            next.resetRuns()
            setStatus(.maintenance, at: at, &next, &step)
            step.state = next
            return step
        case .unknown:
            next.unknowns += 1
            if next.unknowns >= policy.unknownThreshold { setStatus(.unknown, at: at, &next, &step) }
            step.state = next
            return step
        case .up, .down, .degraded, .skipped:  // skipped returned above
            break
        }

        let outcome = policy.upsideDown ? upsideDown(input.status) : input.status
        let message = policy.upsideDown && outcome != input.status
            ? "upside-down: \(input.status.rawValue) counts as \(outcome.rawValue): \(input.message)" : input.message
        next.unknowns = 0
        switch outcome {
        case .down:
            if next.failures == 0 {
                next.failingSince = at
                next.firstFailureMessage = message
            }
            next.failures += 1
            next.successes = 0
            next.degradations = 0
            next.recoveringSince = nil
        default:
            if next.successes == 0 { next.recoveringSince = at }
            next.successes += 1
            next.failures = 0
            next.failingSince = nil
            next.firstFailureMessage = nil
            next.degradations = outcome == .degraded ? next.degradations + 1 : 0
        }

        // The confirmed status.
        let confirmed: MonitorStatus
        if outcome == .down {
            confirmed = next.failures >= policy.failureThreshold || next.incidentOpen ? .down : .pending
        } else if next.incidentOpen && next.successes < policy.recoveryThreshold {
            confirmed = .down  // recovering, not yet confirmed
        } else if next.degradations >= policy.degradedThreshold {
            confirmed = .degraded
        } else if outcome == .degraded && state.status == .degraded {
            confirmed = .degraded
        } else {
            confirmed = .up
        }

        // Incidents.
        if confirmed == .down {
            if next.incidentOpen {
                if outcome == .down { step.incident = .failedCheck(message: message) }
            } else {
                let started = next.failingSince ?? at
                step.incident = .open(startedAt: started, firstMessage: next.firstFailureMessage ?? message)
                next.incidentOpen = true
                next.incidentStartedAt = started
            }
        } else if next.incidentOpen, confirmed == .up || confirmed == .degraded {
            step.incident = .close(endedAt: next.recoveringSince ?? at, reason: .recovered)
            next.incidentOpen = false
        }
        setStatus(confirmed, at: at, &next, &step)

        // Flap detection over the confirmed statuses.
        let alert = alertStatus(confirmed, policy: policy)
        var flapNotice: StatusNotice?
        if let alert, let high = policy.flapHighPercent {
            next.history.append(alert == .down ? "d" : alert == .degraded ? "g" : "u")
            if next.history.count > flapWindow { next.history.removeFirst(next.history.count - flapWindow) }
            let percent = percentStateChange(next.history)
            if !next.flapping && percent >= high {
                next.flapping = true
                flapNotice = .flappingStarted(percent: percent, status: confirmed)
            } else if next.flapping && percent < policy.flapLowPercent {
                next.flapping = false
                flapNotice = .flappingStopped(percent: percent, status: confirmed)
            }
        }
        if let flapNotice, !input.holdAlerts { step.notices.append(flapNotice) }

        // Announcements: the confirmed status against the last one announced.
        if let alert, alert != next.notified, !next.flapping, !input.holdAlerts {
            switch alert {
            case .down:
                // Confirmed down means an incident is open: its first failure's message when it
                // opened now, else (an announcement delayed by flapping or held) the latest.
                step.notices.append(.down(since: next.incidentStartedAt ?? at, message: firstMessage(step, message)))
            case .degraded:
                step.notices.append(.degraded(message: message))
            default:
                // A monitor's first status being up is no news; coming back is.
                if next.notified != nil {
                    let outage: Double? = switch (next.notified, step.incident) {
                    case (.down?, .close(let ended, _)?): state.incidentStartedAt.map { ended.timeIntervalSince($0) }
                    default: nil
                    }
                    step.notices.append(.up(outageSeconds: outage))
                }
            }
            next.notified = alert
        }
        if case .close = step.incident { next.incidentStartedAt = nil }
        step.state = next
        return step
    }

    /// The status people are told about: up, down or degraded (degraded counts as up unless
    /// announced); nil for statuses that never alert.
    static func alertStatus(_ status: MonitorStatus, policy: StatusPolicy) -> MonitorStatus? {
        switch status {
        case .up: .up
        case .down: .down
        case .degraded: policy.alertOnDegraded ? .degraded : .up
        case .pending, .unknown, .paused, .maintenance: nil
        }
    }

    /// Naemon's weighted percent state change: changes between consecutive entries, the oldest
    /// weighing 0.75 and the newest 1.25, over the 20 gaps of a full window.
    public static func percentStateChange(_ history: String) -> Double {
        let states = Array(history.utf8)
        guard states.count > 1 else { return 0 }
        var changes = 0.0
        // Entries are placed at the newest end of the window, so a short history weighs as new.
        let offset = flapWindow - states.count
        for index in 1..<states.count where states[index] != states[index - 1] {
            let position = Double(index + offset - 1)
            changes += 0.75 + position * (1.25 - 0.75) / Double(flapWindow - 2)
        }
        return changes * 100 / Double(flapWindow - 1)
    }

    private static func upsideDown(_ status: CheckStatus) -> CheckStatus {
        switch status {
        case .up, .degraded: .down
        case .down: .up
        default: status
        }
    }

    private static func firstMessage(_ step: StatusStep, _ message: String) -> String {
        if case .open(_, let first) = step.incident { return first }
        return message
    }

    private static func setStatus(_ status: MonitorStatus, at: Date, _ state: inout MonitorStatusState, _ step: inout StatusStep) {
        guard state.status != status else { return }
        step.previousStatus = state.status
        state.status = status
        state.since = at
    }
}
