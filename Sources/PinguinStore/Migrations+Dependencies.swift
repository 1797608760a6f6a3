extension Migrations {
    /// Monitor dependencies: while a monitor's dependency (a router, a database) is down or
    /// failing, the monitor's alerts are held back and its incidents point to the dependency's
    /// (`incidents.caused_by`). No monitor depends on itself; cycles are refused by the API.
    static let dependencies = Migration(
        version: 6,
        name: "monitor dependencies",
        up: """
        CREATE TABLE monitor_dependencies (
            monitor_id bigint NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
            depends_on bigint NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
            PRIMARY KEY (monitor_id, depends_on),
            CONSTRAINT monitor_dependencies_not_self CHECK (monitor_id <> depends_on)
        );
        CREATE INDEX monitor_dependencies_depends_on ON monitor_dependencies (depends_on);
        """,
        down: """
        DROP TABLE monitor_dependencies;
        """
    )
}
