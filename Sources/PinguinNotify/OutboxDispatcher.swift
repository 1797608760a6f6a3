public import Foundation
public import Logging
public import PinguinStore
import PinguinWire
import Synchronization

/// Sends what the status engine put into the outbox: claims due rows (a lease, so every row has
/// exactly one sender at a time), sends each through its channel, and settles it as delivered,
/// as pending again after a backoff, or as failed after the last attempt, with the last error.
/// It also queues reminders for monitors that stay down. Runs in every ingester; any number of
/// them share the outbox.
///
/// A row is sent at least once: a sender that dies after the receiver got a message but before
/// it settled the row leaves its lease to run out, and the message goes again. Receivers can
/// tell by the delivery id (`X-Pinguin-Delivery`, the payload's `id`, PagerDuty's dedup key).
public final class OutboxDispatcher: Sendable {
    public struct Configuration: Sendable {
        /// The name this sender claims rows under. Default `HOST-PID-notify`.
        public var owner = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-notify"
        /// How often the outbox is looked at when the last look found nothing. Default 1 s.
        public var pollInterval: Duration = .seconds(1)
        /// Most rows claimed (and sent at once) per look. Default 16.
        public var batchSize = 16
        /// How long a claim holds: longer than any delivery may take (exec programs are limited
        /// to 60 s, HTTP to 10 s, SMTP to 30 s). Default 120 s.
        public var lease: Duration = .seconds(120)
        /// Delay after the first failed attempt, doubling after each further one. Default 5 s.
        public var retryInitial: Duration = .seconds(5)
        /// The longest delay between attempts. Default 10 minutes.
        public var retryMaximum: Duration = .seconds(600)
        /// Attempts before a row is settled as failed. Default 20 (about two and a half hours).
        public var maxAttempts = 20
        /// How often due reminders are queued. Default 10 s.
        public var reminderInterval: Duration = .seconds(10)

        public init() {}
    }

    /// Running totals since start.
    public struct Statistics: Sendable, Hashable {
        public var delivered = 0
        public var retried = 0
        public var failed = 0
        public var reminders = 0
    }

    public let configuration: Configuration
    private let store: OutboxStore
    private let logger: Logger
    private let totals = Mutex(Statistics())

    public init(configuration: Configuration, store: OutboxStore, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.logger = logger
    }

    public var statistics: Statistics { totals.withLock { $0 } }

    /// Runs until the task is cancelled. Deliveries under way when it is are finished first.
    public func run() async {
        var lastReminders = ContinuousClock.now - configuration.reminderInterval
        while !Task.isCancelled {
            var sent = 0
            do {
                if ContinuousClock.now - lastReminders >= configuration.reminderInterval {
                    lastReminders = .now
                    let queued = try await store.queueReminders()
                    if queued > 0 { totals.withLock { $0.reminders += queued } }
                }
                sent = try await runOnce()
            } catch {
                logger.error("reading the notification outbox failed", metadata: ["error": "\(error)"])
            }
            if sent == 0 { try? await Task.sleep(for: configuration.pollInterval) }
        }
    }

    /// Claims one batch of due rows and sends them; returns how many it claimed.
    @discardableResult
    public func runOnce() async throws -> Int {
        let claimed = try await store.claim(owner: configuration.owner, limit: configuration.batchSize, lease: configuration.lease)
        guard !claimed.isEmpty else { return 0 }
        // Unstructured tasks: a shutdown (cancellation) must not cut a delivery off between the
        // receiver's answer and settling the row, which would send it again later.
        let deliveries = claimed.map { delivery in Task { await self.deliver(delivery) } }
        for delivery in deliveries { await delivery.value }
        return claimed.count
    }

    private func deliver(_ delivery: OutboxDelivery) async {
        let metadata: Logger.Metadata = [
            "notification.id": "\(delivery.id)", "notification.event": "\(delivery.event)",
            "channel.id": "\(delivery.channel.id)", "channel.kind": "\(delivery.channel.kind)",
            "notification.attempt": "\(delivery.attempts)",
        ]
        var payload = (try? JSONParser.parse(delivery.payloadJSON))?.objectValue ?? JSONObject()
        var withID = JSONObject()
        withID.append("id", .int(delivery.id))
        for (key, value) in zip(payload.keys, payload.values) where key != "id" { withID.append(key, value) }
        payload = withID
        do {
            guard delivery.channel.enabled else {
                throw DeliveryError("the channel was disabled before the notification could be sent", retryable: false)
            }
            let receipt = try await NotificationSender.send(payload, via: delivery.channel)
            let settled = try await store.delivered(id: delivery.id, owner: configuration.owner)
            totals.withLock { $0.delivered += 1 }
            if !settled {
                logger.warning("a notification was delivered after its claim ran out; another sender may send it again", metadata: metadata)
            } else {
                logger.debug("notification delivered", metadata: metadata.merging(["notification.ms": "\(receipt.milliseconds)"]) { $1 })
            }
        } catch let error as DeliveryError {
            let last = !error.retryable || delivery.attempts >= configuration.maxAttempts
            let retryAt = last ? nil : Date().addingTimeInterval(backoff(afterAttempt: delivery.attempts))
            do {
                try await store.failed(id: delivery.id, owner: configuration.owner, error: error.message, retryAt: retryAt)
            } catch {
                logger.error("settling a notification failed; its claim runs out and it is tried again", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            }
            totals.withLock { last ? ($0.failed += 1) : ($0.retried += 1) }
            if last {
                logger.error("notification failed for good", metadata: metadata.merging(["error": "\(error.message)"]) { $1 })
            } else {
                logger.warning("notification failed; will retry", metadata: metadata.merging([
                    "error": "\(error.message)", "notification.retry_at": "\(retryAt!)",
                ]) { $1 })
            }
        } catch {
            logger.error("settling a delivered notification failed; it may be sent again", metadata: metadata.merging(["error": "\(error)"]) { $1 })
        }
    }

    /// Seconds before the next attempt after `attempts` failed ones: `retryInitial` doubled per
    /// further attempt, at most `retryMaximum`, less up to a tenth at random (so senders spread).
    func backoff(afterAttempt attempts: Int) -> TimeInterval {
        let initial = Self.seconds(configuration.retryInitial)
        let maximum = Self.seconds(configuration.retryMaximum)
        let delay = min(maximum, initial * pow(2, Double(max(attempts - 1, 0))))
        return delay * Double.random(in: 0.9...1)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
