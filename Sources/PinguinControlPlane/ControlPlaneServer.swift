import Foundation
public import Logging
import NIOCore
import PinguinStore
import NIOPosix
import NIOSSL
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
        /// A connection with nothing in flight, no event subscription and no input for this long
        /// is closed. Default 300 s.
        public var idleTimeout: Duration = .seconds(300)
        /// A TCP connection that has not authenticated within this long is closed. Default 10 s.
        public var authenticationTimeout: Duration = .seconds(10)
        /// A connection whose peer does not take a pending write for this long is closed. Default 30 s.
        public var writeTimeout: Duration = .seconds(30)
        /// TLS for the TCP listener: PEM certificate chain and private key files; nil for plain TCP.
        public var tls: TLSFiles?
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
    private let tlsContext: NIOSSLContext?
    /// Whether every listener is bound, and who waits for that.
    private let listening = Mutex<(ready: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// Throws if the TLS files cannot be read or do not match.
    public init(configuration: Configuration, router: JSONRPCRouter, logger: Logger) throws {
        if let files = configuration.tls {
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(files.certificateChain).map { NIOSSLCertificateSource.certificate($0) }
                guard !chain.isEmpty else { throw ControlPlaneError(message: "\(files.certificateChain) holds no certificate") }
                var tls = TLSConfiguration.makeServerConfiguration(
                    certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: files.privateKey, format: .pem)))
                tls.minimumTLSVersion = .tlsv12
                tlsContext = try NIOSSLContext(configuration: tls)
            } catch let error as ControlPlaneError {
                throw error
            } catch {
                throw ControlPlaneError(message: "TLS for the control plane: cannot use \(files.certificateChain) and \(files.privateKey): \(error)")
            }
        } else {
            tlsContext = nil
        }
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
        let tlsContext = self.tlsContext
        let initializer: @Sendable (any Channel) -> EventLoopFuture<Connection> = { channel in
            channel.eventLoop.makeCompletedFuture {
                if let tlsContext, channel.localAddress?.protocol != .unix {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext))
                }
                // The deinit-based teardown is deliberate: with `wrappingChannelSynchronously`,
                // NIO 2.101 crashes ("Deinited NIOAsyncWriter without calling finish()") when a
                // client connects and resets before the connection becomes active; the churn
                // test reproduces it. Every connection we do receive is still closed explicitly.
                return try Connection(synchronouslyWrapping: channel)
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
    private func identify(_ connection: Connection) async -> (address: String, actor: String, scope: TokenScope?)? {
        guard case .unixDomainSocket? = connection.channel.localAddress else {
            let address = connection.channel.remoteAddress?.ipAddress ?? "?"
            return (address, "tcp:\(address)", nil)
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
        return ("unix", "uid:\(credentials.uid)", .admin)
    }

    /// One connection: frame lines, answer them concurrently, write answers and notifications
    /// from one writer, and close it when idle or when its peer stops reading.
    private func serve(_ connection: Connection) async {
        let peer = connection.channel.remoteAddress?.description ?? "unix"
        guard let identity = await identify(connection) else {
            try? await connection.executeThenClose { _, _ in }
            return
        }
        let (lines, sink) = AsyncStream.makeStream(of: ConnectionOutbound.Line.self)
        let outbound = ConnectionOutbound(sink: sink)
        let state = ConnectionState(address: identity.address, actor: identity.actor, scope: identity.scope, outbound: outbound)
        let activity = ConnectionActivity()
        let channel = connection.channel
        let watchdog = Task {
            await Self.watch(activity, state: state, configuration: configuration) {
                channel.close(promise: nil)
            }
        }
        do {
            try await connection.executeThenClose { inbound, writer in
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask {
                        defer { outbound.close() }
                        for await line in lines {
                            var buffer = ByteBuffer()
                            buffer.reserveCapacity(line.bytes.count + 1)
                            buffer.writeBytes(line.bytes)
                            buffer.writeInteger(UInt8(ascii: "\n"))
                            activity.writeStarted()
                            try await writer.write(buffer)
                            activity.writeFinished()
                            outbound.written(line)
                        }
                    }
                    await RequestContext.$current.withValue(RequestContext(connection: state)) {
                        await self.readRequests(inbound, state: state, activity: activity)
                    }
                    state.endSubscriptions()
                    outbound.close()
                    try await tasks.waitForAll()
                }
            }
        } catch {
            logger.debug("control plane connection ended", metadata: ["rpc.peer": "\(peer)", "error": "\(error)"])
        }
        state.endSubscriptions()
        outbound.close()
        watchdog.cancel()
    }

    /// Closes the connection when it idles too long, stays anonymous too long, or a write hangs.
    private static func watch(_ activity: ConnectionActivity, state: ConnectionState, configuration: Configuration, close: () -> Void) async {
        let tick = Duration.milliseconds(250)
        while !Task.isCancelled {
            try? await Task.sleep(for: tick)
            let now = ContinuousClock.now
            let snapshot = activity.snapshot
            if let started = snapshot.writeStartedAt, now - started > configuration.writeTimeout {
                close()
                return
            }
            if state.scope == nil, now - snapshot.openedAt > configuration.authenticationTimeout {
                close()
                return
            }
            if snapshot.inFlight == 0, state.subscriptionCount == 0, now - snapshot.lastInput > configuration.idleTimeout {
                close()
                return
            }
        }
    }

    private func readRequests(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, state: ConnectionState, activity: ConnectionActivity) async {
        let outbound = state.outbound!
        let router = self.router
        let maximumBatch = configuration.maximumBatch
        /// Answers one line; actions the methods asked for run once the answer is queued.
        @Sendable func answer(_ line: [UInt8]) async {
            activity.requestStarted()
            let after = AfterAnswer()
            let context = RequestContext(connection: state, afterAnswer: after)
            let answer = await RequestContext.$current.withValue(context) {
                await JSONRPCResponder.respond(to: line, maximumBatch: maximumBatch, handler: { await router.handle($0) })
            }
            if let answer { await outbound.answer(answer) }
            after.run()
            activity.requestFinished()
        }
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
                            await answer(line)
                            continue
                        }
                        if inFlight >= configuration.maximumInFlight {
                            await requests.next()
                            inFlight -= 1
                        }
                        inFlight += 1
                        requests.addTask { await answer(line) }
                    case .tooLong:
                        let error = JSONRPCError.invalidRequest(
                            "a line longer than \(framer.maximumLineBytes) bytes; the connection is closed", kind: "too_large")
                        outbound.answerNow(JSONWriter.bytes(JSONRPCResponse.failure(id: .null, error: error)))
                        return false
                    }
                }
                return true
            }
            do {
                for try await buffer in inbound {
                    activity.input()
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

/// TLS files for the TCP listener.
public struct TLSFiles: Sendable, Hashable {
    /// PEM file with the server certificate, then its chain.
    public var certificateChain: String
    /// PEM file with the private key.
    public var privateKey: String

    public init(certificateChain: String, privateKey: String) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
    }
}

/// What the watchdog of one connection needs to know: when it last received input, how many
/// requests are being answered, and since when a write waits for the peer.
final class ConnectionActivity: Sendable {
    struct Snapshot {
        var openedAt: ContinuousClock.Instant
        var lastInput: ContinuousClock.Instant
        var inFlight: Int
        var writeStartedAt: ContinuousClock.Instant?
    }

    private let state: Mutex<Snapshot>

    init() {
        let now = ContinuousClock.now
        state = Mutex(Snapshot(openedAt: now, lastInput: now, inFlight: 0, writeStartedAt: nil))
    }

    var snapshot: Snapshot { state.withLock { $0 } }

    func input() { state.withLock { $0.lastInput = .now } }
    func requestStarted() { state.withLock { $0.inFlight += 1 } }
    func requestFinished() {
        state.withLock {
            $0.inFlight -= 1
            $0.lastInput = .now
        }
    }
    func writeStarted() { state.withLock { $0.writeStartedAt = .now } }
    func writeFinished() { state.withLock { $0.writeStartedAt = nil } }
}
