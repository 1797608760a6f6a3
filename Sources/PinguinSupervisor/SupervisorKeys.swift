/// The Redis keys a supervisor uses (proto-docs/redis.md). Tests give each run a prefix of its own.
public struct SupervisorKeys: Sendable, Hashable {
    /// Jobs for any location.
    public var jobs: String
    /// Results, read by the ingesters.
    public var results: String
    /// Registrations: supervisor id → JSON.
    public var supervisors: String
    /// The consumer group every supervisor reads jobs through.
    public var group = "supervisors"
    private let prefix: String

    public init(prefix: String = "{pinguin}") {
        self.prefix = prefix
        jobs = "\(prefix):jobs"
        results = "\(prefix):results"
        supervisors = "\(prefix):supervisors"
    }

    public static let standard = SupervisorKeys()

    /// Jobs that may run only in `location`, handed on by supervisors elsewhere.
    public func jobs(in location: String) -> String { "\(jobs):\(location)" }
}
