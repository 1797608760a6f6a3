import PinguinCheckerKit
import Synchronization

/// The sockets every check shares (one per address family, and one more per family for
/// don't-fragment, opened on first use) and the table that routes each reply to its check.
final class PingEngine: Sendable {
    static let shared = PingEngine()

    private struct SocketKey: Hashable {
        var v6: Bool
        var dontFragment: Bool
    }

    /// Who waits for the reply with this sequence number: the check, the packet's index, the
    /// socket it went out on (every raw socket sees every reply), the address it went to and the
    /// check's cookie. A reply must match all of them.
    private struct Waiter {
        var run: PingRun
        var socket: ObjectIdentifier
        var index: Int
        var destination: PingAddress
        var cookie: [UInt8]
    }

    private struct State {
        var sockets: [SocketKey: ICMPSocket] = [:]
        var nextSequence: UInt16 = UInt16.random(in: 0...UInt16.max)
        var waiters: [UInt16: Waiter] = [:]
    }

    private let state = Mutex(State())

    func socket(v6: Bool, dontFragment: Bool) throws(CheckError) -> ICMPSocket {
        let key = SocketKey(v6: v6, dontFragment: dontFragment)
        if let socket = state.withLock({ $0.sockets[key] }) { return socket }
        // Opened under no lock; a rare duplicate from a race is closed again.
        let socket = try ICMPSocket.open(v6: v6, dontFragment: dontFragment) { [self] socket, reply, source, at in
            self.received(reply, on: socket, from: source, at: at)
        }
        return state.withLock { state in
            if let existing = state.sockets[key] { return existing }
            state.sockets[key] = socket
            return socket
        }
    }

    /// Takes a sequence number for packet `index` of `run`; nil when all 65536 are in flight.
    func register(_ run: PingRun, index: Int, socket: ICMPSocket, destination: PingAddress, cookie: [UInt8]) -> UInt16? {
        state.withLock { state in
            for _ in 0..<65_536 {
                let sequence = state.nextSequence
                state.nextSequence &+= 1
                if state.waiters[sequence] == nil {
                    state.waiters[sequence] = Waiter(run: run, socket: ObjectIdentifier(socket), index: index, destination: destination, cookie: cookie)
                    return sequence
                }
            }
            return nil
        }
    }

    func release(_ sequences: [UInt16], of run: PingRun) {
        state.withLock { state in
            for sequence in sequences where state.waiters[sequence]?.run === run { state.waiters[sequence] = nil }
        }
    }

    private func received(_ reply: ICMPPacket.Reply, on socket: ICMPSocket, from source: PingAddress, at: UInt64) {
        let waiter = state.withLock { state -> Waiter? in
            guard let waiter = state.waiters[reply.sequence], waiter.socket == ObjectIdentifier(socket),
                  waiter.destination == source, waiter.cookie == reply.cookie else { return nil }
            return waiter
        }
        waiter?.run.reply(index: waiter!.index, at: at)
    }
}
