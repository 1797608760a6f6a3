import PinguinRedis

/// Every entry of a Redis stream, as field → value text (XRANGE - +).
func streamEntries(_ redis: RedisClient, _ stream: String) async throws -> [[String: String]] {
    try await (redis.send("XRANGE", stream, "-", "+").array ?? []).compactMap { entry in
        guard let flat = entry.array?.last?.array else { return nil }
        var fields: [String: String] = [:]
        for index in stride(from: 0, to: flat.count - 1, by: 2) { fields[flat[index].string ?? ""] = flat[index + 1].string ?? "" }
        return fields
    }
}
