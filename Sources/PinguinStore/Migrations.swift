/// The schema's history, oldest first. A migration, once released, never changes: new work is
/// a new migration with the next version.
public enum Migrations {
    public static let all: [Migration] = [core, results, statusEngine, notifications, supervisors, dependencies]
}
