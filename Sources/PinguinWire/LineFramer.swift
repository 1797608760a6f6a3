/// Splits a byte stream into newline-terminated lines (NDJSON), enforcing a maximum line length.
///
/// `\r\n` is accepted; empty lines are skipped. A line longer than the limit yields one
/// ``Frame/tooLong`` and the rest of it is discarded up to the next newline, so memory never grows
/// past the limit, whatever the peer sends.
public struct LineFramer: Sendable {
    public enum Frame: Sendable, Hashable {
        case line([UInt8])
        case tooLong
    }

    /// Longest accepted line in bytes, without its newline. Can change between feeds (smaller before authentication).
    public var maximumLineBytes: Int
    private var pending: [UInt8] = []
    private var discarding = false

    public init(maximumLineBytes: Int) {
        self.maximumLineBytes = maximumLineBytes
    }

    /// Bytes buffered for an unfinished line.
    public var bufferedBytes: Int { pending.count }

    public mutating func feed(_ bytes: some Collection<UInt8>) -> [Frame] {
        var frames: [Frame] = []
        for byte in bytes {
            if byte == 0x0A {
                if discarding {
                    discarding = false
                } else {
                    emit(&frames)
                }
                pending.removeAll(keepingCapacity: true)
                continue
            }
            if discarding { continue }
            pending.append(byte)
            // One byte of slack for a '\r' before the newline.
            if pending.count > maximumLineBytes + 1 || (pending.count == maximumLineBytes + 1 && byte != 0x0D) {
                frames.append(.tooLong)
                pending.removeAll(keepingCapacity: false)
                discarding = true
            }
        }
        return frames
    }

    /// End of input: a last line without a newline still counts.
    public mutating func finish() -> [Frame] {
        var frames: [Frame] = []
        if !discarding { emit(&frames) }
        pending.removeAll()
        discarding = false
        return frames
    }

    private func emit(_ frames: inout [Frame]) {
        var line = pending[...]
        if line.last == 0x0D { line = line.dropLast() }
        if !line.isEmpty { frames.append(.line(Array(line))) }
    }
}
