// pinguin-check-ping: kind `ping`. ICMP echo over IPv4 and IPv6, all checks sharing one socket
// per address family (proto-docs/checkers/ping.md).
import Glibc
import PinguinCheckerKit

signal(SIGPIPE, SIG_IGN)

let ping = CheckerKind(kind: "ping", description: "ICMP echo: loss, round trips and jitter",
                       configSchema: PingConfig.schema, targetSchema: PingConfig.targetSchema)

CheckerPlugin.run(name: "pinguin-check-ping", version: "1.0.0", maxConcurrency: 4096, kinds: [ping]) { request in
    try await PingProbe(request).run()
}
