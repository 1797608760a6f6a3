// pinguin-check-tcp: kind `tcp`. Connects to host:port, optionally speaks TLS and runs send/expect
// steps; all checks share one NIO event loop (proto-docs/checkers/tcp.md).
import Glibc
import PinguinCheckerKit

signal(SIGPIPE, SIG_IGN)

let tcp = CheckerKind(kind: "tcp", description: "Connects to host:port, with optional TLS and send/expect steps",
                      configSchema: TCPConfig.schema, targetSchema: TCPConfig.targetSchema)

CheckerPlugin.run(name: "pinguin-check-tcp", version: "1.0.0", maxConcurrency: 4096, kinds: [tcp]) { request in
    try await TCPProbe(request).run()
}
