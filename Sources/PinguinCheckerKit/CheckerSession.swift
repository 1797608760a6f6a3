import PinguinWire

/// The plugin side of protocol version 1 as a state machine: the owner feeds it what arrives and
/// what finishes, and performs the actions it returns. No I/O and no clock reads: times come in.
struct CheckerSession {
    /// A check as the session knows it: an internal serial, never the supervisor's id (which the
    /// supervisor may reuse once answered).
    typealias Serial = UInt64

    enum Answer {
        case result(JSONValue)
        case error(JSONRPCError)
        /// A check's outcome; `measuredLatency` (ms) is used when the checker gave none.
        case outcome(CheckOutcome, measuredLatency: Double)
    }

    enum Action {
        /// Write one response line.
        case answer(JSONRPCID, Answer)
        /// Run the check now (a slot is reserved for it).
        case start(Serial, CheckRequest)
        /// Call ``CheckerSession/deadlinePassed(_:into:)`` for this check when the instant comes.
        case watchDeadline(Serial, ContinuousClock.Instant)
        /// Cancel the running check's task; its answer has been sent already.
        case cancel(Serial)
        /// Input has ended and nothing is left in flight: flush the output and exit 0.
        case finish
    }

    /// JSON-RPC codes beyond the spec's.
    static let notInitializedCode = -32002
    static let requestCancelledCode = -32800

    private struct Check {
        var id: JSONRPCID
        /// Set while the check waits for a slot; nil once it runs.
        var waitingRequest: CheckRequest?
        /// True once the answer is written (cancelled or past its deadline) while the task still runs.
        var answered = false
    }

    let plugin: PluginDescription
    private(set) var initialized = false
    private(set) var shuttingDown = false
    private(set) var inputClosed = false
    /// Longest line the supervisor reads (from `initialize`).
    private(set) var maximumLineBytes = 1 << 20
    private var pendingShutdowns: [JSONRPCID] = []
    private var checks: [Serial: Check] = [:]
    private var serialByID: [JSONRPCID: Serial] = [:]
    private var waiting: [Serial] = []
    private var waitingHead = 0
    private var running = 0
    private var nextSerial: Serial = 1

    init(plugin: PluginDescription) {
        self.plugin = plugin
    }

    /// Checks admitted and not yet finished (running, or waiting for a slot).
    var inFlight: Int { checks.count }

    enum Phase {
        case waiting
        case running
        /// Answered (cancelled or past its deadline) while its task still runs.
        case stopped
    }

    /// Where a check stands; nil once it has finished (or was dropped before it started).
    func phase(of serial: Serial) -> Phase? {
        guard let check = checks[serial] else { return nil }
        if check.waitingRequest != nil { return .waiting }
        return check.answered ? .stopped : .running
    }

    // MARK: Events

    /// One line from stdin. `nowWall` is seconds since 1970, taken with `now`.
    mutating func received(_ incoming: JSONRPCIncoming, now: ContinuousClock.Instant, nowWall: Double, into actions: inout [Action]) {
        switch incoming {
        case .failure(let id, let error):
            actions.append(.answer(id, .error(error)))
        case .batch:
            actions.append(.answer(.null, .error(.invalidRequest("batches are not part of the plugin protocol", kind: "batch_unsupported"))))
        case .single(.invalid(let id, let error)):
            actions.append(.answer(id, .error(error)))
        case .single(.request(let request)):
            handle(request, now: now, nowWall: nowWall, into: &actions)
        }
    }

    /// A line over the limit was skipped.
    mutating func receivedOversizedLine(into actions: inout [Action]) {
        actions.append(.answer(.null, .error(.invalidRequest("a line longer than \(1 << 20) bytes", kind: "line_too_long"))))
    }

    /// A check's task returned. `elapsed` is the time it ran.
    mutating func finished(_ serial: Serial, _ result: Result<CheckOutcome, any Error>, elapsed: Duration, into actions: inout [Action]) {
        guard let check = checks.removeValue(forKey: serial) else { return }
        running -= 1
        if !check.answered {
            serialByID[check.id] = nil
            actions.append(.answer(check.id, Self.answer(for: result, elapsed: elapsed)))
        }
        startWaiting(into: &actions)
        settleIfIdle(into: &actions)
    }

    /// The check's deadline came: answer now and stop it (a check that ignores cancellation still
    /// holds its slot until it returns, but its late result is dropped).
    mutating func deadlinePassed(_ serial: Serial, into actions: inout [Action]) {
        stop(serial, with: Self.deadlineError, into: &actions)
    }

    /// stdin is at its end.
    mutating func inputEnded(into actions: inout [Action]) {
        inputClosed = true
        settleIfIdle(into: &actions)
    }

    static let deadlineError = JSONRPCError(code: JSONRPCError.internalErrorCode, message: "the check's deadline passed", kind: "deadline")

    // MARK: Requests

    private mutating func handle(_ request: JSONRPCRequest, now: ContinuousClock.Instant, nowWall: Double, into actions: inout [Action]) {
        guard let id = request.id else {
            notify(request, into: &actions)
            return
        }
        if request.method == "initialize" {
            actions.append(.answer(id, initialize(request.params)))
            return
        }
        guard initialized else {
            let error = JSONRPCError(code: Self.notInitializedCode, message: "initialize must come first", kind: "not_initialized")
            actions.append(.answer(id, .error(error)))
            return
        }
        switch request.method {
        case "check.run":
            run(id, request.params, now: now, nowWall: nowWall, into: &actions)
        case "ping":
            actions.append(.answer(id, .result(.object(JSONObject()))))
        case "shutdown":
            shuttingDown = true
            pendingShutdowns.append(id)
            settleIfIdle(into: &actions)
        default:
            actions.append(.answer(id, .error(.methodNotFound(request.method))))
        }
    }

    private mutating func notify(_ request: JSONRPCRequest, into actions: inout [Action]) {
        guard initialized, request.method == "check.cancel", case .object(let params) = request.params,
              let target = params["id"] else { return }
        let id: JSONRPCID
        switch target {
        case .number(let text): id = .number(Int64(text).map(String.init) ?? text)
        case .string(let text): id = .string(text)
        default: return
        }
        guard let serial = serialByID[id] else { return }
        let error = JSONRPCError(code: Self.requestCancelledCode, message: "the check was cancelled", kind: "cancelled")
        stop(serial, with: error, into: &actions)
    }

    private mutating func initialize(_ params: JSONRPCParams) -> Answer {
        guard !initialized else {
            return .error(.invalidRequest("initialize was answered already", kind: "already_initialized"))
        }
        guard case .object(let object) = params, let offered = object["protocol_versions"]?.arrayValue else {
            return .error(.invalidParams("protocol_versions must be an array of integers", field: "protocol_versions"))
        }
        guard offered.contains(where: { $0.int64Value == 1 }) else {
            return .error(JSONRPCError(
                code: JSONRPCError.invalidParamsCode, message: "unsupported protocol version", kind: "unsupported_version",
                details: JSONObject(["supported": .array([.int(1)])])))
        }
        if let limit = object["limits"]?.objectValue?["max_line_bytes"]?.int64Value, limit >= 65_536 {
            maximumLineBytes = Int(min(limit, Int64(Int32.max)))
        }
        initialized = true
        return .result(plugin.initializeResult)
    }

    private mutating func run(_ id: JSONRPCID, _ params: JSONRPCParams, now: ContinuousClock.Instant, nowWall: Double, into actions: inout [Action]) {
        guard !shuttingDown else {
            let error = JSONRPCError(code: JSONRPCError.internalErrorCode, message: "the plugin is shutting down", kind: "shutting_down")
            actions.append(.answer(id, .error(error)))
            return
        }
        guard serialByID[id] == nil else {
            actions.append(.answer(id, .error(.invalidRequest("id \(id) is in flight already", kind: "duplicate_id"))))
            return
        }
        let request: CheckRequest
        switch CheckRequest.decode(params, plugin: plugin, now: now, nowWall: nowWall) {
        case .success(let decoded): request = decoded
        case .failure(let error):
            actions.append(.answer(id, .error(error)))
            return
        }
        guard now < request.deadline else {
            actions.append(.answer(id, .error(Self.deadlineError)))
            return
        }
        let serial = nextSerial
        nextSerial += 1
        serialByID[id] = serial
        actions.append(.watchDeadline(serial, request.deadline))
        if running < plugin.maxConcurrency {
            running += 1
            checks[serial] = Check(id: id)
            actions.append(.start(serial, request))
        } else {
            checks[serial] = Check(id: id, waitingRequest: request)
            waiting.append(serial)
        }
    }

    // MARK: Helpers

    private mutating func stop(_ serial: Serial, with error: JSONRPCError, into actions: inout [Action]) {
        guard var check = checks[serial], !check.answered else { return }
        serialByID[check.id] = nil
        actions.append(.answer(check.id, .error(error)))
        if check.waitingRequest != nil {
            // Not started: forget it (its place in `waiting` is skipped later).
            checks[serial] = nil
            settleIfIdle(into: &actions)
        } else {
            check.answered = true
            checks[serial] = check
            actions.append(.cancel(serial))
        }
    }

    private mutating func startWaiting(into actions: inout [Action]) {
        while running < plugin.maxConcurrency, waitingHead < waiting.count {
            let serial = waiting[waitingHead]
            waitingHead += 1
            guard var check = checks[serial], let request = check.waitingRequest else { continue }
            check.waitingRequest = nil
            checks[serial] = check
            running += 1
            actions.append(.start(serial, request))
        }
        if waitingHead == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingHead = 0
        } else if waitingHead > 4096, waitingHead * 2 > waiting.count {
            waiting.removeFirst(waitingHead)
            waitingHead = 0
        }
    }

    private mutating func settleIfIdle(into actions: inout [Action]) {
        guard checks.isEmpty else { return }
        for id in pendingShutdowns { actions.append(.answer(id, .result(.null))) }
        pendingShutdowns.removeAll()
        if inputClosed { actions.append(.finish) }
    }

    static func answer(for result: Result<CheckOutcome, any Error>, elapsed: Duration) -> Answer {
        switch result {
        case .success(let outcome):
            return .outcome(outcome, measuredLatency: elapsed.milliseconds)
        case .failure(let error as CheckError):
            return .error(JSONRPCError(code: error.code.rawValue, message: error.message, kind: error.kind))
        case .failure(let error as JSONRPCError):
            return .error(error)
        case .failure(let error):
            return .error(JSONRPCError(code: JSONRPCError.internalErrorCode, message: String(describing: error), kind: "internal"))
        }
    }
}

extension Duration {
    /// The duration in (fractional) milliseconds.
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
