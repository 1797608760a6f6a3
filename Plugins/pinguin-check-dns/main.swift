// pinguin-check-dns: kind `dns`. Every lookup of the process runs on one c-ares event loop
// (DNSLookupLoop); proto-docs/checkers/dns.md describes the config and the results.
import Glibc
import PinguinCheckerKit

signal(SIGPIPE, SIG_IGN)

let dns = CheckerKind(kind: "dns", description: "Looks a name up and checks the response code, answers and time",
                      configSchema: DNSCheckConfig.schema, targetSchema: DNSCheckConfig.targetSchema)

CheckerPlugin.run(name: "pinguin-check-dns", version: "1.0.0", maxConcurrency: 4096, kinds: [dns]) { request in
    try await DNSCheck.run(request)
}
