import Foundation

/// A checker plugin: declare its kinds and write the check; the kit speaks the protocol
/// (proto-docs/plugin-protocol.md, version 1) on stdin and stdout.
///
/// ```swift
/// CheckerPlugin.run(name: "pinguin-check-example", version: "1.0.0", kinds: [kind]) { request in
///     .up("fine")
/// }
/// ```
///
/// The kit answers the handshake, `ping` and `shutdown`; runs up to `maxConcurrency` checks at
/// once, each in a task of its own (more wait their turn); cancels a check's task when its
/// deadline passes or `check.cancel` arrives and answers for it at once; turns a thrown error
/// into a JSON-RPC error (the supervisor records `unknown`, never `down`); and exits 0 when stdin
/// ends and every answer is written.
public struct CheckerPlugin: Sendable {
    public typealias Check = @Sendable (CheckRequest) async throws -> CheckOutcome

    public var name: String
    public var version: String
    /// Most checks run at once (1…100000).
    public var maxConcurrency: Int
    public var kinds: [CheckerKind]
    public var check: Check

    public init(name: String, version: String, maxConcurrency: Int = 256, kinds: [CheckerKind], check: @escaping Check) {
        self.name = name
        self.version = version
        self.maxConcurrency = maxConcurrency
        self.kinds = kinds
        self.check = check
    }

    /// Serves the protocol until stdin ends, then exits. Call it from `main.swift` (or a synchronous
    /// `main()`): it never returns. Checks run on the global concurrent executor.
    public func run() -> Never {
        signal(SIGPIPE, SIG_IGN)
        let description: PluginDescription
        do {
            description = try PluginDescription(name: name, version: version, maxConcurrency: maxConcurrency, kinds: kinds)
        } catch {
            PluginLog.error("\(name): \(error.description)")
            exit(2)
        }
        PluginRuntime(plugin: description, check: check).run()
    }

    public static func run(name: String, version: String, maxConcurrency: Int = 256, kinds: [CheckerKind], check: @escaping Check) -> Never {
        CheckerPlugin(name: name, version: version, maxConcurrency: maxConcurrency, kinds: kinds, check: check).run()
    }
}
