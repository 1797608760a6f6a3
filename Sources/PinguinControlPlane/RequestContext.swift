public import PinguinStore
import Synchronization

/// One client connection's identity and authorization, shared by all its requests. A Unix socket
/// peer starts as admin (the socket's permissions and `SO_PEERCRED` decided it may connect); a TCP
/// client has no scope until `auth` succeeds.
public final class ConnectionState: Sendable {
    /// The peer's address (`127.0.0.1`) for TCP, `unix` for the socket: what throttling counts by.
    public let address: String
    private let state: Mutex<(actor: String, scope: TokenScope?)>

    public init(address: String, actor: String, scope: TokenScope?) {
        self.address = address
        state = Mutex((actor, scope))
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

    public init(connection: ConnectionState) {
        self.connection = connection
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
