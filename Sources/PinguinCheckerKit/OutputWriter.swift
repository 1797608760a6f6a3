import Foundation

/// stdout through one writer thread: answers are appended to a buffer and the thread writes
/// whatever has gathered with one write(2), so a burst of answers costs a few system calls.
final class OutputWriter: @unchecked Sendable {
    // @unchecked: every mutable field is read and written only with `condition` locked.
    private let condition = NSCondition()
    private var buffer: [UInt8] = []
    private var writerWaiting = false
    private var closed = false
    private var drained = false
    private let descriptor: Int32

    init(descriptor: Int32) {
        self.descriptor = descriptor
        buffer.reserveCapacity(1 << 16)
    }

    func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "pinguin-plugin-writer"
        thread.start()
    }

    /// Queues complete lines (each already ends in `\n`).
    func enqueue(_ lines: [UInt8]) {
        guard !lines.isEmpty else { return }
        condition.lock()
        buffer.append(contentsOf: lines)
        if writerWaiting { condition.signal() }
        condition.unlock()
    }

    /// Writes what is queued and stops the thread; returns once everything is written.
    func closeAndWait() {
        condition.lock()
        closed = true
        condition.broadcast()
        while !drained { condition.wait() }
        condition.unlock()
    }

    private func loop() {
        var pending: [UInt8] = []
        pending.reserveCapacity(1 << 16)
        while true {
            condition.lock()
            while buffer.isEmpty && !closed {
                writerWaiting = true
                condition.wait()
                writerWaiting = false
            }
            if buffer.isEmpty {
                drained = true
                condition.broadcast()
                condition.unlock()
                return
            }
            swap(&buffer, &pending)
            condition.unlock()
            writeAll(pending)
            pending.removeAll(keepingCapacity: true)
        }
    }

    private func writeAll(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else {
                    // The supervisor is gone: nobody can use another answer.
                    PluginLog.error("cannot write to stdout: \(String(cString: strerror(errno)))")
                    exit(1)
                }
                offset += written
            }
        }
    }
}
