import Foundation
public import Logging
import NIOCore
import PinguinStore
import NIOPosix
import PinguinWire
public import ServiceLifecycle
import Synchronization

/// The control plane's JSON-RPC 2.0 server: one compact JSON text per line, on a Unix socket and
/// a TCP listener.
///
/// Requests on one connection run concurrently (up to ``Configuration/maximumInFlight``) and
/// answers are written whole, one line each, in the order they finish. When a client closes its
/// write side, the requests in flight are finished and answered before the connection closes, so
/// `printf '%s\n' "$request" | nc -N -U pinguin.sock` works. A line longer than
/// ``Configuration/maximumLineBytes`` gets an error and the connection is closed; nothing a client
/// sends can make the server buffer more than that per connection.
public final class ControlPlaneServer: Service, Sendable {
    public struct Configuration: Sendable {
        /// Unix socket path; nil for none. Its folder is created (or must already be owned by this
        /// user) and set to mode 0750, so that the socket, mode 0660, is never reachable by others,
        /// not even for the moment between its creation and its chmod.
        public var unixSocketPath: String?
        /// TCP address; nil for no TCP listener. Default 127.0.0.1 (loopback only).
        public var tcpHost: String? = "127.0.0.1"
        /// TCP port; 0 picks a free one (see ``ControlPlaneServer/tcpPort``). Default 7420.
        public var tcpPort = 7420
        /// Longest request line in bytes. Default 1 MiB.
        public var maximumLineBytes = 1 << 20
        /// Longest line before a TCP connection has authenticated. Default 4 KiB.
        public var maximumUnauthenticatedLineBytes = 4_096
        /// Most entries in one batch. Default 50.
        public var maximumBatch = 50
        /// Requests answered at once per connection; reading pauses beyond it. Default 32.
        public var maximumInFlight = 32
        /// Unix socket peers allowed by user id, checked with `SO_PEERCRED` on top of the socket's
        /// file permissions; nil allows whoever the permissions let in. Root and this process's own
        /// user are always allowed. Default nil.
        public var allowedUnixUserIDs: Set<UInt32>?

        public init() {}
    }

    public let configuration: Configuration
    private let router: JSONRPCRouter
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let boundPort = Mutex<Int?>(nil)
    /// Whether every listener is bound, and who waits for that.
    private let listening = Mutex<(ready: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    public init(configuration: Configuration, router: JSONRPCRouter, logger: Logger) {
        self.configuration = configuration
        self.router = router
        self.logger = logger
        group = MultiThreadedEventLoopGroup.singleton
    }

    /// The TCP port actually bound, once listening.
    public var tcpPort: Int? { boundPort.withLock { $0 } }

    /// Returns once every listener is bound.
    public func waitUntilListening() async {
        await withCheckedContinuation { continuation in
            let ready = listening.withLock { state -> Bool in
                if !state.ready { state.waiters.append(continuation) }
                return state.ready
            }
            if ready { continuation.resume() }
        }
    }

    private func markListening() {
        let waiters = listening.withLock { state in
            state.ready = true
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }

    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    public func run() async throws {
        var listeners: [NIOAsyncChannel<Connection, Never>] = []
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<Connection> = { channel in
            channel.eventLoop.makeCompletedFuture {
                // The deinit-based teardown is deliberate: with `wrappingChannelSynchronously`,
                // NIO 2.101 crashes ("Deinited NIOAsyncWriter without calling finish()") when a
                // client connects and resets before the connection becomes active; the churn
                // test reproduces it. Every connection we do receive is still closed explicitly.
                try Connection(synchronouslyWrapping: channel)
            }
        }
        if let path = configuration.unixSocketPath {
            try Self.prepareSocketFolder(for: path)
            listeners.append(try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true, childChannelInitializer: initializer))
            // The folder (0750, ours) keeps others out while the socket still has default bits.
            guard chmod(path, 0o660) == 0 else {
                throw ControlPlaneError(message: "cannot set the permissions of \(path): \(String(cString: strerror(errno)))")
            }
            logger.info("control plane listening", metadata: ["rpc.unix_socket": "\(path)"])
        }
        if let host = configuration.tcpHost {
            let listener = try await bootstrap.bind(host: host, port: configuration.tcpPort, childChannelInitializer: initializer)
            boundPort.withLock { $0 = listener.channel.localAddress?.port }
            listeners.append(listener)
            logger.info("control plane listening", metadata: ["rpc.tcp": "\(host):\(listener.channel.localAddress?.port ?? 0)"])
        }
        markListening()
        let bound = listeners
        // The accept loop must not be cancelled directly: a connection accepted but not yet
        // handed to serve() would be dropped unconsumed, which NIO treats as a bug. Stopping
        // closes the listeners instead; their sequences then end after the last accepted
        // connection, each of which is served (and closed) properly.
        let accepting = Task { await Self.acceptAll(bound, serve: self.serve) }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await accepting.value
            } onGracefulShutdown: {
                for listener in bound { listener.channel.close(promise: nil) }
            }
        } onCancel: {
            for listener in bound { listener.channel.close(promise: nil) }
        }
        if let path = configuration.unixSocketPath { unlink(path) }
    }

    /// Creates the socket's folder with mode 0750, or checks that an existing one belongs to us
    /// and tightens it.
    static func prepareSocketFolder(for path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        guard !folder.isEmpty else { return }
        if !FileManager.default.fileExists(atPath: folder) {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        }
        var info = stat()
        guard stat(folder, &info) == 0 else {
            throw ControlPlaneError(message: "cannot inspect \(folder): \(String(cString: strerror(errno)))")
        }
        guard info.st_uid == getuid() else {
            throw ControlPlaneError(message: "\(folder) belongs to another user; the socket's folder must be ours")
        }
        guard chmod(folder, 0o750) == 0 else {
            throw ControlPlaneError(message: "cannot set the permissions of \(folder): \(String(cString: strerror(errno)))")
        }
    }

    private static func acceptAll(_ listeners: [NIOAsyncChannel<Connection, Never>], serve: @escaping @Sendable (Connection) async -> Void) async {
        await withDiscardingTaskGroup { group in
            for listener in listeners {
                group.addTask {
                    try? await listener.executeThenClose { connections in
                        await withDiscardingTaskGroup { connectionGroup in
                            do {
                                for try await connection in connections {
                                    connectionGroup.addTask { await serve(connection) }
                                }
                            } catch {}
                            // The listener is closed: stop serving open connections too. They
                            // are consumed already, so cancelling them closes them cleanly.
                            connectionGroup.cancelAll()
                        }
                    }
                }
            }
        }
    }

    /// The connection's identity: a Unix socket peer is `uid:N` with admin scope (or nil if it is
    /// not allowed); a TCP client is `tcp:ADDRESS` with no scope until it authenticates.
    private func identify(_ connection: Connection) async -> ConnectionState? {
        guard case .unixDomainSocket? = connection.channel.localAddress else {
            let address = connection.channel.remoteAddress?.ipAddress ?? "?"
            return ConnectionState(address: address, actor: "tcp:\(address)", scope: nil)
        }
        guard let provider = connection.channel as? any SocketOptionProvider,
              let credentials: PeerCredentials = try? await provider.unsafeGetSocketOption(
                  level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(17)  // SO_PEERCRED
              ).get()
        else {
            logger.warning("control plane could not read the peer's credentials; refusing the connection")
            return nil
        }
        let allowed = credentials.uid == 0 || credentials.uid == geteuid()
            || (configuration.allowedUnixUserIDs?.contains(credentials.uid) ?? true)
        guard allowed else {
            logger.warning("control plane refused a Unix socket peer", metadata: [
                "rpc.peer_uid": "\(credentials.uid)", "rpc.peer_pid": "\(credentials.pid)",
            ])
            return nil
        }
        return ConnectionState(address: "unix", actor: "uid:\(credentials.uid)", scope: .admin)
    }

    /// One connection: frame lines, answer them concurrently, write answers from one writer.
    private func serve(_ connection: Connection) async {
        let peer = connection.channel.remoteAddress?.description ?? "unix"
        guard let state = await identify(connection) else {
            try? await connection.executeThenClose { _, _ in }
            return
        }
        do {
            try await connection.executeThenClose { inbound, outbound in
                let (answers, answerSink) = AsyncStream.makeStream(of: [UInt8].self)
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask {
                        for await answer in answers {
                            var buffer = ByteBuffer()
                            buffer.reserveCapacity(answer.count + 1)
                            buffer.writeBytes(answer)
                            buffer.writeInteger(UInt8(ascii: "\n"))
                            try await outbound.write(buffer)
                        }
                    }
                    await RequestContext.$current.withValue(RequestContext(connection: state)) {
                        await self.readRequests(inbound, state: state, answerSink: answerSink)
                    }
                    answerSink.finish()
                    try await tasks.waitForAll()
                }
            }
        } catch {
            logger.debug("control plane connection ended", metadata: ["rpc.peer": "\(peer)", "error": "\(error)"])
        }
    }

    private func readRequests(
        _ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, state: ConnectionState, answerSink: AsyncStream<[UInt8]>.Continuation
    ) async {
        let router = self.router
        let maximumBatch = configuration.maximumBatch
        var framer = LineFramer(maximumLineBytes: configuration.maximumLineBytes)
        let limits = (authenticated: configuration.maximumLineBytes, anonymous: configuration.maximumUnauthenticatedLineBytes)
        await withTaskGroup(of: Void.self) { requests in
            var inFlight = 0
            func handle(_ frames: [LineFramer.Frame]) async -> Bool {
                for frame in frames {
                    switch frame {
                    case .line(let line):
                        // Until the connection has authenticated, lines run one after another, so
                        // that `auth` followed by calls in one write (a shell one-liner) works.
                        if state.scope == nil {
                            await requests.waitForAll()
                            inFlight = 0
                            if let answer = await JSONRPCResponder.respond(to: line, maximumBatch: maximumBatch, handler: { await router.handle($0) }) {
                                answerSink.yield(answer)
                            }
                            continue
                        }
                        if inFlight >= configuration.maximumInFlight {
                            await requests.next()
                            inFlight -= 1
                        }
                        inFlight += 1
                        requests.addTask {
                            if let answer = await JSONRPCResponder.respond(to: line, maximumBatch: maximumBatch, handler: { await router.handle($0) }) {
                                answerSink.yield(answer)
                            }
                        }
                    case .tooLong:
                        let error = JSONRPCError.invalidRequest(
                            "a line longer than \(framer.maximumLineBytes) bytes; the connection is closed", kind: "too_large")
                        answerSink.yield(JSONWriter.bytes(JSONRPCResponse.failure(id: .null, error: error)))
                        return false
                    }
                }
                return true
            }
            do {
                for try await buffer in inbound {
                    // Small lines until authenticated: an anonymous peer cannot make us buffer much.
                    framer.maximumLineBytes = state.scope == nil ? limits.anonymous : limits.authenticated
                    if await !handle(framer.feed(buffer.readableBytesView)) { break }
                }
                _ = await handle(framer.finish())
            } catch {
                logger.debug("control plane read failed", metadata: ["error": "\(error)"])
            }
            await requests.waitForAll()
        }
    }
}

/// A control plane set-up failure (socket folder, permissions).
public struct ControlPlaneError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    public init(message: String) {
        self.message = message
    }
}
