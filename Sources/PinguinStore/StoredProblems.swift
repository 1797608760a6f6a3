public import PinguinPostgres

/// What needs an operator, as the database tells it (`system.health`'s `problems`): suspected
/// supervisors, and notifications that failed for good in the last day.
public enum StoredProblems {
    public static func load(client: PostgresClient) async throws -> [String] {
        let rows = try await client.query("""
            SELECT 'supervisor ' || supervisor || ' is suspect since '
                   || to_char(since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ': ' || failures || ' of ' || checks
                   || ' checks failed at once; alerts from its checks are held back'
            FROM supervisor_suspicions
            UNION ALL
            SELECT count(*) || ' notification' || CASE WHEN count(*) = 1 THEN '' ELSE 's' END
                   || ' failed for good in the last 24 hours (notification.list with state failed says why)'
            FROM notification_outbox WHERE state = 'failed' AND created_at > now() - interval '1 day'
            HAVING count(*) > 0
            """)
        return try rows.map { try $0.decode(String.self, column: 0) }
    }
}
