extension Migrations {
    /// Everything the product stores, apart from results (migration 2).
    static let core = Migration(
        version: 1,
        name: "core schema",
        up: """
        CREATE TABLE monitors (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            namespace text NOT NULL DEFAULT 'default'
                CONSTRAINT monitors_namespace_format CHECK (namespace ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
            name text NOT NULL CONSTRAINT monitors_name_length CHECK (length(name) BETWEEN 1 AND 200),
            kind text NOT NULL CONSTRAINT monitors_kind_format CHECK (kind ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
            target text NOT NULL DEFAULT '' CONSTRAINT monitors_target_length CHECK (length(target) <= 2048),
            config jsonb NOT NULL DEFAULT '{}' CONSTRAINT monitors_config_object CHECK (jsonb_typeof(config) = 'object'),
            interval_ms integer NOT NULL CONSTRAINT monitors_interval_range CHECK (interval_ms BETWEEN 1000 AND 86400000),
            timeout_ms integer NOT NULL CONSTRAINT monitors_timeout_range CHECK (timeout_ms >= 100),
            retry_interval_ms integer NOT NULL
                CONSTRAINT monitors_retry_interval_range CHECK (retry_interval_ms BETWEEN 1000 AND 86400000),
            failure_threshold integer NOT NULL DEFAULT 3
                CONSTRAINT monitors_failure_threshold_range CHECK (failure_threshold BETWEEN 1 AND 100),
            recovery_threshold integer NOT NULL DEFAULT 1
                CONSTRAINT monitors_recovery_threshold_range CHECK (recovery_threshold BETWEEN 1 AND 100),
            upside_down boolean NOT NULL DEFAULT false,
            enabled boolean NOT NULL DEFAULT true,
            paused boolean NOT NULL DEFAULT false,
            tags text[] NOT NULL DEFAULT '{}',
            locations text[] NOT NULL DEFAULT '{}',
            description text NOT NULL DEFAULT '',
            version integer NOT NULL DEFAULT 1,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT monitors_name_unique UNIQUE (namespace, name),
            CONSTRAINT monitors_timeout_within_interval CHECK (timeout_ms <= interval_ms)
        );
        CREATE INDEX monitors_tags ON monitors USING gin (tags);
        CREATE INDEX monitors_kind ON monitors (kind);

        CREATE TABLE monitor_state (
            monitor_id bigint PRIMARY KEY REFERENCES monitors (id) ON DELETE CASCADE,
            status text NOT NULL DEFAULT 'pending' CONSTRAINT monitor_state_status CHECK
                (status IN ('up', 'down', 'degraded', 'pending', 'unknown', 'paused', 'maintenance')),
            status_since timestamptz NOT NULL DEFAULT now(),
            last_scheduled_at timestamptz,
            last_status text CONSTRAINT monitor_state_last_status CHECK
                (last_status IN ('up', 'down', 'degraded', 'unknown', 'paused', 'maintenance', 'skipped')),
            last_latency_ms double precision,
            last_message text,
            consecutive_failures integer NOT NULL DEFAULT 0,
            consecutive_successes integer NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE notification_channels (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            namespace text NOT NULL DEFAULT 'default',
            name text NOT NULL CONSTRAINT notification_channels_name_length CHECK (length(name) BETWEEN 1 AND 200),
            kind text NOT NULL CONSTRAINT notification_channels_kind CHECK (kind IN
                ('webhook', 'slack', 'discord', 'teams', 'telegram', 'ntfy', 'gotify', 'pagerduty', 'email', 'exec')),
            config jsonb NOT NULL DEFAULT '{}' CONSTRAINT notification_channels_config_object CHECK (jsonb_typeof(config) = 'object'),
            secrets jsonb NOT NULL DEFAULT '{}' CONSTRAINT notification_channels_secrets_object CHECK (jsonb_typeof(secrets) = 'object'),
            enabled boolean NOT NULL DEFAULT true,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT notification_channels_name_unique UNIQUE (namespace, name)
        );

        CREATE TABLE monitor_channels (
            monitor_id bigint NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
            channel_id bigint NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
            PRIMARY KEY (monitor_id, channel_id)
        );
        CREATE INDEX monitor_channels_channel ON monitor_channels (channel_id);

        CREATE TABLE incidents (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            monitor_id bigint NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
            started_at timestamptz NOT NULL,
            ended_at timestamptz CONSTRAINT incidents_ends_after_start CHECK (ended_at IS NULL OR ended_at >= started_at),
            first_message text NOT NULL DEFAULT '',
            last_message text NOT NULL DEFAULT '',
            failed_checks integer NOT NULL DEFAULT 0,
            caused_by bigint REFERENCES incidents (id) ON DELETE SET NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE UNIQUE INDEX incidents_one_open_per_monitor ON incidents (monitor_id) WHERE ended_at IS NULL;
        CREATE INDEX incidents_monitor_started ON incidents (monitor_id, started_at DESC);

        CREATE TABLE notification_outbox (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            channel_id bigint NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
            monitor_id bigint REFERENCES monitors (id) ON DELETE SET NULL,
            incident_id bigint REFERENCES incidents (id) ON DELETE SET NULL,
            event text NOT NULL CONSTRAINT notification_outbox_event CHECK (event IN
                ('down', 'up', 'degraded', 'flapping', 'certificate_expiring', 'reminder', 'test', 'supervisor_suspect')),
            dedupe_key text NOT NULL CONSTRAINT notification_outbox_dedupe UNIQUE,
            payload jsonb NOT NULL,
            state text NOT NULL DEFAULT 'pending'
                CONSTRAINT notification_outbox_state CHECK (state IN ('pending', 'sending', 'delivered', 'failed')),
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            locked_by text,
            locked_until timestamptz,
            last_error text,
            created_at timestamptz NOT NULL DEFAULT now(),
            delivered_at timestamptz
        );
        CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at) WHERE state IN ('pending', 'sending');

        CREATE TABLE maintenance_windows (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            namespace text NOT NULL DEFAULT 'default',
            name text NOT NULL CONSTRAINT maintenance_windows_name_length CHECK (length(name) BETWEEN 1 AND 200),
            description text NOT NULL DEFAULT '',
            starts_at timestamptz,
            ends_at timestamptz,
            cron text,
            duration_ms bigint,
            timezone text NOT NULL DEFAULT 'UTC',
            monitor_ids bigint[] NOT NULL DEFAULT '{}',
            tags text[] NOT NULL DEFAULT '{}',
            enabled boolean NOT NULL DEFAULT true,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT maintenance_windows_name_unique UNIQUE (namespace, name),
            CONSTRAINT maintenance_windows_schedule CHECK (
                (cron IS NULL AND starts_at IS NOT NULL AND ends_at > starts_at)
                OR (cron IS NOT NULL AND duration_ms > 0)),
            CONSTRAINT maintenance_windows_scope CHECK (cardinality(monitor_ids) > 0 OR cardinality(tags) > 0)
        );

        CREATE TABLE api_tokens (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name text NOT NULL CONSTRAINT api_tokens_name_length CHECK (length(name) BETWEEN 1 AND 200),
            token_hash bytea NOT NULL CONSTRAINT api_tokens_hash_unique UNIQUE
                CONSTRAINT api_tokens_hash_length CHECK (length(token_hash) = 32),
            prefix text NOT NULL,
            scope text NOT NULL CONSTRAINT api_tokens_scope CHECK (scope IN ('read', 'write', 'admin', 'push')),
            monitor_id bigint REFERENCES monitors (id) ON DELETE CASCADE,
            created_by text NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz,
            revoked_at timestamptz,
            last_used_at timestamptz,
            CONSTRAINT api_tokens_push_needs_monitor CHECK ((scope = 'push') = (monitor_id IS NOT NULL))
        );

        CREATE TABLE audit_log (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            actor text NOT NULL,
            action text NOT NULL,
            subject_kind text NOT NULL DEFAULT '',
            subject_id text NOT NULL DEFAULT '',
            details jsonb NOT NULL DEFAULT '{}'
        );
        CREATE INDEX audit_log_at ON audit_log (at DESC);

        CREATE TABLE settings (
            key text PRIMARY KEY,
            value jsonb NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        """,
        down: """
        DROP TABLE settings;
        DROP TABLE audit_log;
        DROP TABLE api_tokens;
        DROP TABLE maintenance_windows;
        DROP TABLE notification_outbox;
        DROP TABLE incidents;
        DROP TABLE monitor_channels;
        DROP TABLE notification_channels;
        DROP TABLE monitor_state;
        DROP TABLE monitors;
        """
    )
}
