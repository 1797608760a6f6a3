extension Migrations {
    /// What the status engine remembers per monitor between results (`MonitorStatusState` as
    /// JSON): runs of failures and successes, the open incident, the last status announced, the
    /// flap history. `status`, `status_since` and the two `consecutive_*` columns stay the
    /// queryable summary of it.
    static let statusEngine = Migration(
        version: 3,
        name: "status engine state",
        up: """
        ALTER TABLE monitor_state ADD COLUMN engine jsonb NOT NULL DEFAULT '{}'
            CONSTRAINT monitor_state_engine_object CHECK (jsonb_typeof(engine) = 'object');
        """,
        down: """
        ALTER TABLE monitor_state DROP COLUMN engine;
        """
    )
}
