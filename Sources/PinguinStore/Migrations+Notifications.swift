extension Migrations {
    /// What the notification senders look rows up by: the unsettled rows of a channel and monitor
    /// (sent in order, so each claim asks whether an older one is still open), and the rows of an
    /// incident (reminders count from the incident's down notification).
    static let notifications = Migration(
        version: 4,
        name: "notification outbox indexes",
        up: """
        CREATE INDEX notification_outbox_open ON notification_outbox (channel_id, monitor_id, id)
            WHERE state IN ('pending', 'sending');
        CREATE INDEX notification_outbox_incident ON notification_outbox (incident_id, channel_id, event)
            WHERE incident_id IS NOT NULL;
        """,
        down: """
        DROP INDEX notification_outbox_incident;
        DROP INDEX notification_outbox_open;
        """
    )
}
