import Foundation
import PinguinControlPlane
import PinguinModel
import PinguinPostgres
import PinguinStore
import PinguinTestSupport
import PinguinWire
import Testing

@Suite("result.list, uptime.get, latency.get", .enabled(if: TestServices.postgresEnabled, Comment(rawValue: TestServices.skipReason)), .timeLimit(.minutes(2)))
struct ResultMethodsTests {
    private func call(_ router: JSONRPCRouter, _ method: String, _ params: String) async throws -> Result<JSONValue, JSONRPCError> {
        await router.handle(JSONRPCRequest(id: .number("1"), method: method, params: .object(try #require(try JSONParser.parse(params).objectValue))))
    }

    @Test("answers from stored results, and pages results without gaps")
    func queries() async throws {
        try await TemporaryDatabase.with { configuration in
            let client = PostgresClient(configuration, logger: TestServices.logger())
            try await MigrationRunner(client: client, logger: TestServices.logger()).up()
            let monitor = try await MonitorStore(client: client).create(MonitorDraft(name: "m", kind: "http", target: "http://127.0.0.1/"))
            let storage = PartitionedResultStorage(client: client, logger: TestServices.logger())
            let start = Date(timeIntervalSince1970: 1_795_000_000)
            var results: [CheckResult] = []
            for i in 0..<250 {
                let at = start.addingTimeInterval(Double(i) * 60 + 0.123456)
                results.append(CheckResult(monitorID: monitor, scheduledAt: at, status: i % 10 == 0 ? .down : .up, slotMilliseconds: 60_000,
                                           latencyMilliseconds: Double(i % 100 + 1), message: "r\(i)", details: #"{"i":\#(i)}"#))
            }
            _ = try await storage.write(results)
            // Incidents: one inside the range (10 min), one from before it (5 min inside), one after it.
            _ = try await client.query("""
                INSERT INTO incidents (monitor_id, started_at, ended_at) VALUES
                    ($1, $2::timestamptz + interval '60 minutes', $2::timestamptz + interval '70 minutes'),
                    ($1, $2::timestamptz - interval '5 minutes', $2::timestamptz + interval '5 minutes'),
                    ($1, $2::timestamptz + interval '300 minutes', NULL)
                """, [monitor, start])
            var router = JSONRPCRouter()
            ResultMethods.register(into: &router, storage: storage, incidents: IncidentStore(client: client))
            let from = RFC3339.string(start), to = RFC3339.string(start.addingTimeInterval(250 * 60))

            // Pages of 100, newest first, cursor passed back verbatim.
            var seen: [String] = []
            var before = "null"
            repeat {
                let page = try #require(try await call(router, "result.list", #"{"monitor_id":\#(monitor),"from":"\#(from)","to":"\#(to)","limit":100,"before":\#(before)}"#).get().objectValue)
                seen += (page["results"]?.arrayValue ?? []).compactMap { $0.objectValue?["message"]?.stringValue }
                before = JSONWriter.string(page["next"] ?? .null)
            } while before != "null"
            #expect(seen.count == 250)
            #expect(seen.first == "r249")
            #expect(seen.last == "r0")

            let uptime = try #require(try await call(router, "uptime.get", #"{"monitor_ids":[\#(monitor),999],"from":"\#(from)","to":"\#(to)"}"#).get().objectValue)
            let entries = (uptime["monitors"]?.arrayValue ?? []).compactMap { $0.objectValue }
            #expect(entries.count == 2)
            #expect(entries[0]["down_ms"] == .number(String(25 * 60_000)))
            #expect(entries[0]["uptime"]?.doubleValue == 0.9)
            #expect(entries[1]["uptime"] == .null)  // no data for 999: null, not 0 or 1
            #expect(entries[0]["incidents"] == .number("2"))
            #expect(entries[0]["incident_ms"] == .number(String(15 * 60_000)))
            #expect(entries[1]["incidents"] == .number("0") && entries[1]["incident_ms"] == .number("0"))

            let latency = try #require(try await call(router, "latency.get", #"{"monitor_id":\#(monitor),"from":"\#(from)","to":"\#(to)"}"#).get().objectValue)
            #expect(latency["count"] == .number("250"))
            #expect(latency["max_ms"] == .number("100"))

            // Bad input names the field.
            for (params, field) in [
                (#"{"monitor_id":\#(monitor),"from":"yesterday"}"#, "from"),
                (#"{"monitor_id":\#(monitor),"window":"2w"}"#, "window"),
                (#"{"monitor_id":\#(monitor),"from":"\#(to)","to":"\#(from)"}"#, "from"),
                (#"{"monitor_id":\#(monitor),"window":"24h","from":"\#(from)"}"#, "window"),
            ] {
                guard case .failure(let error) = try await call(router, "latency.get", params) else {
                    Issue.record("\(params) was accepted")
                    continue
                }
                #expect(error.data?.objectValue?["field"] == .string(field), "\(params)")
            }
            await client.close()
        }
    }
}
