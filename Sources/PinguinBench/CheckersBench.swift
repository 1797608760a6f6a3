import ArgumentParser
import Foundation
import Logging
import NIOCore
import PinguinModel
import PinguinPluginHost
import PinguinSupervisor
import PinguinWire

/// Each checker plugin at full speed against local fixtures (scripts/bench-support/checker-fixtures),
/// next to Prometheus' blackbox_exporter probing the same fixture and, for http and https, a raw
/// libcurl multi loop (scripts/bench-support/curl-loop.c) as the ceiling. Throughput is checks per
/// wall second; efficiency is checks per CPU second of the measured process alone (utime + stime
/// from /proc/PID/stat): the plugin, the exporter, the raw loop. Issue 7 sets the targets.
struct CheckersBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkers",
        abstract: "Checks/s and CPU per check of the checker plugins, blackbox_exporter and a raw libcurl loop.")

    @Option(help: "The folder `checker-fixtures start` wrote (its `env` file has the ports and pids).")
    var fixtures: String

    @Option(help: "The compiled scripts/bench-support/curl-loop.c.")
    var curlLoop: String

    @Option(help: "Kinds to run, comma-separated: http, https, tcp, dns, ping.")
    var kinds = "http,https,tcp,dns,ping"

    @Option(help: "Checks in flight in the plugin and in the raw loop.")
    var concurrency = 128

    @Option(help: "Probes in flight at blackbox_exporter (concurrent GET /probe on kept-alive connections).")
    var blackboxConcurrency = 128

    @Option(help: "Multiplies every count (measured and warm-up); 0.1 for a quick look.")
    var scale = 1.0

    @Option(help: "Write the summary table to this file (default: standard error).")
    var summary: String?

    /// Measured checks per kind (warm-up is a tenth more): plugin and raw loop, then blackbox.
    static let counts: [String: (checks: Int, probes: Int)] = [
        "http": (60_000, 6_000), "https": (6_000, 3_000), "tcp": (60_000, 6_000), "dns": (60_000, 6_000), "ping": (60_000, 6_000),
    ]

    struct Fixture {
        var httpPort: Int, httpsPort: Int, dnsPort: Int, blackboxPort: Int
        var blackboxPID: Int32, nginxPID: Int32, dnsmasqPID: Int32
        var caFile: String
    }

    /// One side's figures for one kind.
    struct Figures {
        var completed: Int
        var ok: Int
        var wall: Double
        var cpu: Double
        var firstProblem: String?
        /// pinguin-check-ping's `details.socket` (datagram or raw).
        var socket: String?
        var perSecond: Double { Double(completed) / wall }
        var cpuMicroseconds: Double { cpu / Double(completed) * 1e6 }
        var perCPUSecond: Double { Double(completed) / cpu }
    }

    struct Row {
        var kind: String
        var pinguin: Figures
        var blackbox: Figures
        var raw: Figures?
        var fixtureCPUMicroseconds: Double
    }

    func run() async throws {
        let fixture = try readFixture()
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        var rows: [Row] = []
        for kind in kinds.split(separator: ",").map(String.init) {
            guard let count = Self.counts[kind] else { throw ValidationError("unknown kind \(kind)") }
            let checks = max(Int(Double(count.checks) * scale), 100)
            let probes = max(Int(Double(count.probes) * scale), 100)
            let plugin = binaries.appendingPathComponent("pinguin-check-\(kind == "https" ? "http" : kind)").path
            guard FileManager.default.isExecutableFile(atPath: plugin) else {
                throw ValidationError("\(plugin) is missing: swift build -c release --product \((plugin as NSString).lastPathComponent)")
            }
            FileHandle.standardError.write(Data("bench: checkers \(kind): pinguin (\(checks) checks)…\n".utf8))
            let fixtureBefore = fixtureCPU(fixture)
            let pinguin = try await runPlugin(plugin, kind: kind, checks: checks, fixture: fixture, logger: logger)
            let fixtureCPUMicroseconds = (fixtureCPU(fixture) - fixtureBefore) / Double(checks + checks / 10) * 1e6
            var raw: Figures?
            if kind == "http" || kind == "https" {
                FileHandle.standardError.write(Data("bench: checkers \(kind): raw libcurl loop (\(checks) fetches)…\n".utf8))
                raw = try await runRawLoop(kind: kind, count: checks, fixture: fixture)
            }
            FileHandle.standardError.write(Data("bench: checkers \(kind): blackbox_exporter (\(probes) probes)…\n".utf8))
            let blackbox = try await runBlackbox(kind: kind, count: probes, fixture: fixture)
            let row = Row(kind: kind, pinguin: pinguin, blackbox: blackbox, raw: raw, fixtureCPUMicroseconds: fixtureCPUMicroseconds)
            rows.append(row)
            reportRow(row)
        }
        let table = summaryTable(rows)
        if let summary { try table.write(toFile: summary, atomically: true, encoding: .utf8) } else { FileHandle.standardError.write(Data(table.utf8)) }
    }

    // MARK: Fixture

    private func readFixture() throws -> Fixture {
        let text = try String(contentsOfFile: fixtures + "/env", encoding: .utf8)
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        func int(_ key: String) throws -> Int {
            guard let value = values[key].flatMap({ Int($0) }) else { throw ValidationError("\(fixtures)/env has no \(key)") }
            return value
        }
        return Fixture(httpPort: try int("BENCH_HTTP_PORT"), httpsPort: try int("BENCH_HTTPS_PORT"), dnsPort: try int("BENCH_DNS_PORT"),
                       blackboxPort: try int("BENCH_BLACKBOX_PORT"), blackboxPID: Int32(try int("BENCH_BLACKBOX_PID")),
                       nginxPID: Int32(try int("BENCH_NGINX_PID")), dnsmasqPID: Int32(try int("BENCH_DNSMASQ_PID")),
                       caFile: values["BENCH_CA_FILE"] ?? "")
    }

    /// The target and config of check `index` (spread over the fixture's addresses).
    private func plugin(kind: String, index: Int, fixture: Fixture) -> (target: String, config: JSONObject) {
        var config = JSONObject()
        switch kind {
        case "http":
            return ("http://127.0.1.\(index % 16 + 1):\(fixture.httpPort)/", config)
        case "https":
            config.append("ca_file", .string(fixture.caFile))
            return ("https://127.0.1.\(index % 16 + 1):\(fixture.httpsPort)/", config)
        case "tcp":
            return ("127.0.1.\(index % 16 + 1):\(fixture.httpPort)", config)
        case "dns":
            config.append("resolver", .string("127.0.2.\(index % 4 + 1)"))
            config.append("port", .int(fixture.dnsPort))
            return ("www.bench.test", config)
        default:
            // One echo request per check, as blackbox_exporter sends one per probe.
            config.append("count", .int(1))
            config.append("timeout_ms", .int(1000))
            return ("127.0.3.\(index % 16 + 1)", config)
        }
    }

    /// blackbox_exporter's module and targets for the same checks.
    private func blackboxURLs(kind: String, fixture: Fixture) -> [String] {
        let base = "http://127.0.0.1:\(fixture.blackboxPort)/probe?module="
        switch kind {
        case "http": return (1...16).map { "\(base)http&target=http://127.0.1.\($0):\(fixture.httpPort)/" }
        case "https": return (1...16).map { "\(base)https&target=https://127.0.1.\($0):\(fixture.httpsPort)/" }
        case "tcp": return (1...16).map { "\(base)tcp&target=127.0.1.\($0):\(fixture.httpPort)" }
        case "dns": return (1...4).map { "\(base)dns&target=127.0.2.\($0):\(fixture.dnsPort)" }
        default: return (1...16).map { "\(base)icmp&target=127.0.3.\($0)" }
        }
    }

    // MARK: Pinguin

    private func runPlugin(_ path: String, kind: String, checks: Int, fixture: Fixture, logger: Logger) async throws -> Figures {
        var configuration = PluginPool.Configuration()
        configuration.maximumProcesses = 1
        let pool = PluginPool(
            path: path, options: SpawnedProcess.Options(path: path, environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"]),
            initializeParameters: PluginHandshake.parameters(supervisorName: "bench", version: PinguinVersion.current, id: "bench", location: "default", maximumLineBytes: 1 << 20),
            configuration: configuration, logger: logger)
        let running = Task { await pool.run() }
        defer { running.cancel() }
        let started = ContinuousClock.now
        while pool.status.phase != .running {
            if ContinuousClock.now - started > .seconds(15) { throw ValidationError("\(path) did not start: \(pool.status.lastFailure ?? "?")") }
            try await Task.sleep(for: .milliseconds(10))
        }
        guard let pid = pool.status.pids.first else { throw ValidationError("\(path) has no process") }
        let monitorKind = kind == "https" ? "http" : kind
        let parameters = { @Sendable (index: Int) -> JSONValue in
            let (target, config) = self.plugin(kind: kind, index: index, fixture: fixture)
            var params = JSONObject()
            params.append("check_id", .string("\(index % 10_000 + 1):1795000000000000"))
            params.append("monitor_id", .int(index % 10_000 + 1))
            params.append("kind", .string(monitorKind))
            params.append("target", .string(target))
            params.append("config", .object(config))
            params.append("deadline", .string(RFC3339.string(Date().addingTimeInterval(30))))
            params.append("timeout_ms", .int(30_000))
            params.append("scheduled_at", .string(RFC3339.string(Date())))
            return .object(params)
        }
        let concurrency = concurrency
        func drive(_ total: Int) async -> (ok: Int, problem: String?, socket: String?) {
            let counter = Counter()
            return await withTaskGroup(of: (Int, String?, String?).self) { group in
                for _ in 0..<min(concurrency, total) {
                    group.addTask {
                        var ok = 0
                        var problem: String?
                        var socket: String?
                        while let index = counter.next(below: total) {
                            switch await pool.check(parameters(index), deadline: .now() + .seconds(30)) {
                            case .answered(.result(let value)):
                                switch PluginCheckResult.parse(value) {
                                case .success(let result) where result.status == .up:
                                    ok += 1
                                    socket = socket ?? result.details["socket"]?.stringValue
                                case .success(let result): problem = problem ?? "\(result.status): \(result.message)"
                                case .failure(let error): problem = problem ?? "bad result: \(error)"
                                }
                            case .answered(let other): problem = problem ?? "\(other)"
                            case .unavailable(let reason): problem = problem ?? "unavailable: \(reason)"
                            }
                        }
                        return (ok, problem, socket)
                    }
                }
                return await group.reduce((0, nil, nil)) { ($0.0 + $1.0, $0.1 ?? $1.1, $0.2 ?? $1.2) }
            }
        }
        _ = await drive(checks / 10)   // warm-up
        let cpuBefore = SupervisorBench.cpuSeconds(of: pid)
        let start = ContinuousClock.now
        let (ok, problem, socket) = await drive(checks)
        let wall = (ContinuousClock.now - start).seconds
        let cpu = SupervisorBench.cpuSeconds(of: pid) - cpuBefore
        await pool.stop()
        return Figures(completed: checks, ok: ok, wall: wall, cpu: cpu, firstProblem: problem, socket: socket)
    }

    // MARK: blackbox_exporter and the raw loop

    private func runBlackbox(kind: String, count: Int, fixture: Fixture) async throws -> Figures {
        let urls = blackboxURLs(kind: kind, fixture: fixture)
        let common = ["probe", "--warmup", "0", "--concurrency", "\(blackboxConcurrency)", "--timeout-ms", "10000"]
        _ = try await curlLoopRun(common + ["--count", "\(max(count / 10, blackboxConcurrency))"] + urls)   // warm-up
        let before = SupervisorBench.cpuSeconds(of: fixture.blackboxPID)
        var figures = try await curlLoopRun(common + ["--count", "\(count)"] + urls)
        figures.cpu = SupervisorBench.cpuSeconds(of: fixture.blackboxPID) - before
        return figures
    }

    private func runRawLoop(kind: String, count: Int, fixture: Fixture) async throws -> Figures {
        let urls = kind == "http" ? (1...16).map { "http://127.0.1.\($0):\(fixture.httpPort)/" }
                                  : (1...16).map { "https://127.0.1.\($0):\(fixture.httpsPort)/" }
        var arguments = ["fetch", "--count", "\(count)", "--warmup", "\(count / 10)", "--concurrency", "\(concurrency)", "--timeout-ms", "29750"]
        if kind == "https" { arguments += ["--cainfo", fixture.caFile] }
        return try await curlLoopRun(arguments + urls)
    }

    /// Runs curl-loop and reads its one line: completed, ok, wall_s, cpu_s (its own), first_error.
    private func curlLoopRun(_ arguments: [String]) async throws -> Figures {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: curlLoop)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        let line = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        var values: [String: String] = [:]
        if let range = line.range(of: " first_error=") {
            values["first_error"] = String(line[range.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        for field in line.split(separator: " ") {
            let parts = field.split(separator: "=", maxSplits: 1)
            if parts.count == 2, values[String(parts[0])] == nil { values[String(parts[0])] = String(parts[1]) }
        }
        guard let completed = values["completed"].flatMap({ Int($0) }), let ok = values["ok"].flatMap({ Int($0) }),
              let wall = values["wall_s"].flatMap({ Double($0) }), let cpu = values["cpu_s"].flatMap({ Double($0) }) else {
            throw ValidationError("curl-loop \(arguments.prefix(1)) printed '\(line)' (exit \(process.terminationStatus))")
        }
        let problem = values["first_error"].flatMap { $0 == "-" ? nil : $0 }
        return Figures(completed: completed, ok: ok, wall: wall, cpu: cpu, firstProblem: problem)
    }

    /// CPU seconds of nginx (master and workers) and dnsmasq.
    private func fixtureCPU(_ fixture: Fixture) -> Double {
        var total = SupervisorBench.cpuSeconds(of: fixture.nginxPID) + SupervisorBench.cpuSeconds(of: fixture.dnsmasqPID)
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = text.lastIndex(of: ")") else { continue }
            let fields = text[text.index(after: close)...].split(separator: " ")
            if fields.count > 1, Int32(fields[1]) == fixture.nginxPID { total += SupervisorBench.cpuSeconds(of: pid) }
        }
        return total
    }

    // MARK: Output

    /// The targets of issue 7: efficiency against blackbox_exporter (at least), CPU against the raw loop (at most).
    static func targets(_ kind: String) -> (blackbox: Double, raw: Double?) {
        switch kind {
        case "http": (3, 1.5)
        case "https": (0, 1.3)
        default: (3, nil)
        }
    }

    private func reportRow(_ row: Row) {
        let kind = row.kind
        func outcome(_ figures: Figures, _ noun: String) -> String {
            let ok = figures.ok == figures.completed ? "all \(figures.completed) ok" : "\(figures.ok) of \(figures.completed) ok, first problem: \(figures.firstProblem ?? "?")"
            return "\(ok), \(String(format: "%.2f", figures.wall)) s, CPU \(String(format: "%.2f", figures.cpu)) s"
        }
        report("checkers.\(kind).pinguin", row.pinguin.perSecond, "checks/s",
               "pinguin-check-\(kind == "https" ? "http" : kind), \(concurrency) in flight\(row.pinguin.socket.map { ", \($0) ICMP socket" } ?? ""); \(outcome(row.pinguin, "checks")); fixture CPU \(String(format: "%.0f", row.fixtureCPUMicroseconds)) µs/check")
        report("checkers.\(kind).pinguin_cpu", row.pinguin.cpuMicroseconds, "µs", "plugin process CPU per check")
        if let raw = row.raw {
            report("checkers.\(kind).raw_curl", raw.perSecond, "fetch/s", "curl-loop.c, \(concurrency) in flight; \(outcome(raw, "fetches"))")
            report("checkers.\(kind).raw_curl_cpu", raw.cpuMicroseconds, "µs", "raw loop CPU per fetch")
        }
        report("checkers.\(kind).blackbox", row.blackbox.perSecond, "probes/s", "blackbox_exporter, \(blackboxConcurrency) in flight; \(outcome(row.blackbox, "probes"))")
        report("checkers.\(kind).blackbox_cpu", row.blackbox.cpuMicroseconds, "µs", "exporter process CPU per probe")
        let targets = Self.targets(kind)
        let ratio = row.pinguin.perCPUSecond / row.blackbox.perCPUSecond
        print("checkers.\(kind).vs_blackbox\t\(String(format: "%.2f", ratio))\t×\tchecks per CPU second over blackbox's" +
              (targets.blackbox > 0 ? "; target ≥ \(targets.blackbox): \(ratio >= targets.blackbox ? "met" : "MISSED")" : " (no target)"))
        if let raw = row.raw, let target = targets.raw {
            let rawRatio = row.pinguin.cpuMicroseconds / raw.cpuMicroseconds
            print("checkers.\(kind).vs_raw_curl\t\(String(format: "%.2f", rawRatio))\t×\tCPU per check over the raw loop's; target ≤ \(target): \(rawRatio <= target ? "met" : "MISSED")")
        }
    }

    /// Left-aligned first column, the others right-aligned.
    static func columns(_ cells: [String]) -> String {
        let widths = [6, 10, 9, 11, 9, 16, 8, 15]
        return zip(cells, widths).enumerated().map { index, pair in
            let padding = String(repeating: " ", count: max(pair.1 - pair.0.count, 0))
            return index == 0 ? pair.0 + padding : padding + pair.0
        }.joined(separator: " ")
    }

    private func summaryTable(_ rows: [Row]) -> String {
        func cell(_ value: Double, _ format: String = "%.0f") -> String { String(format: format, value) }
        var lines = [
            "", "checker benchmark (CPU of the measured process only; \(concurrency) in flight for Pinguin and raw libcurl, \(blackboxConcurrency) for blackbox_exporter)",
            Self.columns(["kind", "pinguin/s", "µs/check", "blackbox/s", "µs/probe", "vs blackbox", "raw µs", "vs raw"]),
        ]
        for row in rows {
            let targets = Self.targets(row.kind)
            let ratio = row.pinguin.perCPUSecond / row.blackbox.perCPUSecond
            let versusBlackbox = targets.blackbox > 0 ? "\(cell(ratio, "%.1f"))× \(ratio >= targets.blackbox ? "≥" : "<")\(cell(targets.blackbox, "%.0f")) \(ratio >= targets.blackbox ? "ok" : "NO")" : "\(cell(ratio, "%.1f"))× (none)"
            var rawCell = "-", versusRaw = "-"
            if let raw = row.raw, let target = targets.raw {
                let rawRatio = row.pinguin.cpuMicroseconds / raw.cpuMicroseconds
                rawCell = cell(raw.cpuMicroseconds)
                versusRaw = "\(cell(rawRatio, "%.2f"))× \(rawRatio <= target ? "≤" : ">")\(cell(target, "%.1f")) \(rawRatio <= target ? "ok" : "NO")"
            }
            let sides = [("pinguin", row.pinguin), ("blackbox", row.blackbox)] + (row.raw.map { [("raw", $0)] } ?? [])
            let failed = sides.filter { $0.1.ok != $0.1.completed }.map { "\($0.0) \($0.1.completed - $0.1.ok) of \($0.1.completed) failed" }
            let flag = failed.isEmpty ? "" : "  (\(failed.joined(separator: ", ")))"
            lines.append(Self.columns([row.kind, cell(row.pinguin.perSecond), cell(row.pinguin.cpuMicroseconds), cell(row.blackbox.perSecond),
                                       cell(row.blackbox.cpuMicroseconds), versusBlackbox, rawCell, versusRaw]) + flag)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
