import Foundation
import PinguinPostgres
import PinguinTestSupport
import Testing

private func makeClient(maximumConnections: Int = 4, retry: Duration = .seconds(10)) throws -> PostgresClient {
    var options = PostgresClient.Configuration()
    options.maximumConnections = maximumConnections
    options.connectRetryTimeout = retry
    return PostgresClient(try PostgresConfiguration(TestServices.requireDatabaseURL()), configuration: options, logger: TestServices.logger())
}

/// Runs `body` with a fresh client, holding the PostgreSQL gate shared, and closes the client.
private func withClient<T: Sendable>(maximumConnections: Int = 4, _ body: (PostgresClient) async throws -> T) async throws -> T {
    try await ServiceGate.postgres.withClient({ try makeClient(maximumConnections: maximumConnections) }, close: { await $0.close() }, body)
}

/// A table name no other test uses.
private func uniqueTable(_ prefix: String) -> String {
    "\(prefix)_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""))"
}

@Suite("PostgreSQL integration", .enabled(if: TestServices.postgresEnabled, Comment(rawValue: TestServices.skipReason)), .timeLimit(.minutes(2)))
struct PostgresIntegrationTests {
    @Test("every supported type round-trips through the server as a parameter and a result")
    func parameterRoundTrips() async throws {
        try await withClient { client in
            func echo<T: PostgresEncodable & PostgresDecodable & Equatable>(_ value: T, as sqlType: String) async throws {
                let rows = try await client.query("SELECT $1::\(sqlType) AS v, pg_typeof($1::\(sqlType))::text AS t", [value])
                #expect(try rows[0].decode(T.self, column: "v") == value, "\(sqlType)")
                #expect(try rows[0].decode(String.self, column: "t") == sqlType, "\(sqlType)")
                // NULL of the same type.
                let null = try await client.query("SELECT $1::\(sqlType)", [Optional<T>.none])
                #expect(try null[0].decode(T?.self, column: 0) == nil, "\(sqlType) NULL")
            }
            try await echo(true, as: "boolean")
            try await echo(false, as: "boolean")
            try await echo(Int16(-32768), as: "smallint")
            try await echo(Int32(2_147_483_647), as: "integer")
            try await echo(Int64.min, as: "bigint")
            try await echo(Int.max, as: "bigint")
            try await echo(Float(-0.25), as: "real")
            try await echo(1.0e-300, as: "double precision")
            try await echo(Double.infinity, as: "double precision")
            try await echo("tabs\tquotes' \"backslash\\ emoji 🐧", as: "text")
            try await echo("", as: "text")
            try await echo(Data([0, 0x5C, 0x78, 0xFF, 0x00, 0x27]), as: "bytea")
            try await echo(Data(), as: "bytea")
            try await echo(UUID(uuidString: "0195C2A4-8E1E-7B3E-9F00-1234567890AB")!, as: "uuid")
            try await echo([1, -2, Int.max], as: "bigint[]")
            try await echo([Int32(5)], as: "integer[]")
            try await echo(["a", "b c", "ä\"ö", ""], as: "text[]")
            try await echo([String](), as: "text[]")
            try await echo([0.5, -1.25], as: "double precision[]")
            try await echo([true, false, true], as: "boolean[]")
            try await echo([UUID(), UUID()], as: "uuid[]")

            // timestamptz: the server's own rendering proves the encoding, not just our round trip.
            let instant = Date(timeIntervalSince1970: 1_795_000_000.123_456)
            let rows = try await client.query(
                "SELECT $1::timestamptz AS v, to_char($1::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS s",
                [instant])
            #expect(abs(try rows[0].decode(Date.self, column: "v").timeIntervalSince1970 - instant.timeIntervalSince1970) < 1e-6)
            #expect(try rows[0].decode(String.self, column: "s") == "2026-11-18 11:06:40.123456")
            let fixed = try await client.query("SELECT '1999-12-31 23:59:59.5+00'::timestamptz, 'infinity'::timestamptz, ARRAY[$1::timestamptz]", [instant])
            #expect(try fixed[0].decode(Date.self, column: 0) == Date(timeIntervalSince1970: 946_684_799.5))
            #expect(try fixed[0].decode(Date.self, column: 1) == .distantFuture)
            #expect(try fixed[0].decode([Date].self, column: 2).count == 1)

            // jsonb goes in as text and comes back normalised by the server.
            struct Config: Codable, Equatable { var url: String; var codes: [Int] }
            let json = try PostgresJSONB(encoding: Config(url: "https://example.test/x", codes: [200, 204]))
            let jsonRows = try await client.query("SELECT $1::jsonb, $1::jsonb -> 'codes' ->> 1, $1::jsonb::json", [json])
            #expect(try jsonRows[0].decode(PostgresJSONB.self, column: 0).decode(Config.self) == Config(url: "https://example.test/x", codes: [200, 204]))
            #expect(try jsonRows[0].decode(String.self, column: 1) == "204")
            #expect(try jsonRows[0].decode(PostgresJSONB.self, column: 2).decode(Config.self).codes == [200, 204])
        }
    }

    @Test("numeric decodes exactly as the server prints it")
    func numerics() async throws {
        try await withClient { client in
            let values = ["12345678901234567890.0123", "-0.5", "0", "10000", "0.0001", "-123456.789000", "NaN",
                          "99999999", "1e-20", "123.45e10"]
            for value in values {
                let rows = try await client.query("SELECT $1::numeric, $1::numeric::text", [value])
                #expect(try rows[0].decode(PostgresNumeric.self, column: 0).description == rows[0].decode(String.self, column: 1))
            }
            let sum = try await client.query("SELECT sum(x) FROM generate_series(1, 1000) AS x")
            #expect(try sum[0].decode(Int.self, column: 0) == 500_500)
            let fraction = try await client.query("SELECT 2.5::numeric")
            #expect(throws: PostgresError.self) { try fraction[0].decode(Int.self, column: 0) }
            #expect(try fraction[0].decode(Double.self, column: 0) == 2.5)
        }
    }

    @Test("decoding names the column and refuses a wrong type")
    func decodingErrors() async throws {
        try await withClient { client in
            let rows = try await client.query("SELECT 'x'::text AS name, NULL::int AS missing")
            #expect {
                try rows[0].decode(Int.self, column: "name")
            } throws: { error in
                "\(error)".contains("column \"name\"") && (error as! PostgresError).code == .decoding
            }
            #expect(throws: PostgresError.self) { try rows[0].decode(Int.self, column: "missing") }
            #expect(try rows[0].decode(Int?.self, column: "missing") == nil)
            #expect(throws: PostgresError.self) { try rows[0].decode(Int.self, column: "nope") }
        }
    }

    @Test("COPY writes 100,000 rows in binary format, exactly")
    func copyHundredThousandRows() async throws {
        try await withClient { client in
            let table = uniqueTable("copy_test")
            try await client.query("""
                CREATE TABLE \(table) (id bigint PRIMARY KEY, monitor int NOT NULL, at timestamptz NOT NULL,
                    latency double precision, status text NOT NULL, details jsonb, ok boolean NOT NULL)
                """)
            let base = Date(timeIntervalSince1970: 1_790_000_000)
            var batch = PostgresCopyBatch(columnCount: 7, reservingBytes: 100_000 * 80)
            for i in 0..<100_000 {
                try batch.appendRow(
                    i, Int32(i % 1000), base.addingTimeInterval(Double(i)),
                    i % 10 == 0 ? nil : Double(i) / 1000, i % 7 == 0 ? "down" : "up",
                    i % 2 == 0 ? PostgresJSONB(text: #"{"i":\#(i)}"#) : nil, i % 3 == 0)
            }
            let copied = try await client.copy("COPY \(table) (id, monitor, at, latency, status, details, ok) FROM STDIN (FORMAT binary)", batch: batch)
            #expect(copied == 100_000)
            let stats = try await client.query("""
                SELECT count(*), sum(id), count(latency), count(*) FILTER (WHERE status = 'down'),
                       max(at), sum((details ->> 'i')::bigint), count(*) FILTER (WHERE ok)
                FROM \(table)
                """)
            #expect(try stats[0].decode(Int.self, column: 0) == 100_000)
            #expect(try stats[0].decode(Int.self, column: 1) == 4_999_950_000)
            #expect(try stats[0].decode(Int.self, column: 2) == 90_000)
            #expect(try stats[0].decode(Int.self, column: 3) == 14_286)
            #expect(try stats[0].decode(Date.self, column: 4) == base.addingTimeInterval(99_999))
            #expect(try stats[0].decode(Int.self, column: 5) == 2_499_950_000)
            #expect(try stats[0].decode(Int.self, column: 6) == 33_334)
            try await client.query("DROP TABLE \(table)")
        }
    }

    @Test("a failing COPY reports the server's error and leaves the connection usable")
    func copyFailure() async throws {
        try await withClient(maximumConnections: 1) { client in
            let table = uniqueTable("copy_fail")
            try await client.query("CREATE TABLE \(table) (id int PRIMARY KEY)")
            var batch = PostgresCopyBatch(columnCount: 1)
            try batch.appendRow(Int32(1))
            try batch.appendRow(Int32(1))
            await #expect {
                try await client.copy("COPY \(table) FROM STDIN (FORMAT binary)", batch: batch)
            } throws: { error in
                (error as? PostgresError)?.sqlState == "23505"
            }
            // int8 into an int4 column: binary COPY needs exact types, and says so.
            var wrong = PostgresCopyBatch(columnCount: 1)
            try wrong.appendRow(5)
            await #expect(throws: PostgresError.self) {
                try await client.copy("COPY \(table) FROM STDIN (FORMAT binary)", batch: wrong)
            }
            #expect(try await client.query("SELECT count(*) FROM \(table)")[0].decode(Int.self, column: 0) == 0)
            try await client.query("DROP TABLE \(table)")
        }
    }

    @Test("server errors carry their SQLSTATE, detail and constraint")
    func errorsCarrySQLState() async throws {
        try await withClient(maximumConnections: 1) { client in
            let table = uniqueTable("errors")
            try await client.query("CREATE TABLE \(table) (name text CONSTRAINT \(table)_name_key UNIQUE)")
            try await client.query("INSERT INTO \(table) VALUES ($1)", ["a"])
            do {
                try await client.query("INSERT INTO \(table) VALUES ($1)", ["a"])
                Issue.record("a duplicate insert succeeded")
            } catch let error as PostgresError {
                #expect(error.code == .server)
                #expect(error.sqlState == "23505")
                #expect(error.constraint == "\(table)_name_key")
                #expect(error.table == table)
                #expect(error.detail?.contains("(name)=(a)") == true)
            }
            await #expect { try await client.query("SELEC 1") } throws: { ($0 as? PostgresError)?.sqlState == "42601" }
            await #expect { try await client.query("SELECT 1/0") } throws: { ($0 as? PostgresError)?.sqlState == "22012" }
            // The one connection is still fine.
            #expect(try await client.query("SELECT 2")[0].decode(Int.self, column: 0) == 2)
            try await client.query("DROP TABLE \(table)")
        }
    }

    @Test("transactions commit, and roll back when the body throws")
    func transactions() async throws {
        try await withClient(maximumConnections: 2) { client in
            let table = uniqueTable("tx")
            try await client.query("CREATE TABLE \(table) (v int)")
            try await client.withTransaction { connection in
                try await connection.query("INSERT INTO \(table) VALUES (1)")
            }
            struct Abort: Error {}
            await #expect(throws: Abort.self) {
                try await client.withTransaction { connection in
                    try await connection.query("INSERT INTO \(table) VALUES (2)")
                    throw Abort()
                }
            }
            // A connection returned mid-transaction is rolled back before reuse.
            try await client.withConnection { connection in
                try await connection.execute(script: "BEGIN; INSERT INTO \(table) VALUES (3)")
            }
            let values = try await client.query("SELECT array_agg(v ORDER BY v) FROM \(table)")
            #expect(try values[0].decode([Int32].self, column: 0) == [1])
            try await client.query("DROP TABLE \(table)")
        }
    }

    @Test("a multi-statement script runs in order")
    func scripts() async throws {
        try await withClient { client in
            let table = uniqueTable("script")
            try await client.withConnection { connection in
                try await connection.execute(script: """
                    CREATE TABLE \(table) (v int);
                    INSERT INTO \(table) VALUES (1), (2);
                    UPDATE \(table) SET v = v * 10;
                    """)
            }
            let sum = try await client.query("SELECT sum(v) FROM \(table)")
            #expect(try sum[0].decode(Int.self, column: 0) == 30)
            try await client.query("DROP TABLE \(table)")
        }
    }

    @Test("cancelling the task cancels the statement on the server")
    func cancellation() async throws {
        try await withClient(maximumConnections: 1) { client in
            let started = ContinuousClock.now
            let task = Task {
                try await client.query("SELECT pg_sleep(60)")
            }
            try await Task.sleep(for: .milliseconds(300))
            task.cancel()
            await #expect {
                try await task.value
            } throws: { error in
                (error as? PostgresError)?.code == .cancelled
            }
            #expect(ContinuousClock.now - started < .seconds(30))
            #expect(try await client.query("SELECT 7")[0].decode(Int.self, column: 0) == 7)
        }
    }

    @Test("the pool never opens more than its maximum and serves every caller")
    func poolBounds() async throws {
        try await withClient(maximumConnections: 3) { client in
            let pids = try await withThrowingTaskGroup(of: Int32.self) { group in
                for _ in 0..<40 {
                    group.addTask {
                        try await client.withConnection { connection in
                            _ = try await connection.query("SELECT pg_sleep(0.01)")
                            return await connection.backendPID
                        }
                    }
                }
                return try await group.reduce(into: Set<Int32>()) { $0.insert($1) }
            }
            #expect(pids.count <= 3)
            #expect(client.openConnections <= 3)
        }
    }

    @Test("a wrong password fails with a clear error that does not contain it")
    func wrongPassword() async throws {
        try await ServiceGate.postgres.shared {
            let good = try PostgresConfiguration(TestServices.requireDatabaseURL())
            let bad = try PostgresConfiguration("host=\(good.host) port=\(good.port) dbname=\(good.database!) user=\(good.user!) password=not-the-password-1234 sslmode=disable")
            await #expect {
                try await PostgresConnection.connect(configuration: bad, logger: TestServices.logger())
            } throws: { error in
                let error = error as! PostgresError
                return error.code == .connectionFailed && error.message.contains("password authentication failed")
                    && !error.description.contains("not-the-password-1234")
            }
        }
    }

    @Test("the client reconnects by itself after PostgreSQL restarts")
    func reconnectAfterRestart() async throws {
        try await ServiceGate.postgres.exclusive {
            let client = try makeClient(maximumConnections: 2)
            let before = try await client.query("SELECT pg_backend_pid()")[0].decode(Int32.self, column: 0)
            try await TestServices.runServicesScript("restart", "postgres")
            let after = try await client.query("SELECT pg_backend_pid()")[0].decode(Int32.self, column: 0)
            #expect(before != after)
            #expect(try await client.query("SELECT 1")[0].decode(Int.self, column: 0) == 1)
            await client.close()
        }
    }
}
