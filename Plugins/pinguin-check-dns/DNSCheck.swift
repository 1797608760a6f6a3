import CAres
import PinguinCheckerKit
import PinguinDNS
import PinguinWire

/// One `dns` check: a lookup on the shared loop, then the response code, the answers and the
/// time held against the config.
enum DNSCheck {
    /// At most this many records of each section go into the details.
    static let maximumDetailRecords = 100

    static func run(_ request: CheckRequest) async throws -> CheckOutcome {
        let config = try DNSCheckConfig(request.config)
        let name = try queryName(request.target, config.recordType)
        let key = ResolverKey(server: config.resolver, port: config.port, transport: config.transport)

        // The lookup ends a little before the supervisor's deadline, so a slow resolver is a
        // down target (timeout), not a plugin that missed its deadline.
        let margin = min(.milliseconds(250), request.timeout / 10)
        let started = ContinuousClock.now
        var deadline = request.deadline - margin
        if let timeout = config.timeout { deadline = min(deadline, started + timeout) }
        let lookup = DNSLookup(name: name, type: config.recordType, key: key, deadline: deadline)
        let result = await DNSLookupLoop.shared.lookup(lookup)
        let elapsed = started.duration(to: .now)
        let milliseconds = elapsed.milliseconds

        let question = "\(name) \(config.recordType)"
        var details = JSONObject()
        details.append("query", .string(name))
        details.append("record_type", .string(config.recordType.description))
        details.append("resolver", .string(key.address))
        details.append("protocol", .string(config.transport.rawValue))

        func outcome(_ status: CheckStatus, _ message: String, _ errorKind: String? = nil) -> CheckOutcome {
            CheckOutcome(status: status, message: message, latencyMilliseconds: milliseconds,
                         phases: [("lookup", milliseconds)], details: details, errorKind: errorKind)
        }

        let bytes: [UInt8]
        switch result {
        case .cancelled:
            throw CancellationError()
        case .unavailable(let reason):
            throw CheckError(reason, kind: "resolver_unavailable")
        case .timedOut:
            return outcome(.down, "\(question): no answer from \(key) within \(started.duration(to: deadline).milliseconds.formatted0) ms", "timeout")
        case .failed(let status):
            let (kind, text) = failure(status)
            return outcome(.down, "\(question): \(text) (\(key), after \(format(milliseconds)))", kind)
        case .response(_, let response):
            bytes = response
        }

        let message: DNSMessage
        do {
            message = try DNSMessage(parsing: bytes)
        } catch {
            return outcome(.down, "\(question): unreadable response from \(key): \(error)", "bad_response")
        }
        let code = message.responseCode
        details.append("rcode", .string(code.description))
        details.append("authoritative", .bool(message.isAuthoritative))
        details.append("recursion_available", .bool(message.recursionAvailable))
        details.append("answers", .array(message.answers.prefix(maximumDetailRecords).map(recordDetails)))
        if !message.authorities.isEmpty {
            details.append("authority", .array(message.authorities.prefix(maximumDetailRecords).map(recordDetails)))
        }
        if message.answers.count > maximumDetailRecords || message.authorities.count > maximumDetailRecords {
            details.append("records_truncated", .bool(true))
        }
        // The zone's serial: from an SOA answer, or from the SOA of a negative answer's authority section.
        let soa = (message.answers + message.authorities).lazy.compactMap { record -> DNSStartOfAuthority? in
            if case .soa(let soa) = record.data { return soa }
            return nil
        }.first
        if let soa { details.append("soa_serial", .int(soa.serial)) }

        guard config.acceptedCodes.contains(code) else {
            let accepted = config.acceptedCodes.map(\.description).joined(separator: ", ")
            let kind = switch code {
            case .nameError: "nxdomain"
            case .serverFailure: "servfail"
            case .refused: "refused"
            default: "rcode_mismatch"
            }
            return outcome(.down, "\(question): \(code) from \(key), expected \(accepted)", kind)
        }

        let values = message.answers.filter { $0.type == config.recordType }.map(\.value)
        details.append("answer_count", .int(values.count))
        if code == .noError, let failure = config.expectations.check(values) {
            return outcome(.down, "\(question): \(failure.reason)", failure.errorKind)
        }

        let summary = code == .noError
            ? (values.isEmpty ? "0 answers" : "\(values.count) \(values.count == 1 ? "answer" : "answers") (\(shortList(values)))")
            : "\(code) as accepted"
        if let limit = config.degradedAfter, elapsed > limit {
            return outcome(.degraded, "\(question): \(summary) in \(format(milliseconds)), slower than \(limit.milliseconds.formatted0) ms", "slow")
        }
        return outcome(.up, "\(question): \(summary) in \(format(milliseconds))")
    }

    /// The name to ask for: the target without its final dot; for PTR an address becomes its
    /// reverse name.
    static func queryName(_ target: String, _ type: DNSRecordType) throws(CheckError) -> String {
        if type == .ptr, let reverse = DNSPresentation.reverseName(target) { return reverse }
        var name = target
        if name.count > 1, name.hasSuffix(".") { name.removeLast() }
        guard !name.isEmpty, name.utf8.count <= 253, !name.contains(".."), !name.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) else {
            throw .invalidConfig("the target must be a domain name of at most 253 characters (printable ASCII, no empty labels), not \(target.prefix(80))")
        }
        return name
    }

    static func recordDetails(_ record: DNSRecord) -> JSONValue {
        var object = JSONObject()
        object.append("name", .string(record.name))
        object.append("type", .string(record.type.description))
        object.append("ttl", .int(record.ttl))
        object.append("value", .string(record.value))
        if case .txt(let strings) = record.data, strings.count > 1 {
            object.append("strings", .array(strings.map { .string($0) }))
        }
        return .object(object)
    }

    /// The error kind and words for a lookup c-ares ended without a response.
    static func failure(_ status: Int32) -> (kind: String, text: String) {
        switch status {
        case ARES_ETIMEOUT: ("timeout", "no answer (c-ares gave up after its retries)")
        case ARES_ECONNREFUSED: ("connection_refused", "the resolver refused the connection or is unreachable")
        case ARES_EBADRESP: ("bad_response", "a malformed response")
        case ARES_ENOTFOUND: ("nxdomain", "NXDOMAIN")
        case ARES_ESERVFAIL: ("servfail", "SERVFAIL")
        case ARES_EREFUSED: ("refused", "REFUSED")
        default: ("lookup_failed", AresError.text(status))
        }
    }

    static func shortList(_ values: [String]) -> String {
        let shown = values.prefix(4).map { $0.count > 80 ? $0.prefix(77) + "..." : $0 }.joined(separator: ", ")
        return values.count > 4 ? shown + ", \(values.count - 4) more" : shown
    }

    static func format(_ milliseconds: Double) -> String {
        milliseconds < 10 ? "\((milliseconds * 10).rounded() / 10) ms" : "\(Int(milliseconds.rounded())) ms"
    }
}

extension Duration {
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}

extension Double {
    var formatted0: String { String(Int(rounded())) }
}
