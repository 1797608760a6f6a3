/// A connection that ``ConnectionPool`` can hand out and take back.
public protocol PoolableConnection: AnyObject, Sendable {
    /// Called when the connection comes back to the pool and again before it is handed out:
    /// false when it is closed, broken, or in a state that must not leak to the next user.
    /// May repair what it can (e.g. roll back an open transaction).
    func prepareForReuse() async -> Bool

    /// Closes the connection; idempotent.
    func close() async
}
