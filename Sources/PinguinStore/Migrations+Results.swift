extension Migrations {
    /// Check results on plain PostgreSQL: daily range partitions, and minute/hour/day rollups that
    /// the ingester maintains in the same transaction as the rows.
    static let results = Migration(
        version: 2,
        name: "results, partitions and rollups",
        up: """
        -- Creates the daily partitions of `parent` for first_day … last_day (UTC days) that do not exist yet.
        CREATE FUNCTION pinguin_ensure_daily_partitions(parent regclass, first_day date, last_day date)
        RETURNS integer LANGUAGE plpgsql AS $$
        DECLARE
            day date;
            partition_name text;
            created integer := 0;
            base text := (SELECT relname FROM pg_class WHERE oid = parent);
        BEGIN
            -- Serialise creators: two ingesters may reach a new day at the same moment.
            PERFORM pg_advisory_xact_lock(hashtext('pinguin.partitions'));
            FOR day IN SELECT generate_series(first_day, last_day, interval '1 day')::date LOOP
                partition_name := base || '_p' || to_char(day, 'YYYYMMDD');
                IF to_regclass(quote_ident(partition_name)) IS NULL THEN
                    EXECUTE format('CREATE TABLE %I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)%s',
                        partition_name, parent, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC',
                        CASE WHEN base = 'results' THEN '' ELSE ' WITH (fillfactor = 50)' END);
                    created := created + 1;
                END IF;
            END LOOP;
            RETURN created;
        END $$;

        -- Drops the daily partitions of `parent` whose whole day lies before `cutoff`.
        CREATE FUNCTION pinguin_drop_daily_partitions_before(parent regclass, cutoff date)
        RETURNS integer LANGUAGE plpgsql AS $$
        DECLARE
            child record;
            dropped integer := 0;
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtext('pinguin.partitions'));
            FOR child IN
                SELECT c.oid::regclass AS relation, substring(c.relname FROM '_p([0-9]{8})$') AS day
                FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = parent
            LOOP
                IF child.day IS NOT NULL AND to_date(child.day, 'YYYYMMDD') < cutoff THEN
                    EXECUTE format('DROP TABLE %s', child.relation);
                    dropped := dropped + 1;
                END IF;
            END LOOP;
            RETURN dropped;
        END $$;

        CREATE TABLE results (
            monitor_id bigint NOT NULL,
            scheduled_at timestamptz NOT NULL,
            location text NOT NULL,
            status text NOT NULL CONSTRAINT results_status CHECK
                (status IN ('up', 'down', 'degraded', 'unknown', 'paused', 'maintenance', 'skipped')),
            slot_ms integer NOT NULL CONSTRAINT results_slot_positive CHECK (slot_ms > 0),
            started_at timestamptz,
            finished_at timestamptz,
            latency_ms double precision CONSTRAINT results_latency_nonnegative CHECK (latency_ms >= 0),
            message text NOT NULL DEFAULT '',
            phases jsonb NOT NULL DEFAULT '{}',
            details jsonb NOT NULL DEFAULT '{}',
            supervisor text,
            ingested_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (monitor_id, scheduled_at, location)
        ) PARTITION BY RANGE (scheduled_at);

        -- Results the ingester could not store, kept with the reason instead of being dropped.
        CREATE TABLE results_rejected (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            stream_id text NOT NULL,
            reason text NOT NULL,
            fields jsonb NOT NULL,
            rejected_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX results_rejected_at ON results_rejected (rejected_at DESC);

        -- Per-bucket sums of results, by the time their slot was due. *_ms are slot weights:
        -- up_ms counts up and degraded, down_ms counts down, excluded_ms the rest.
        -- Rollup rows are updated in place: free space on each page lets PostgreSQL do that
        -- without new index entries (HOT updates).
        CREATE TABLE results_rollup_1m (
            monitor_id bigint NOT NULL,
            bucket timestamptz NOT NULL,
            checks integer NOT NULL,
            up_checks integer NOT NULL,
            degraded_checks integer NOT NULL,
            down_checks integer NOT NULL,
            unknown_checks integer NOT NULL,
            maintenance_checks integer NOT NULL,
            other_checks integer NOT NULL,
            up_ms bigint NOT NULL,
            down_ms bigint NOT NULL,
            excluded_ms bigint NOT NULL,
            latency_count integer NOT NULL,
            latency_sum double precision NOT NULL,
            latency_min double precision,
            latency_max double precision,
            PRIMARY KEY (monitor_id, bucket)
        ) PARTITION BY RANGE (bucket);
        CREATE TABLE results_rollup_1h (LIKE results_rollup_1m INCLUDING ALL) WITH (fillfactor = 50);
        CREATE TABLE results_rollup_1d (LIKE results_rollup_1m INCLUDING ALL) WITH (fillfactor = 50);
        -- Calendar months (UTC).
        CREATE TABLE results_rollup_1mo (LIKE results_rollup_1m INCLUDING ALL) WITH (fillfactor = 50);
        -- Uptime over all monitors reads a time range of each rollup.
        CREATE INDEX results_rollup_1h_bucket ON results_rollup_1h (bucket);
        CREATE INDEX results_rollup_1d_bucket ON results_rollup_1d (bucket);
        CREATE INDEX results_rollup_1mo_bucket ON results_rollup_1mo (bucket);
        -- The ingester adds every result to the minute rollup. Hours, days and months are built
        -- from the next finer level once a period is over (hours from minutes, days from hours,
        -- months from days); complete_through says how far each level is built. A result that
        -- arrives for a period already built is added to that level directly, in the same transaction.
        CREATE TABLE results_rollup_state (
            name text PRIMARY KEY CONSTRAINT results_rollup_state_name CHECK (name IN ('1h', '1d', '1mo')),
            complete_through timestamptz NOT NULL
        );
        INSERT INTO results_rollup_state VALUES ('1h', '-infinity'), ('1d', '-infinity'), ('1mo', '-infinity');
        ALTER TABLE monitor_state SET (fillfactor = 50);

        SELECT pinguin_ensure_daily_partitions('results', (now() AT TIME ZONE 'UTC')::date - 1, (now() AT TIME ZONE 'UTC')::date + 7);
        SELECT pinguin_ensure_daily_partitions('results_rollup_1m', (now() AT TIME ZONE 'UTC')::date - 1, (now() AT TIME ZONE 'UTC')::date + 7);
        """,
        down: """
        ALTER TABLE monitor_state RESET (fillfactor);
        DROP TABLE results_rollup_state;
        DROP TABLE results_rollup_1mo;
        DROP TABLE results_rollup_1d;
        DROP TABLE results_rollup_1h;
        DROP TABLE results_rollup_1m;
        DROP TABLE results_rejected;
        DROP TABLE results;
        DROP FUNCTION pinguin_drop_daily_partitions_before(regclass, date);
        DROP FUNCTION pinguin_ensure_daily_partitions(regclass, date, date);
        """
    )
}
