public import Foundation
public import PinguinStore
public import PinguinWire
import PinguinModel

/// Sends one notification through one channel, now: prepares the request from the channel's
/// kind, config and secrets (``PreparedDelivery``) and performs it. Errors never hold a secret:
/// they are written without URLs, and any secret value a receiver echoed back is replaced.
public enum NotificationSender {
    public static func send(_ payload: JSONObject, via channel: ChannelTarget, now: Date = Date()) async throws(DeliveryError) -> DeliveryReceipt {
        let config = (try? JSONParser.parse(channel.configJSON))?.objectValue ?? JSONObject()
        let secrets = ChannelTarget.secretValues(fromJSON: channel.secretsJSON)
        do {
            let prepared = try PreparedDelivery.prepare(kind: channel.kind, config: config, secrets: secrets, payload: payload, now: now)
            switch prepared {
            case .http(let request): return try await CurlTransfer.http(request)
            case .smtp(let message): return try await CurlTransfer.smtp(message)
            case .exec(let command): return try await ExecRunner.run(command)
            case .nothing(let reason): return DeliveryReceipt(code: nil, answer: reason, milliseconds: 0)
            }
        } catch {
            throw error.redacting(secrets.values)
        }
    }

    /// The payload of a test notification (`channel.test`), shaped like every other.
    public static func testPayload(channel: ChannelTarget, id: Int64, message: String, now: Date = Date()) -> JSONObject {
        var payload = JSONObject()
        payload.append("id", .int(id))
        payload.append("version", .int(1))
        payload.append("event", .string("test"))
        payload.append("at", .string(RFC3339.string(now)))
        payload.append("status", .null)
        payload.append("previous_status", .null)
        payload.append("message", .string(message))
        payload.append("channel", .object(JSONObject(["id": .int(channel.id), "name": .string(channel.name)])))
        return payload
    }
}
