extension Migrations {
    /// What supervisor suspicion counts and remembers (proto-docs/status.md): checks and failures
    /// per supervisor and slot minute, one row per database session that wrote them (so that
    /// ingesters never wait on each other's counters), and the supervisors suspected now.
    static let supervisors = Migration(
        version: 5,
        name: "supervisor suspicion",
        up: """
        CREATE TABLE supervisor_checks (
            supervisor text NOT NULL,
            minute timestamptz NOT NULL,
            writer integer NOT NULL,
            checks integer NOT NULL DEFAULT 0,
            failures integer NOT NULL DEFAULT 0,
            PRIMARY KEY (supervisor, minute, writer)
        );
        CREATE TABLE supervisor_suspicions (
            supervisor text PRIMARY KEY,
            since timestamptz NOT NULL,
            checks integer NOT NULL,
            failures integer NOT NULL
        );
        """,
        down: """
        DROP TABLE supervisor_suspicions;
        DROP TABLE supervisor_checks;
        """
    )
}
