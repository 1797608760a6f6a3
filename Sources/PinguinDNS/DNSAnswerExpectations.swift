/// What the answers of a lookup must hold, checked in this order: at least `minimumCount`
/// answers of the asked type, then `exactly`, `allOf`, `anyOf` and `noneOf`. Values are in
/// ``DNSRecordData/presentation`` form (``DNSPresentation/normalize(_:as:)`` makes them so).
public struct DNSAnswerExpectations: Hashable, Sendable {
    public var minimumCount: Int
    /// The answers, as a set, must be exactly these.
    public var exactly: [String]?
    public var allOf: [String]
    public var anyOf: [String]
    public var noneOf: [String]

    public init(minimumCount: Int = 1, exactly: [String]? = nil, allOf: [String] = [], anyOf: [String] = [], noneOf: [String] = []) {
        self.minimumCount = minimumCount
        self.exactly = exactly
        self.allOf = allOf
        self.anyOf = anyOf
        self.noneOf = noneOf
    }

    /// Why answers fail the expectations.
    public struct Failure: Hashable, Sendable {
        /// `no_answer` (none at all), `too_few_answers` or `answer_mismatch`.
        public var errorKind: String
        /// What is wrong, e.g. `missing 192.0.2.9; answers: 192.0.2.1, 192.0.2.2`.
        public var reason: String
    }

    /// Checks `values` (the presentation forms of the answers of the asked type); nil when they pass.
    public func check(_ values: [String]) -> Failure? {
        let present = Set(values)
        let listed = Self.list(values)
        if values.count < minimumCount {
            if values.isEmpty { return Failure(errorKind: "no_answer", reason: "no answer, expected at least \(minimumCount)") }
            return Failure(errorKind: "too_few_answers", reason: "\(values.count) answers, expected at least \(minimumCount); answers: \(listed)")
        }
        if let exactly {
            let wanted = Set(exactly)
            if wanted != present {
                let missing = exactly.filter { !present.contains($0) }
                let unexpected = values.filter { !wanted.contains($0) }
                var parts: [String] = []
                if !missing.isEmpty { parts.append("missing \(Self.list(Self.unique(missing)))") }
                if !unexpected.isEmpty { parts.append("unexpected \(Self.list(Self.unique(unexpected)))") }
                return Failure(errorKind: "answer_mismatch", reason: "answers are not exactly the expected set: \(parts.joined(separator: ", ")); answers: \(listed)")
            }
        }
        let missing = allOf.filter { !present.contains($0) }
        if !missing.isEmpty {
            return Failure(errorKind: "answer_mismatch", reason: "missing \(Self.list(Self.unique(missing))) (all_of); answers: \(listed)")
        }
        if !anyOf.isEmpty, !anyOf.contains(where: present.contains) {
            return Failure(errorKind: "answer_mismatch", reason: "none of \(Self.list(anyOf)) in the answers (any_of); answers: \(listed)")
        }
        let unwanted = noneOf.filter(present.contains)
        if !unwanted.isEmpty {
            return Failure(errorKind: "answer_mismatch", reason: "unwanted \(Self.list(Self.unique(unwanted))) in the answers (none_of); answers: \(listed)")
        }
        return nil
    }

    static func unique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }

    /// Values joined for a message, at most 8 of them.
    static func list(_ values: [String]) -> String {
        if values.isEmpty { return "none" }
        let shown = values.prefix(8).joined(separator: ", ")
        return values.count > 8 ? shown + " and \(values.count - 8) more" : shown
    }
}
