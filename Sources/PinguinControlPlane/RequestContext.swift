/// Who is calling: set by the server for every request it handles, read by methods (audit log,
/// permission checks) as a task-local value.
public struct RequestContext: Sendable, Hashable {
    /// How the caller is named in the audit log, e.g. `uid:1000` for a Unix socket peer.
    public var actor: String

    public init(actor: String) {
        self.actor = actor
    }

    @TaskLocal public static var current = RequestContext(actor: "unknown")
}

/// The peer of a Unix socket connection, as the kernel reports it (`SO_PEERCRED`). Laid out as
/// Linux's `struct ucred`, which Glibc only shows to C code compiled with `_GNU_SOURCE`.
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}
