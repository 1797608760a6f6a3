import Foundation
import NIOCore
import PinguinModel
import PinguinPluginHost
import PinguinWire

/// One run of the checks against one plugin process.
struct ConformanceSession {
    let conformance: PluginConformance
    var configuration: PluginConformance.Configuration { conformance.configuration }
    let log = ConformanceLog()
    var report: ConformanceReport
    private var connection: PluginConnection?
    /// Set once the connection is gone: the steps after it are skipped.
    private var lost: PluginFailure?
    private var nextCheck = 1
    /// Steps skipped because the plugin is gone or its handshake failed.
    private var notRun: [String] = []
    /// Answers to unknown ids already in the report.
    private var straysReported = 0

    init(conformance: PluginConformance) {
        self.conformance = conformance
        report = ConformanceReport(plugin: conformance.path)
    }

    /// One check.run to send: a case and its config as the supervisor would send it.
    private struct Job {
        var caseIndex: Int
        var kind: String
        var target: String
        var config: JSONObject
    }

    private struct PlannedCase {
        var index: Int
        var item: ConformanceCase
        var job: Job
        /// A case made up because none was given: it names its kind.
        var isDefault: Bool

        var label: String { isDefault ? "kind \(job.kind): check.run \(item.label)" : "case \(index): check.run \(item.label)" }
    }

    mutating func run() async {
        let path = conformance.path.hasPrefix("/")
            ? conformance.path
            : FileManager.default.currentDirectoryPath + "/" + conformance.path
        let options = SpawnedProcess.Options(path: path, environment: PluginConformance.environment)
        do {
            connection = try await PluginConnection.start(
                options, name: (conformance.path as NSString).lastPathComponent, logger: log.logger)
        } catch {
            report.fail("start: \(error)")
            return
        }
        let description = await handshake()
        if let description {
            connection!.notify("initialized", params: nil)
            let cases = plan(description)
            await runChecks(cases, description: description)
            if let first = cases.first { await cancelInFlight(first.job) }
            await ping()
            await unknownMethod()
            await shutdown()
        } else {
            notRun += ["check.run", "check.cancel", "ping", "an unknown method", "shutdown"]
        }
        await end()
        if !notRun.isEmpty {
            report.info("not run, \(lost == nil ? "after the failed handshake" : "the plugin is gone"): \(notRun.joined(separator: ", "))")
        }
        reportStrays()
        if description != nil, straysReported == 0, lost?.kind != .protocolViolation {
            report.ok("stdout carried protocol lines only")
        }
        reportStderr()
    }

    // MARK: Steps

    private mutating func handshake() async -> PluginDescription? {
        let parameters = PluginHandshake.parameters(
            supervisorName: "pinguinctl", version: PinguinVersion.current, id: "plugin-test", location: "default",
            maximumLineBytes: PluginConnection.Configuration().maximumLineBytes)
        let outcome = await connection!.call("initialize", params: parameters, deadline: deadline(configuration.initializeTimeout))
        let value: JSONValue
        switch outcome {
        case .result(let result):
            value = result
        case .error(let error):
            report.fail(error.code == JSONRPCError.invalidParamsCode
                ? "initialize: answered error \(error.code) (\(error.message)): the plugin speaks none of the offered protocol versions [1]"
                : "initialize: answered error \(error.code) (\(error.message)), expected a result")
            return nil
        case .timedOut:
            report.fail("initialize: no answer within \(Self.text(configuration.initializeTimeout))")
            connection!.kill(reason: "initialize timed out")
            lost = connection!.failure
            return nil
        case .lost(let failure):
            loss(failure, step: "initialize")
            return nil
        }
        // Every violation, not just the first that PluginHandshake names.
        let violations = Self.initializeResultSchema.validate(value, at: "result")
        for violation in violations {
            report.fail("initialize result: \(violation.message)")
        }
        guard violations.isEmpty else { return nil }
        let description: PluginDescription
        switch PluginHandshake.description(from: value) {
        case .success(let parsed): description = parsed
        case .failure(let error):
            report.fail(error.reason)
            return nil
        }
        report.ok("initialize answered: \(description.name) \(description.version), protocol \(description.protocolVersion), "
            + "kinds \(description.kinds.map(\.kind).joined(separator: ", ")), max_concurrency \(description.maximumConcurrency)")
        for kind in description.kinds {
            var compiled = ["config_schema"]
            do {
                _ = try JSONSchema(kind.configSchema)
            } catch {
                report.fail("kind \(kind.kind): config_schema does not compile: \(error.description)")
                compiled = []
            }
            if let target = kind.targetSchema {
                do {
                    _ = try JSONSchema(target)
                    compiled.append("target_schema")
                } catch {
                    report.fail("kind \(kind.kind): target_schema does not compile: \(error.description)")
                }
            }
            if !compiled.isEmpty {
                report.ok("kind \(kind.kind): \(compiled.joined(separator: " and ")) compile\(compiled.count == 1 ? "s" : "")")
            }
        }
        return description
    }

    /// The cases to run, each checked against its kind's schemas with the defaults filled in, as
    /// the control plane does before a monitor is stored.
    private mutating func plan(_ description: PluginDescription) -> [PlannedCase] {
        var planned: [PlannedCase] = []
        if conformance.cases.isEmpty {
            for (offset, kind) in description.kinds.enumerated() {
                let item = ConformanceCase(target: "", config: JSONObject(), expectedStatus: nil)
                guard let config = validated(item, kind: kind, label: "kind \(kind.kind): config {}", checkTarget: false) else { continue }
                planned.append(PlannedCase(
                    index: offset + 1, item: item,
                    job: Job(caseIndex: planned.count, kind: kind.kind, target: "", config: config), isDefault: true))
            }
            return planned
        }
        let kindName = configuration.kind ?? description.kinds[0].kind
        guard let kind = description.kinds.first(where: { $0.kind == kindName }) else {
            report.fail("--kind \(kindName): the plugin declares no such kind (it declares \(description.kinds.map(\.kind).joined(separator: ", ")))")
            return []
        }
        for (offset, item) in conformance.cases.enumerated() {
            guard let config = validated(item, kind: kind, label: "case \(offset + 1) \(item.label)", checkTarget: true) else { continue }
            planned.append(PlannedCase(
                index: offset + 1, item: item,
                job: Job(caseIndex: planned.count, kind: kind.kind, target: item.target, config: config), isDefault: false))
        }
        return planned
    }

    private mutating func validated(_ item: ConformanceCase, kind: PluginDescription.Kind, label: String, checkTarget: Bool) -> JSONObject? {
        if checkTarget, let targetSchema = kind.targetSchema, let schema = try? JSONSchema(targetSchema) {
            let violations = schema.validate(.string(item.target), at: "target")
            if let first = violations.first {
                report.fail("\(label): \(first.message): the kind's target_schema refuses this target, so no monitor could have it")
                return nil
            }
        }
        guard let schema = try? JSONSchema(kind.configSchema) else { return item.config }
        let violations = schema.validate(.object(item.config), at: "config")
        guard violations.isEmpty else {
            let reasons = violations.map(\.message).joined(separator: "; ")
            if checkTarget {
                report.fail("\(label): \(reasons): the kind's config_schema refuses this config, so no monitor could have it")
            } else {
                report.info("\(label) does not fit the kind's config_schema (\(reasons)), so no check of kind \(kind.kind) runs: give --kind \(kind.kind) --case TARGET CONFIG STATUS")
            }
            return nil
        }
        return schema.applyingDefaults(to: .object(item.config)).objectValue ?? item.config
    }

    /// Every case `repetitions` times, all sent before any answer is awaited (up to the plugin's
    /// max_concurrency in flight, as the supervisor would): each answer must come to its own id.
    private mutating func runChecks(_ cases: [PlannedCase], description: PluginDescription) async {
        guard lost == nil, !cases.isEmpty else { return }
        var jobs: [(number: Int, job: Job)] = []
        for _ in 0..<max(1, configuration.repetitions) {
            for planned in cases {
                jobs.append((nextCheck, planned.job))
                nextCheck += 1
            }
        }
        let window = min(description.maximumConcurrency, jobs.count)
        var outcomes = [PluginConnection.Outcome?](repeating: nil, count: jobs.count)
        let connection = connection!
        let timeout = configuration.checkTimeout
        await withTaskGroup(of: (Int, PluginConnection.Outcome).self) { group in
            var next = 0
            func start(_ index: Int) {
                let params = Self.checkParams(jobs[index].job, number: jobs[index].number, timeout: timeout)
                group.addTask {
                    (index, await connection.call("check.run", params: params, deadline: Self.deadline(timeout), cancelOnTimeout: true))
                }
            }
            while next < window {
                start(next)
                next += 1
            }
            for await (index, outcome) in group {
                outcomes[index] = outcome
                if next < jobs.count {
                    start(next)
                    next += 1
                }
            }
        }

        var losses: [PluginFailure] = []
        var answered = 0
        for planned in cases {
            var statuses: [String] = []
            var problems: [(text: String, count: Int)] = []
            var runs = 0
            func problem(_ text: String) {
                if let index = problems.firstIndex(where: { $0.text == text }) {
                    problems[index].count += 1
                } else {
                    problems.append((text, 1))
                }
            }
            for (index, entry) in jobs.enumerated() where entry.job.caseIndex == planned.job.caseIndex {
                runs += 1
                switch outcomes[index]! {
                case .result(let value):
                    answered += 1
                    switch Self.judge(value, expected: planned.item.expectedStatus) {
                    case .success(let status): if !statuses.contains(status) { statuses.append(status) }
                    case .failure(let reason): problem(reason.text)
                    }
                case .error(let error):
                    answered += 1
                    problem("answered error \(error.code) (\(error.message)) instead of a result: the supervisor records unknown")
                case .timedOut:
                    problem("no answer within \(Self.text(timeout))")
                case .lost(let failure):
                    losses.append(failure)
                }
            }
            for (text, count) in problems {
                report.fail("\(planned.label): \(text)\(runs > 1 ? " (\(count) of \(runs))" : "")")
            }
            if problems.isEmpty && !statuses.isEmpty {
                report.ok("\(planned.label) answered \(statuses.joined(separator: ", "))\(runs > 1 ? " (\(runs) times)" : "")")
            }
        }
        if outcomes.contains(where: { if case .timedOut? = $0 { true } else { false } }) {
            // The connection answers the callers first and then ends a plugin that missed three
            // deadlines in a row: give it the moment to do so.
            try? await Task.sleep(for: .milliseconds(100))
        }
        // Answers to ids never asked (or a second answer) that did not end the plugin by themselves.
        reportStrays()
        if let failure = losses.first {
            loss(failure, step: "check.run", inFlight: losses.count)
        } else if let failure = connection.failure {
            loss(failure, step: "check.run")
        } else if answered == jobs.count, straysReported == 0 {
            report.ok("\(jobs.count) check.run answers matched by id, each once (up to \(window) in flight)")
        }
    }

    /// A check.run whose deadline has passed as it is sent: the connection follows it with
    /// `check.cancel` at once, as the supervisor does on a deadline. The plugin may answer it
    /// (`-32800` or a result, which is dropped) or not at all, but must keep working.
    private mutating func cancelInFlight(_ job: Job) async {
        guard lost == nil, let connection else { return skipped("check.cancel") }
        let params = Self.checkParams(job, number: nextCheck, timeout: configuration.checkTimeout)
        nextCheck += 1
        let outcome = await connection.call("check.run", params: params, deadline: .now(), cancelOnTimeout: true)
        // Time for a late answer to the cancelled check to arrive and be judged.
        try? await Task.sleep(for: .milliseconds(200))
        switch outcome {
        case .lost(let failure):
            loss(failure, step: "check.cancel")
        case .result, .error, .timedOut:
            if let failure = connection.failure {
                loss(failure, step: "check.cancel")
            } else if case .timedOut = outcome {
                report.ok("check.cancel for a check in flight accepted")
            } else {
                report.info("check.cancel not tested: the check was answered before the cancel went out")
            }
        }
    }

    private mutating func ping() async {
        guard lost == nil, let connection else { return skipped("ping") }
        switch await connection.call("ping", params: nil, deadline: deadline(configuration.answerTimeout)) {
        case .result(.object(let object)) where object.count == 0:
            report.ok("ping answered {}")
        case .result(let value):
            report.fail("ping: answered \(Self.excerpt(value)), expected {}")
        case .error(let error):
            report.fail("ping: answered error \(error.code) (\(error.message)), expected {}")
        case .timedOut:
            report.fail("ping: no answer within \(Self.text(configuration.answerTimeout)) (the supervisor takes a plugin that misses two pings to hang)")
        case .lost(let failure):
            loss(failure, step: "ping")
        }
    }

    private mutating func unknownMethod() async {
        guard lost == nil, let connection else { return skipped("an unknown method") }
        let method = "pinguin.plugin_test.no_such_method"
        switch await connection.call(method, params: nil, deadline: deadline(configuration.answerTimeout)) {
        case .error(let error) where error.code == JSONRPCError.methodNotFoundCode:
            report.ok("an unknown method answered error -32601")
        case .error(let error):
            report.fail("an unknown method (\(method)): answered error \(error.code) (\(error.message)), expected -32601 (method not found)")
        case .result(let value):
            report.fail("an unknown method (\(method)): answered the result \(Self.excerpt(value)), expected error -32601 (method not found)")
        case .timedOut:
            report.fail("an unknown method (\(method)): no answer within \(Self.text(configuration.answerTimeout)), expected error -32601 (method not found)")
        case .lost(let failure):
            loss(failure, step: "an unknown method")
        }
    }

    private mutating func shutdown() async {
        guard lost == nil, let connection else { return skipped("shutdown") }
        switch await connection.call("shutdown", params: nil, deadline: deadline(configuration.answerTimeout)) {
        case .result(.null):
            report.ok("shutdown answered null")
        case .result(let value):
            report.fail("shutdown: answered \(Self.excerpt(value)), expected null")
        case .error(let error):
            report.fail("shutdown: answered error \(error.code) (\(error.message)), expected null")
        case .timedOut:
            report.fail("shutdown: no answer within \(Self.text(configuration.answerTimeout)), expected null")
        case .lost(let failure):
            loss(failure, step: "shutdown")
        }
    }

    /// Closes stdin and waits for the exit; a plugin still running after the grace period fails.
    private mutating func end() async {
        guard let connection else { return }
        if lost == nil {
            // Anything written after the last answer must still be a protocol line.
            try? await Task.sleep(for: .milliseconds(100))
            if let failure = connection.failure {
                loss(failure, step: "after the last answer")
            }
        }
        guard lost == nil else {
            skipped("exit at end of input")
            _ = await connection.waitUntilEnded()
            return
        }
        let grace = configuration.exitGrace
        let started = ContinuousClock.now
        let exit = await connection.close(grace: grace)
        let elapsed = ContinuousClock.now - started
        if elapsed < grace {
            switch exit {
            case .exited(let status): report.ok("exited at end of input, status \(status)")
            case .signalled: report.ok("ended at end of input: it \(exit)")
            }
        } else if elapsed < grace * 2 {
            report.fail("still running \(Self.text(grace)) after its stdin closed: ended with SIGTERM (it \(exit))")
        } else {
            report.fail("still running \(Self.text(grace)) after its stdin closed and \(Self.text(grace)) after SIGTERM: killed with SIGKILL")
        }
    }

    /// Answers to ids never asked (or answered twice) logged since the last call: one line each,
    /// at most 10 in all.
    private mutating func reportStrays() {
        var seen = 0
        for case .strayAnswer(let id, let error) in log.recorded {
            seen += 1
            guard seen > straysReported else { continue }
            if seen <= 10 {
                report.fail("stdout: an answer to id \(id), which was not asked or was answered already\(error.isEmpty ? "" : " (error: \(error))")")
            }
        }
        if seen > 10, straysReported < seen {
            report.fail("stdout: \(seen - max(10, straysReported)) more answers to ids that were not asked or were answered already")
        }
        straysReported = seen
    }

    private mutating func reportStderr() {
        var lines = 0
        for event in log.recorded {
            switch event {
            case .stderr(let level, let text):
                lines += 1
                guard lines <= 100 else { continue }
                let prefix = switch level {
                case .error, .critical: "E! "
                case .warning: "W! "
                case .debug, .trace: "D! "
                default: ""
                }
                report.info("stderr: \(prefix)\(text)")
            case .stderrDropped(let count):
                report.info("stderr: \(count) lines over the supervisor's rate limit were dropped")
            case .strayAnswer:
                break
            }
        }
        if lines > 100 { report.info("stderr: \(lines - 100) more lines") }
    }

    // MARK: Helpers

    /// The plugin is gone: one line says why (for a stray stdout line, with its first 120 bytes).
    private mutating func loss(_ failure: PluginFailure, step: String, inFlight: Int = 0) {
        guard lost == nil else { return }
        lost = failure
        let during = inFlight > 0 ? " with \(inFlight) check\(inFlight == 1 ? "" : "s") in flight" : ""
        switch failure.kind {
        case .protocolViolation:
            report.fail("\(step): stdout carries something that is not a protocol answer, so the supervisor kills the plugin\(during): \(failure.reason)")
        case .exited:
            report.fail("\(step): the plugin ended\(during): \(failure.reason)")
        case .hung, .killed, .stopped:
            report.fail("\(step): the plugin was ended\(during): \(failure.reason)")
        }
    }

    private mutating func skipped(_ step: String) {
        notRun.append(step)
    }

    /// A result checked against the schema (every violation) and then as the supervisor reads it.
    private struct Problem: Error {
        var text: String
        init(_ text: String) { self.text = text }
    }

    private static func judge(_ value: JSONValue, expected: PluginCheckResult.Status?) -> Result<String, Problem> {
        let violations = CheckRunResultSchema.schema.validate(value, at: "result")
        if !violations.isEmpty {
            return .failure(Problem("invalid result \(excerpt(value)): " + violations.map(\.message).joined(separator: "; ")))
        }
        switch PluginCheckResult.parse(value) {
        case .failure(let error):
            return .failure(Problem("invalid result \(excerpt(value)): \(error.description)"))
        case .success(let result):
            if let expected, result.status != expected {
                return .failure(Problem("answered \(result.status.rawValue), expected \(expected.rawValue) (message: \(JSONWriter.string(.string(result.message))))"))
            }
            return .success(result.status.rawValue)
        }
    }

    private static func checkParams(_ job: Job, number: Int, timeout: Duration) -> JSONValue {
        let now = Date()
        var params = JSONObject()
        params.append("check_id", .string("plugin-test:\(number)"))
        params.append("monitor_id", .int(1))
        params.append("kind", .string(job.kind))
        params.append("target", .string(job.target))
        params.append("config", .object(job.config))
        params.append("deadline", .string(RFC3339.string(now.addingTimeInterval(seconds(timeout)))))
        params.append("timeout_ms", .int(max(1, Int64(seconds(timeout) * 1000))))
        params.append("scheduled_at", .string(RFC3339.string(now)))
        return .object(params)
    }

    private static let initializeResultSchema: JSONSchema = {
        // A constant PluginHostTests holds equal to proto-docs; failing here is a build defect.
        try! JSONSchema(try! JSONParser.parse(Array(PluginHandshake.resultSchemaText.utf8)))
    }()

    private func deadline(_ duration: Duration) -> NIODeadline { Self.deadline(duration) }

    private static func deadline(_ duration: Duration) -> NIODeadline {
        let (seconds, attoseconds) = duration.components
        return .now() + .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// `15 s`, `0.5 s`.
    static func text(_ duration: Duration) -> String {
        let value = seconds(duration)
        return value == value.rounded() ? "\(Int64(value)) s" : "\(value) s"
    }

    /// A value as JSON, cut at 120 bytes.
    private static func excerpt(_ value: JSONValue) -> String {
        let bytes = JSONWriter.bytes(value)
        let text = String(decoding: bytes.prefix(120), as: UTF8.self)
        return bytes.count > 120 ? text + "…" : text
    }
}
