// pinguin-check-null: kind `null`, a synthetic check for tests, demos and benchmarks. It answers
// what its config says, after `delay_ms`, or fails as `fail` asks.
import Glibc
import PinguinCheckerKit
import PinguinWire

signal(SIGPIPE, SIG_IGN)

let null = CheckerKind(kind: "null", description: "Answers the configured status",
                       configSchema: NullConfig.schema, targetSchema: NullConfig.targetSchema)

CheckerPlugin.run(name: "pinguin-check-null", version: "1.0.0", maxConcurrency: 10_000, kinds: [null]) { request in
    let config = try NullConfig(request.config)   // throws CheckError.invalidConfig
    if config.delayMilliseconds > 0 {
        try await Task.sleep(for: .milliseconds(config.delayMilliseconds))
    }
    switch config.fail {
    case .none:
        break
    case .error:
        throw CheckError("the null check failed, as its config asks (fail: error)", kind: "null_error")
    case .crash:
        PluginLog.error("crashing, as the config asks (fail: crash)")
        exit(3)
    case .hang:
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
    return CheckOutcome(status: config.status, message: config.message,
                        details: JSONObject(["target": .string(request.target)]))
}
