@testable import PinguinCheckerKit
import PinguinWire
import Testing

/// The session state machine alone: admission, the concurrency cap, cancels and deadlines of
/// checks that wait for a slot, and shutdown, with no process and no clock.
@Suite("CheckerSession")
struct CheckerSessionTests {
    static let plugin = try! PluginDescription(
        name: "pinguin-check-test", version: "1", maxConcurrency: 2,
        kinds: [CheckerKind(kind: "test", description: "test", configSchema: try! JSONParser.parse(#"{"type":"object","properties":{"n":{"type":"integer","default":7}}}"#))])
    static let now = ContinuousClock.now
    static let nowWall = 1_800_000_000.0

    static func line(_ text: String) -> JSONRPCIncoming { JSONRPCDecoder.decode(Array(text.utf8)) }

    static func run(_ id: Int, deadline: String = "2027-01-15T08:00:10Z") -> JSONRPCIncoming {
        line(#"{"jsonrpc":"2.0","id":\#(id),"method":"check.run","params":{"check_id":"c","kind":"test","target":"t","config":{},"deadline":"\#(deadline)","timeout_ms":10000}}"#)
    }

    static func initialized() -> CheckerSession {
        var session = CheckerSession(plugin: plugin)
        var actions: [CheckerSession.Action] = []
        session.received(line(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocol_versions":[1]}}"#), now: now, nowWall: nowWall, into: &actions)
        return session
    }

    static func started(_ actions: [CheckerSession.Action]) -> [CheckerSession.Serial] {
        actions.compactMap { if case .start(let serial, _) = $0 { serial } else { nil } }
    }

    static func answered(_ actions: [CheckerSession.Action]) -> [(JSONRPCID, CheckerSession.Answer)] {
        actions.compactMap { if case .answer(let id, let answer) = $0 { (id, answer) } else { nil } }
    }

    @Test("beyond max_concurrency, checks wait and start as slots free up, in order")
    func concurrencyCap() {
        var session = Self.initialized()
        var actions: [CheckerSession.Action] = []
        for id in 10..<14 { session.received(Self.run(id), now: Self.now, nowWall: Self.nowWall, into: &actions) }
        let first = Self.started(actions)
        #expect(first.count == 2)
        #expect(session.inFlight == 4)
        actions.removeAll()
        session.finished(first[0], .success(.up("ok")), elapsed: .milliseconds(1), into: &actions)
        #expect(Self.answered(actions).map(\.0) == [.number("10")])
        #expect(Self.started(actions).count == 1)
    }

    @Test("the config's defaults are filled in; the deadline moves onto the continuous clock")
    func request() {
        var session = Self.initialized()
        var actions: [CheckerSession.Action] = []
        session.received(Self.run(10, deadline: "2027-01-15T08:00:10.5Z"), now: Self.now, nowWall: 1_800_000_000, into: &actions)
        guard case .start(_, let request)? = actions.first(where: { if case .start = $0 { true } else { false } }) else {
            Issue.record("not started")
            return
        }
        #expect(request.config["n"] == .int(7))
        // 2027-01-15T08:00:10.5Z is 1800000010.5.
        #expect(Self.now.duration(to: request.deadline) == .milliseconds(10_500))
    }

    @Test("a waiting check that is cancelled or passes its deadline is answered at once and never starts")
    func waitingChecks() {
        var session = Self.initialized()
        var actions: [CheckerSession.Action] = []
        for id in 10..<14 { session.received(Self.run(id), now: Self.now, nowWall: Self.nowWall, into: &actions) }
        let running = Self.started(actions)
        actions.removeAll()
        session.received(Self.line(#"{"jsonrpc":"2.0","method":"check.cancel","params":{"id":12,"reason":"user"}}"#), now: Self.now, nowWall: Self.nowWall, into: &actions)
        guard case .error(let error) = Self.answered(actions).first?.1 else {
            Issue.record("no error answer")
            return
        }
        #expect(error.code == -32800)
        #expect(Self.started(actions).isEmpty)
        actions.removeAll()
        session.deadlinePassed(running[1] + 2, into: &actions)  // id 13, still waiting
        #expect(Self.answered(actions).map(\.0) == [.number("13")])
        actions.removeAll()
        session.finished(running[0], .success(.up("ok")), elapsed: .zero, into: &actions)
        #expect(Self.started(actions).isEmpty)  // 12 and 13 are gone
        #expect(session.inFlight == 1)
    }

    @Test("a running check past its deadline is answered and cancelled; its late result is dropped")
    func runningDeadline() {
        var session = Self.initialized()
        var actions: [CheckerSession.Action] = []
        session.received(Self.run(10), now: Self.now, nowWall: Self.nowWall, into: &actions)
        let serial = Self.started(actions)[0]
        actions.removeAll()
        session.deadlinePassed(serial, into: &actions)
        #expect(actions.contains { if case .cancel(serial) = $0 { true } else { false } })
        guard case .error(let error) = Self.answered(actions).first?.1 else {
            Issue.record("no error answer")
            return
        }
        #expect(error.kind == "deadline")
        actions.removeAll()
        session.finished(serial, .failure(CancellationError()), elapsed: .zero, into: &actions)
        #expect(Self.answered(actions).isEmpty)
        #expect(session.inFlight == 0)
    }

    @Test("shutdown is answered once nothing is in flight; end of input then finishes")
    func shutdown() {
        var session = Self.initialized()
        var actions: [CheckerSession.Action] = []
        session.received(Self.run(10), now: Self.now, nowWall: Self.nowWall, into: &actions)
        let serial = Self.started(actions)[0]
        actions.removeAll()
        session.received(Self.line(#"{"jsonrpc":"2.0","id":11,"method":"shutdown"}"#), now: Self.now, nowWall: Self.nowWall, into: &actions)
        #expect(actions.isEmpty)
        session.inputEnded(into: &actions)
        #expect(actions.isEmpty)
        session.finished(serial, .success(.up("ok")), elapsed: .zero, into: &actions)
        #expect(Self.answered(actions).map(\.0) == [.number("10"), .number("11")])
        guard case .finish? = actions.last else {
            Issue.record("no finish")
            return
        }
    }

    @Test("outcomes are repaired to fit the result schema")
    func outcomeEncoding() throws {
        var outcome = CheckOutcome(status: .down, message: "two\nlines " + String(repeating: "é", count: 2000), phases: [("dns", -1), ("connect", 1.23456)], errorKind: "Connection Refused")
        outcome.metrics = [CheckMetric(label: "time", value: .infinity)]
        let value = outcome.resultValue(measuredLatency: 5)
        let object = try #require(value.objectValue)
        let message = try #require(object["message"]?.stringValue)
        #expect(!message.contains("\n") && message.unicodeScalars.count == 1024)
        #expect(object["latency_ms"] == .int(5))
        #expect(object["phases"] == .object(JSONObject(["dns": .int(0), "connect": .number("1.235")])))
        #expect(object["error_kind"] == .string("connection_refused"))
        #expect(object["metrics"]?.arrayValue?.first?.objectValue?["value"] == .null)
    }

    @Test("RFC 3339 timestamps, with fractions and offsets")
    func timestamps() {
        #expect(RFC3339.secondsSince1970("1970-01-01T00:00:00Z") == 0)
        #expect(RFC3339.secondsSince1970("2026-11-22T03:00:10.250000Z") == 1_795_316_410.25)
        #expect(RFC3339.secondsSince1970("2026-11-22T05:00:10+02:00") == 1_795_316_410)
        #expect(RFC3339.secondsSince1970("2026-11-22 03:00:10z") == 1_795_316_410)
        #expect(RFC3339.secondsSince1970("2026-11-22T03:00:10") == nil)
        #expect(RFC3339.secondsSince1970("2026-13-22T03:00:10Z") == nil)
        #expect(RFC3339.secondsSince1970("yesterday") == nil)
    }
}
