import Foundation
import Glibc
import PinguinCheckerKit
import PinguinWire

/// One `ping` check: `count` echo requests at `interval_ms` over the shared socket, then loss,
/// round trips and jitter, judged against the thresholds.
struct PingProbe {
    let request: CheckRequest
    let config: PingConfig

    init(_ request: CheckRequest) throws(CheckError) {
        self.request = request
        config = try PingConfig(request.config)
    }

    func run() async throws -> CheckOutcome {
        let started = ContinuousClock.now
        let remaining = request.remaining
        // End a little before the supervisor's deadline, so that no reply is a down result, not a plugin timeout.
        let end = started + remaining - min(remaining / 10, .milliseconds(250))
        var phases: [(name: String, milliseconds: Double)] = []
        var details = JSONObject()

        let address: PingAddress
        if let literal = PingAddress(request.target) {
            address = literal
            if config.ipVersion == .ipv4 && literal.v6 || config.ipVersion == .ipv6 && !literal.v6 {
                throw CheckError.invalidConfig("ip_version is \(config.ipVersion.rawValue) but the target is an IPv\(literal.v6 ? 6 : 4) address")
            }
        } else {
            let resolving = ContinuousClock.now
            switch await Self.resolve(request.target, version: config.ipVersion) {
            case .success(let resolved): address = resolved
            case .failure(let failure):
                return CheckOutcome(status: .down, message: failure.message, phases: [("dns", Self.milliseconds(ContinuousClock.now - resolving))],
                                    details: JSONObject(["target": .string(request.target)]), errorKind: failure.kind)
            }
            phases.append(("dns", Self.milliseconds(ContinuousClock.now - resolving)))
        }
        details.append("address", .string(address.description))
        details.append("address_family", .string(address.v6 ? "ipv6" : "ipv4"))

        let socket = try PingEngine.shared.socket(v6: address.v6, dontFragment: config.dontFragment)
        details.append("socket", .string(socket.kind.rawValue))
        let run = PingRun(count: config.count)
        var cookie = [UInt8](repeating: 0, count: ICMPPacket.cookieBytes)
        for index in cookie.indices { cookie[index] = UInt8.random(in: 0...255) }
        var sequences: [UInt16] = []
        defer { PingEngine.shared.release(sequences, of: run) }

        let sending = ContinuousClock.now
        for index in 0..<config.count {
            if index > 0 {
                let next = sending + .milliseconds(config.intervalMilliseconds * Int64(index))
                if next >= end { break }
                try await Task.sleep(until: next)
            }
            guard let sequence = PingEngine.shared.register(run, index: index, socket: socket, destination: address, cookie: cookie) else {
                throw CheckError("every ICMP sequence number is in use", kind: "internal")
            }
            sequences.append(sequence)
            let packet = ICMPPacket.echoRequest(v6: address.v6, identifier: socket.identifier, sequence: sequence, cookie: cookie, payloadBytes: config.payloadBytes)
            run.sent(index: index, at: ICMPSocket.monotonicNanoseconds())
            let failure = socket.send(packet, to: address, ttl: config.ttl)
            if failure != 0 {
                run.unsent(index: index)
                let reason = String(cString: strerror(failure))
                switch failure {
                case EMSGSIZE:
                    return CheckOutcome(status: .down, message: "\(config.payloadBytes)-byte echo request to \(address) is larger than the path MTU and dont_fragment is set (\(reason))",
                                        details: details, errorKind: "message_too_big")
                case ENETUNREACH, EHOSTUNREACH:
                    return CheckOutcome(status: .down, message: "no route to \(address): \(reason)", details: details, errorKind: "unreachable")
                case EPERM, EACCES:
                    throw CheckError("cannot send to \(address): \(reason)", kind: "permission")
                default:
                    return CheckOutcome(status: .down, message: "sending to \(address) failed: \(reason)", details: details, errorKind: "send_failed")
                }
            }
        }
        // Wait for the outstanding replies, at most timeout_ms after the last request.
        let waitUntil = min(ContinuousClock.now + .milliseconds(config.timeoutMilliseconds), end)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(until: waitUntil)
                run.finish()
            }
            await run.waitForReplies()
            group.cancelAll()
        }
        run.finish()
        phases.append(("echo", Self.milliseconds(ContinuousClock.now - sending)))
        return judge(run.results, address: address, details: details, phases: phases, started: started)
    }

    private func judge(_ results: (rtts: [UInt64?], sent: Int, duplicates: Int), address: PingAddress, details: JSONObject,
                       phases: [(name: String, milliseconds: Double)], started: ContinuousClock.Instant) -> CheckOutcome {
        var details = details
        let rtts = results.rtts.prefix(results.sent).map { $0.map { Double($0) / 1_000_000 } }
        let replied = rtts.compactMap { $0 }
        let sent = results.sent
        let loss = sent == 0 ? 100 : Double(sent - replied.count) * 100 / Double(sent)
        func round3(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
        details.append("sent", .int(sent))
        details.append("received", .int(replied.count))
        details.append("loss_percent", .double(round3(loss)))
        details.append("duplicates", .int(results.duplicates))
        details.append("payload_bytes", .int(config.payloadBytes))
        if let ttl = config.ttl { details.append("ttl", .int(ttl)) }
        details.append("rtts_ms", .array(rtts.map { $0.map { .double(round3($0)) } ?? .null }))
        var metrics = [CheckMetric(label: "pl", value: round3(loss), uom: "%", warn: config.degradedLossPercent.map { "\($0)" },
                                   crit: config.downLossPercent.map { "\($0)" }, min: 0, max: 100)]
        guard !replied.isEmpty else {
            return CheckOutcome(status: .down, message: "no reply from \(address): \(sent) sent, 0 received, 100% loss",
                                latencyMilliseconds: Self.milliseconds(ContinuousClock.now - started), phases: phases, details: details,
                                metrics: metrics, errorKind: "no_reply")
        }
        let minimum = replied.min()!, maximum = replied.max()!
        let average = replied.reduce(0, +) / Double(replied.count)
        // Jitter: the mean absolute difference between consecutive round trips (RFC 3550's idea, unsmoothed).
        let jitter = replied.count < 2 ? 0 : zip(replied, replied.dropFirst()).map { abs($1 - $0) }.reduce(0, +) / Double(replied.count - 1)
        details.append("rtt_min_ms", .double(round3(minimum)))
        details.append("rtt_avg_ms", .double(round3(average)))
        details.append("rtt_max_ms", .double(round3(maximum)))
        details.append("jitter_ms", .double(round3(jitter)))
        metrics.insert(CheckMetric(label: "rta", value: round3(average), uom: "ms", warn: config.degradedRTTMilliseconds.map { "\($0)" },
                                   crit: config.downRTTMilliseconds.map { "\($0)" }, min: 0), at: 0)
        metrics.append(CheckMetric(label: "rtmin", value: round3(minimum), uom: "ms", min: 0))
        metrics.append(CheckMetric(label: "rtmax", value: round3(maximum), uom: "ms", min: 0))
        metrics.append(CheckMetric(label: "jitter", value: round3(jitter), uom: "ms", min: 0))

        let summary = "\(replied.count)/\(sent) replies from \(address), \(Self.format(loss))% loss, rtt min/avg/max \(Self.format(minimum))/\(Self.format(average))/\(Self.format(maximum)) ms"
        var status = CheckStatus.up
        var errorKind: String?
        var reasons: [String] = []
        if let limit = config.downLossPercent, loss >= limit {
            status = .down; errorKind = "packet_loss"; reasons.append("loss at least down_loss_percent \(Self.format(limit))")
        } else if let limit = config.downRTTMilliseconds, average >= limit {
            status = .down; errorKind = "high_rtt"; reasons.append("average rtt at least down_rtt_ms \(Self.format(limit))")
        } else if let limit = config.degradedLossPercent, loss >= limit {
            status = .degraded; errorKind = "packet_loss"; reasons.append("loss at least degraded_loss_percent \(Self.format(limit))")
        } else if let limit = config.degradedRTTMilliseconds, average >= limit {
            status = .degraded; errorKind = "high_rtt"; reasons.append("average rtt at least degraded_rtt_ms \(Self.format(limit))")
        }
        return CheckOutcome(status: status, message: ([summary] + reasons).joined(separator: "; "),
                            latencyMilliseconds: round3(average), phases: phases, details: details, metrics: metrics, errorKind: errorKind)
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.3f", value).replacingOccurrences(of: #"0+$"#, with: "", options: .regularExpression)
    }

    struct ResolveFailure: Error {
        var kind: String
        var message: String
    }

    /// getaddrinfo on a thread of its own (it blocks); only for targets that are names.
    static func resolve(_ host: String, version: PingConfig.IPVersion) async -> Result<PingAddress, ResolveFailure> {
        await withCheckedContinuation { continuation in
            Thread {
                var hints = addrinfo()
                hints.ai_family = version == .ipv4 ? AF_INET : version == .ipv6 ? AF_INET6 : AF_UNSPEC
                hints.ai_socktype = Int32(SOCK_RAW.rawValue)
                var list: UnsafeMutablePointer<addrinfo>?
                let status = getaddrinfo(host, nil, &hints, &list)
                guard status == 0 else {
                    let reason = String(cString: gai_strerror(status))
                    continuation.resume(returning: .failure(ResolveFailure(kind: status == EAI_NONAME ? "dns_no_such_host" : "dns_failure",
                                                                           message: "\(host) does not resolve: \(reason)")))
                    return
                }
                defer { freeaddrinfo(list) }
                var found: [PingAddress] = []
                var entry = list
                while let current = entry, let pointer = current.pointee.ai_addr {
                    if current.pointee.ai_family == AF_INET {
                        let address = pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                        found.append(PingAddress(v6: false, bytes: withUnsafeBytes(of: address) { Array($0) }))
                    } else if current.pointee.ai_family == AF_INET6 {
                        let address = pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                        found.append(PingAddress(v6: true, bytes: withUnsafeBytes(of: address) { Array($0) }))
                    }
                    entry = current.pointee.ai_next
                }
                let chosen: PingAddress?
                switch version {
                case .any, .ipv4, .ipv6: chosen = found.first
                case .preferIPv4: chosen = found.first { !$0.v6 } ?? found.first
                case .preferIPv6: chosen = found.first { $0.v6 } ?? found.first
                }
                continuation.resume(returning: chosen.map { .success($0) } ?? .failure(ResolveFailure(kind: "dns_no_address", message: "\(host) has no usable address")))
            }.start()
        }
    }
}
