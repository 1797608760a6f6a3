import Foundation
import PinguinPluginHost

/// Runs an `exec` channel's program: the payload on its standard input, a clean environment,
/// its own process group, working directory `/`, no inherited descriptors (the same hygiene as
/// checker plugins). Exit status 0 is a delivery; anything else, or not ending within the
/// timeout (the whole group is killed), is a failure that is retried.
enum ExecRunner {
    static let outputCap = 16 * 1024

    static func run(_ request: ExecDelivery) async throws(DeliveryError) -> DeliveryReceipt {
        var options = SpawnedProcess.Options(path: request.command[0], arguments: Array(request.command.dropFirst()), environment: request.environment)
        options.newProcessGroup = true
        let process: SpawnedProcess
        let pipes: SpawnedProcess.Pipes
        do {
            (process, pipes) = try SpawnedProcess.spawn(options)
        } catch {
            throw DeliveryError("could not start \(request.command[0]): \(error)", retryable: true)
        }
        let started = ContinuousClock.now
        let deadline = Date().addingTimeInterval(Double(request.timeoutMilliseconds) / 1000)
        // Feeding stdin and draining stdout and stderr happen together, so a program that writes a
        // lot before reading cannot stall against us.
        let (output, errors) = await onThread { () -> ([UInt8], [UInt8]) in
            exchange(input: request.input, pipes: pipes, until: deadline)
        }
        let remaining = max(deadline.timeIntervalSinceNow, 0.05)
        var exit = await process.waitForExit(timeout: .milliseconds(Int(remaining * 1000)))
        if exit == nil {
            process.killGroup()
            exit = await process.waitForExit(timeout: .seconds(5))
            throw DeliveryError("\(request.command[0]) did not finish within \(request.timeoutMilliseconds) ms and was killed", retryable: true)
        }
        let milliseconds = OutboxDispatcher.seconds(ContinuousClock.now - started) * 1000
        let said = text(errors.isEmpty ? output : errors)
        guard case .exited(0)? = exit else {
            throw DeliveryError("\(request.command[0]) \(exit!)\(said.isEmpty ? "" : ": \(said)")", retryable: true)
        }
        return DeliveryReceipt(code: nil, answer: text(output), milliseconds: milliseconds)
    }

    private static func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.suffix(300), as: UTF8.self).split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// Blocking: writes `input` and reads both outputs (each up to ``outputCap``, the rest dropped)
    /// until both close or the deadline passes. Closes all three descriptors.
    private static func exchange(input: [UInt8], pipes: SpawnedProcess.Pipes, until deadline: Date) -> ([UInt8], [UInt8]) {
        var written = 0
        var inputFD: Int32 = pipes.input
        var outputs: [Int32: [UInt8]] = [pipes.output: [], pipes.errors: []]
        var open: Set<Int32> = [pipes.output, pipes.errors]
        for fd in [pipes.input, pipes.output, pipes.errors] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        if input.isEmpty {
            close(inputFD)
            inputFD = -1
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !open.isEmpty || inputFD >= 0 {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { break }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if inputFD >= 0 { fds.append(pollfd(fd: inputFD, events: Int16(POLLOUT), revents: 0)) }
            guard poll(&fds, nfds_t(fds.count), Int32(min(left * 1000, 1000)) + 1) >= 0 || errno == EINTR else { break }
            for entry in fds where entry.revents != 0 {
                if entry.fd == inputFD {
                    let count = input.withUnsafeBufferPointer { write(inputFD, $0.baseAddress! + written, input.count - written) }
                    if count > 0 { written += count }
                    if count < 0 && errno != EAGAIN || written == input.count {
                        close(inputFD)
                        inputFD = -1
                    }
                } else {
                    let count = read(entry.fd, &buffer, buffer.count)
                    if count > 0 {
                        let room = outputCap - outputs[entry.fd]!.count
                        if room > 0 { outputs[entry.fd]!.append(contentsOf: buffer.prefix(min(count, room))) }
                    } else if count == 0 || errno != EAGAIN {
                        open.remove(entry.fd)
                    }
                }
            }
        }
        if inputFD >= 0 { close(inputFD) }
        close(pipes.output)
        close(pipes.errors)
        return (outputs[pipes.output]!, outputs[pipes.errors]!)
    }
}
