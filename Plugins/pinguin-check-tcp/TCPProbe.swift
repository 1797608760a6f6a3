import Foundation
import Glibc
import NIOCore
import NIOPosix
import NIOSSL
import PinguinCheckerKit
import PinguinWire
import Synchronization

/// One `tcp` check: resolve, connect, TLS, steps; every failure named by a stable error kind.
/// All connections share one event loop: a check is a few futures on it, never a thread.
struct TCPProbe {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    /// Bytes of what was received kept in `details.received`.
    static let excerptBytes = 512

    let request: CheckRequest
    let config: TCPConfig
    let target: TCPTarget

    /// Facts gathered as the check goes; the outcome is built from them at the end.
    final class Record: @unchecked Sendable {
        // @unchecked: written by the check's task only, in order (the handlers hold their own state).
        var phases: [(name: String, milliseconds: Double)] = []
        var details = JSONObject()
        var stepsDone = 0
    }

    /// The channel, so that a cancelled check closes it.
    private final class ChannelSlot: Sendable {
        let state = Mutex<(channel: (any Channel)?, cancelled: Bool)>((nil, false))
        func set(_ channel: any Channel) {
            let cancelled = state.withLock { state in state.channel = channel; return state.cancelled }
            if cancelled { channel.close(promise: nil) }
        }
        func cancel() {
            let channel = state.withLock { state in state.cancelled = true; return state.channel }
            channel?.close(promise: nil)
        }
    }

    init(_ request: CheckRequest) throws(CheckError) {
        self.request = request
        config = try TCPConfig(request.config)
        target = try TCPTarget(request.target)
        if let address = target.address {
            if config.ipVersion == .ipv4 && address.protocol != .inet { throw .invalidConfig("ip_version is ipv4 but the target is an IPv6 address") }
            if config.ipVersion == .ipv6 && address.protocol != .inet6 { throw .invalidConfig("ip_version is ipv6 but the target is an IPv4 address") }
        }
    }

    func run() async throws -> CheckOutcome {
        let slot = ChannelSlot()
        return try await withTaskCancellationHandler {
            try await probe(slot)
        } onCancel: {
            slot.cancel()
        }
    }

    private func probe(_ slot: ChannelSlot) async throws -> CheckOutcome {
        let started = NIODeadline.now()
        // Answer a timeout ourselves a little before the supervisor's deadline: a target that
        // does not answer is down, not a checker that hung.
        let remaining = TimeAmount.nanoseconds(max(Int64(request.remaining.components.seconds) * 1_000_000_000 + request.remaining.components.attoseconds / 1_000_000_000, 1_000_000))
        let margin = TimeAmount.nanoseconds(min(remaining.nanoseconds / 10, 250_000_000))
        let deadline = started + remaining - margin
        let record = Record()
        record.details.append("host", .string(target.host))
        record.details.append("port", .int(target.port))

        func left() -> TimeAmount { max(deadline - .now(), .milliseconds(1)) }
        func since(_ start: NIODeadline) -> Double { Double((NIODeadline.now() - start).nanoseconds) / 1_000_000 }
        func outcome(_ status: CheckStatus, _ message: String, _ errorKind: String?, handler: ProbeHandler? = nil) async -> CheckOutcome {
            if let handler, let seen = try? await handler.snapshot().get() {
                record.details.append("bytes_received", .int(seen.received))
                if !seen.banner.isEmpty {
                    record.details.append("banner", .string(Self.printable(seen.banner)))
                }
                if !seen.unread.isEmpty {
                    record.details.append("received", .string(Self.printable(seen.unread.suffix(Self.excerptBytes))))
                }
            }
            record.details.append("steps_completed", .int(record.stepsDone))
            return CheckOutcome(status: status, message: message, latencyMilliseconds: since(started), phases: record.phases,
                                details: record.details, errorKind: errorKind)
        }

        // Resolve (no DNS for an address).
        let address: SocketAddress
        if let literal = target.address {
            address = literal
        } else {
            let resolving = NIODeadline.now()
            do {
                address = try await AddressResolver.resolve(target.host, port: target.port, version: config.ipVersion)
            } catch let failure as ResolveFailure {
                record.phases.append(("dns", since(resolving)))
                return await outcome(.down, failure.message, failure.kind)
            }
            record.phases.append(("dns", since(resolving)))
        }
        let shown = address.ipAddress ?? "\(address)"
        let endpoint = address.protocol == .inet6 ? "[\(shown)]:\(target.port)" : "\(shown):\(target.port)"
        record.details.append("resolved_address", .string(shown))
        record.details.append("address_family", .string(address.protocol == .inet6 ? "ipv6" : "ipv4"))

        // Connect.
        let connectTimeout = min(config.timeoutMilliseconds.map { TimeAmount.milliseconds($0) } ?? left(), left())
        let handler = ProbeHandler(eventLoop: Self.group.next(), bannerLimit: config.bannerBytes)
        let connecting = NIODeadline.now()
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: handler.eventLoop)
                .connectTimeout(connectTimeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
                }
                .connect(to: address).get()
        } catch {
            record.phases.append(("connect", since(connecting)))
            let (kind, message) = Self.describeConnect(error, endpoint: endpoint, timeout: connectTimeout)
            return await outcome(.down, message, kind)
        }
        slot.set(channel)
        defer { channel.close(promise: nil) }
        record.phases.append(("connect", since(connecting)))
        var ready = NIODeadline.now()

        // TLS.
        if let tls = config.tls {
            let context = try TLSContexts.context(for: tls)
            let serverName = tls.serverName ?? (target.address == nil ? target.host : nil)
            let seen = SeenCertificates()
            let shaking = NIODeadline.now()
            do {
                try await channel.eventLoop.submit {
                    // The (deprecated) per-certificate callback keeps BoringSSL's own verification and
                    // shows which certificate failed, so an expired one is told from an untrusted one;
                    // its replacement takes verification over entirely.
                    let ssl = try NIOSSLClientHandler(context: context, serverHostname: serverName,
                                                      verificationCallback: { result, certificate in seen.add(certificate, failed: result == .failed); return result })
                    try channel.pipeline.syncOperations.addHandler(ssl, position: .first)
                }.get()
                try await handler.handshakeCompleted(timeout: left()).get()
            } catch {
                record.phases.append(("tls", since(shaking)))
                let (kind, message) = Self.describeTLS(error, seen: seen, serverName: serverName ?? shown, record: record)
                return await outcome(.down, message, kind, handler: handler)
            }
            record.phases.append(("tls", since(shaking)))
            ready = .now()
            let version = try? await channel.nioSSL_tlsVersion().get()
            let leaf = try? await channel.nioSSL_peerCertificate().get()
            var tlsDetails = JSONObject()
            if let version { tlsDetails.append("version", .string(Self.name(version))) }
            if let serverName { tlsDetails.append("server_name", .string(serverName)) }
            tlsDetails.append("verified", .bool(tls.verify))
            let now = Date()
            if let leaf, let facts = Self.facts(leaf) {
                tlsDetails.append("certificate", facts.json(now: now))
                if let earliest = seen.all().map({ $0.notValidAfter }).min(), earliest < leaf.notValidAfter {
                    tlsDetails.append("chain_earliest_expiry", .string(RFC3339Format.string(Date(timeIntervalSince1970: TimeInterval(earliest)))))
                }
                record.details.append("tls", .object(tlsDetails))
                let daysLeft = facts.notAfter.timeIntervalSince(now) / 86_400
                if tls.expiryDays > 0, daysLeft < Double(tls.expiryDays) {
                    let when = daysLeft < 0 ? "expired \(Int((-daysLeft).rounded(.up))) days ago" : "expires in \(String(format: "%.1f", daysLeft)) days"
                    return await outcome(tls.expiryStatus, "certificate of \(facts.subject) \(when) (\(RFC3339Format.string(facts.notAfter))), threshold \(tls.expiryDays) days",
                                         "tls_expiring", handler: handler)
                }
            } else {
                record.details.append("tls", .object(tlsDetails))
            }
        }

        // Banner.
        if config.bannerWaitMilliseconds > 0 {
            do {
                try await handler.wait(for: nil, timeout: min(.milliseconds(config.bannerWaitMilliseconds), left())).get()
            } catch ProbeFailure.reset {
                return await outcome(.down, "connection to \(endpoint) reset by the server while waiting for its banner", "reset", handler: handler)
            } catch {}
        }

        // Steps.
        let stepping = NIODeadline.now()
        for (index, step) in config.steps.enumerated() {
            let number = index + 1
            switch step {
            case .send(let bytes):
                do {
                    try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
                } catch {
                    let (kind, message) = Self.describeIO(error, doing: "sending step \(number)", endpoint: endpoint)
                    return await outcome(.down, message, kind, handler: handler)
                }
            case .expectBytes, .expectRegex:
                let matcher: ProbeHandler.Matcher
                let what: String
                let stepTimeout: Int64?
                switch step {
                case .expectRegex(let pattern, let milliseconds):
                    let regex = RegexBox(pattern)
                    matcher = { regex.end(in: $0) }
                    what = "regex /\(pattern)/"
                    stepTimeout = milliseconds
                case .expectBytes(let needle, let shownNeedle, let milliseconds):
                    matcher = { Self.end(of: needle, in: $0) }
                    what = "\"\(shownNeedle)\""
                    stepTimeout = milliseconds
                case .send:
                    continue
                }
                let timeout = min(stepTimeout.map { TimeAmount.milliseconds($0) } ?? left(), left())
                do {
                    try await handler.wait(for: matcher, timeout: timeout).get()
                } catch let failure as ProbeFailure {
                    let unread = (try? await handler.snapshot().get().unread) ?? []
                    let got = unread.isEmpty ? "nothing" : "\"\(Self.printable(unread.suffix(120)))\""
                    let waited = "\(timeout.nanoseconds / 1_000_000) ms"
                    switch failure {
                    case .timeout where unread.isEmpty:
                        return await outcome(.down, "step \(number): expected \(what), received nothing within \(waited)", "timeout", handler: handler)
                    case .timeout:
                        return await outcome(.down, "step \(number): expected \(what), got \(got) within \(waited)", "expect_mismatch", handler: handler)
                    case .closed where unread.isEmpty:
                        return await outcome(.down, "step \(number): the server closed the connection before sending \(what)", "closed", handler: handler)
                    case .closed:
                        return await outcome(.down, "step \(number): expected \(what), got \(got) and then the server closed the connection", "expect_mismatch", handler: handler)
                    case .reset:
                        return await outcome(.down, "step \(number): connection reset by the server while expecting \(what), after \(got)", "reset", handler: handler)
                    case .tls(let error), .io(let error):
                        let (kind, message) = Self.describeIO(error, doing: "step \(number)", endpoint: endpoint)
                        return await outcome(.down, message, kind, handler: handler)
                    }
                }
            }
            record.stepsDone = number
        }
        if !config.steps.isEmpty { record.phases.append(("steps", since(stepping))) }

        if let firstByteAt = try? await handler.snapshot().get().firstByteAt {
            record.phases.append(("first_byte", Double(max(firstByteAt - ready, .zero).nanoseconds) / 1_000_000))
        }
        let total = since(started)
        var summary = "connected to \(endpoint)"
        if config.tls != nil { summary += " with TLS" }
        if !config.steps.isEmpty { summary += ", \(config.steps.count) steps passed" }
        summary += " in \(String(format: "%.1f", total)) ms"
        if let degraded = config.degradedMilliseconds, total > Double(degraded) {
            return await outcome(.degraded, summary + ", slower than degraded_ms \(degraded)", "slow", handler: handler)
        }
        return await outcome(.up, summary, nil, handler: handler)
    }

    // MARK: Matching

    /// The end of the first occurrence of `needle` in `haystack`.
    static func end(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<start + needle.count].elementsEqual(needle) { return start + needle.count }
        }
        return nil
    }

    /// Bytes as text for details and messages: UTF-8, control characters escaped.
    static func printable(_ bytes: some Collection<UInt8>) -> String {
        var text = ""
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            switch scalar {
            case "\r": text += "\\r"
            case "\n": text += "\\n"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: text += String(format: "\\x%02x", scalar.value)
            default: text.unicodeScalars.append(scalar)
            }
        }
        return text
    }

    // MARK: Failures

    static func describeConnect(_ error: any Error, endpoint: String, timeout: TimeAmount) -> (String, String) {
        if let error = error as? ChannelError, case .connectTimeout = error {
            return ("timeout", "no answer from \(endpoint) within \(timeout.nanoseconds / 1_000_000) ms (connect timeout)")
        }
        if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNREFUSED: return ("refused", "connection to \(endpoint) refused")
            case ECONNRESET: return ("reset", "connection to \(endpoint) reset while connecting")
            case ETIMEDOUT: return ("timeout", "connecting to \(endpoint) timed out")
            case ENETUNREACH: return ("unreachable", "network unreachable for \(endpoint)")
            case EHOSTUNREACH: return ("unreachable", "host unreachable: \(endpoint)")
            default: return ("connect_failed", "cannot connect to \(endpoint): \(String(cString: strerror(error.errnoCode)))")
            }
        }
        return ("connect_failed", "cannot connect to \(endpoint): \(error)")
    }

    static func describeIO(_ error: any Error, doing: String, endpoint: String) -> (String, String) {
        if let error = error as? IOError, error.errnoCode == ECONNRESET || error.errnoCode == EPIPE {
            return ("reset", "\(doing): connection to \(endpoint) reset by the server")
        }
        if let failure = error as? ProbeFailure, case .reset = failure {
            return ("reset", "\(doing): connection to \(endpoint) reset by the server")
        }
        if error is ChannelError { return ("closed", "\(doing): the connection to \(endpoint) is closed") }
        return ("io_error", "\(doing): \(error)")
    }

    static func describeTLS(_ error: any Error, seen: SeenCertificates, serverName: String, record: Record) -> (String, String) {
        var underlying = error
        if let failure = error as? ProbeFailure {
            switch failure {
            case .timeout: return ("timeout", "TLS handshake with \(serverName) timed out")
            case .closed: return ("tls_handshake", "TLS handshake failed: the server closed the connection")
            case .reset: return ("reset", "TLS handshake failed: connection reset by the server")
            case .tls(let error), .io(let error): underlying = error
            }
        }
        let now = Date()
        if let facts = seen.failed().compactMap(Self.facts).first ?? seen.all().last.flatMap(Self.facts) {
            var tlsDetails = JSONObject()
            tlsDetails.append("certificate", facts.json(now: now))
            record.details.append("tls", .object(tlsDetails))
        }
        if let expired = seen.failed().first(where: { Double($0.notValidAfter) < now.timeIntervalSince1970 }), let facts = Self.facts(expired) {
            return ("tls_expired", "certificate of \(facts.subject) expired on \(RFC3339Format.string(facts.notAfter))")
        }
        if let early = seen.failed().first(where: { Double($0.notValidBefore) > now.timeIntervalSince1970 }), let facts = Self.facts(early) {
            return ("tls_not_yet_valid", "certificate of \(facts.subject) is not valid before \(RFC3339Format.string(facts.notBefore))")
        }
        if let failed = seen.failed().first, let facts = Self.facts(failed) {
            return ("tls_untrusted", "certificate of \(facts.subject) (issuer \(facts.issuer)) is not trusted")
        }
        if let extra = underlying as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return ("tls_hostname", "certificate does not match \(serverName)")
        }
        return ("tls_handshake", "TLS handshake failed: \(underlying)")
    }

    static func facts(_ certificate: NIOSSLCertificate) -> CertificateFacts? {
        guard let der = try? certificate.toDERBytes() else { return nil }
        var names: [String] = []
        for name in certificate._subjectAlternativeNames() where name.nameType == .dnsName {
            names.append(String(decoding: name.contents, as: UTF8.self))
        }
        return CertificateFacts(der: der, notBefore: Int(certificate.notValidBefore), notAfter: Int(certificate.notValidAfter),
                                serial: certificate.serialNumber, dnsNames: names)
    }

    static func name(_ version: TLSVersion) -> String {
        switch version {
        case .tlsv1: "1.0"
        case .tlsv11: "1.1"
        case .tlsv12: "1.2"
        case .tlsv13: "1.3"
        }
    }
}
