/// A compiled regular expression for one expect step.
final class RegexBox: @unchecked Sendable {
    // @unchecked: Regex is not Sendable, but this one is only used by the matcher, which runs on
    // the probe's event loop, one call at a time.
    private let regex: Regex<AnyRegexOutput>?

    init(_ pattern: String) { regex = try? Regex(pattern) }

    /// Where the first match ends, in bytes.
    func end(in bytes: [UInt8]) -> Int? {
        guard let regex else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let match = try? regex.firstMatch(in: text) else { return nil }
        let end = text.utf8.distance(from: text.startIndex, to: match.range.upperBound)
        // Invalid UTF-8 was replaced while decoding, so offsets past it do not line up: use it all.
        return text.utf8.count == bytes.count ? end : bytes.count
    }
}
