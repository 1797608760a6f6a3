import Foundation
public import PinguinPostgres

/// A stream entry that could not become a result, kept for inspection.
public struct RejectedResult: Sendable, Hashable {
    public var streamID: String
    public var reason: String
    public var fields: [String: [UInt8]]

    public init(streamID: String, reason: String, fields: [String: [UInt8]]) {
        self.streamID = streamID
        self.reason = reason
        self.fields = fields
    }
}

/// `results_rejected`: what the ingester could not store, with why.
public struct RejectedResultStore: Sendable {
    public let client: PostgresClient

    public init(client: PostgresClient) {
        self.client = client
    }

    public func store(_ rejected: [RejectedResult]) async throws {
        guard !rejected.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var batch = PostgresCopyBatch(columnCount: 3)
        for item in rejected {
            // Invalid UTF-8 and NUL cannot be stored as text; keep the rest readable.
            let readable = item.fields.mapValues { String(decoding: $0.filter { $0 != 0 }, as: UTF8.self) }
            let json = String(decoding: try encoder.encode(readable), as: UTF8.self)
            try batch.appendRow(item.streamID, item.reason, PostgresJSONB(text: json))
        }
        try await client.copy("COPY results_rejected (stream_id, reason, fields) FROM STDIN (FORMAT binary)", batch: batch)
    }

    /// The newest rejected entries.
    public func recent(limit: Int = 100) async throws -> [(streamID: String, reason: String, fields: String)] {
        let rows = try await client.query(
            "SELECT stream_id, reason, fields::text FROM results_rejected ORDER BY id DESC LIMIT $1", [limit])
        return try rows.map { (try $0.decode(String.self, column: 0), try $0.decode(String.self, column: 1), try $0.decode(String.self, column: 2)) }
    }
}
