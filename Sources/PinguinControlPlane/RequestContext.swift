public import PinguinStore
import Synchronization

/// One client connection's identity and authorization, shared by all its requests. A Unix socket
/// peer starts as admin (the socket's permissions and `SO_PEERCRED` decided it may connect); a TCP
/// client has no scope until `auth` succeeds.
public final class ConnectionState: Sendable {
    /// The peer's address (`127.0.0.1`) for TCP, `unix` for the socket: what throttling counts by.
    public let address: String
    private let state: Mutex<(actor: String, scope: TokenScope?)>
    /// Where notifications go; nil for calls made outside a connection.
    public let outbound: ConnectionOutbound?
    /// Event subscriptions of this connection, ended when it closes.
    private let subscriptions = Mutex<[String: @Sendable () -> Void]>([:])

    public init(address: String, actor: String, scope: TokenScope?, outbound: ConnectionOutbound? = nil) {
        self.address = address
        state = Mutex((actor, scope))
        self.outbound = outbound
    }

    /// Records a subscription and how to end it; false if the connection has `limit` already.
    func addSubscription(_ id: String, limit: Int, end: @escaping @Sendable () -> Void) -> Bool {
        subscriptions.withLock { subscriptions in
            guard subscriptions.count < limit else { return false }
            subscriptions[id] = end
            return true
        }
    }

    /// Ends one subscription; false if this connection has none by that id.
    func removeSubscription(_ id: String) -> Bool {
        guard let end = subscriptions.withLock({ $0.removeValue(forKey: id) }) else { return false }
        end()
        return true
    }

    var subscriptionCount: Int { subscriptions.withLock { $0.count } }

    /// Ends every subscription (the connection is closing).
    func endSubscriptions() {
        let ends = subscriptions.withLock { subscriptions in
            defer { subscriptions = [:] }
            return Array(subscriptions.values)
        }
        ends.forEach { $0() }
    }

    public var actor: String { state.withLock { $0.actor } }
    public var scope: TokenScope? { state.withLock { $0.scope } }

    public func authenticate(actor: String, scope: TokenScope) {
        state.withLock { $0 = (actor, scope) }
    }
}

/// Who is calling: set by the server for every request it handles, read by methods (audit log,
/// permission checks) as a task-local value.
public struct RequestContext: Sendable {
    public var connection: ConnectionState
    /// Work to do once this request's answer is queued (e.g. start delivering the events of a
    /// new subscription, which must not overtake the answer that names it).
    public var afterAnswer: AfterAnswer?

    public init(connection: ConnectionState, afterAnswer: AfterAnswer? = nil) {
        self.connection = connection
        self.afterAnswer = afterAnswer
    }

    /// How the caller is named in the audit log: `uid:1000`, `token:7`.
    public var actor: String { connection.actor }

    /// A context for calls made outside any connection (tests, internal callers): admin.
    public static let local = RequestContext(connection: ConnectionState(address: "local", actor: "local", scope: .admin))

    @TaskLocal public static var current = RequestContext.local
}

/// The peer of a Unix socket connection, as the kernel reports it (`SO_PEERCRED`). Laid out as
/// Linux's `struct ucred`, which Glibc only shows to C code compiled with `_GNU_SOURCE`.
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// Actions a method asks to run after its answer is queued on the connection.
public final class AfterAnswer: Sendable {
    private let actions = Mutex<[@Sendable () -> Void]>([])

    public init() {}

    public func append(_ action: @escaping @Sendable () -> Void) {
        actions.withLock { $0.append(action) }
    }

    /// Runs the actions once, in order.
    public func run() {
        let pending = actions.withLock { actions in
            defer { actions = [] }
            return actions
        }
        pending.forEach { $0() }
    }
}
