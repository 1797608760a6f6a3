// pinguin-check-http: kind `http`. Every check in flight is one libcurl easy handle on one multi
// handle driven by one thread (CurlLoop); proto-docs/checkers/http.md documents every option.
import CCurl
import Glibc
import PinguinCheckerKit
import PinguinWire

signal(SIGPIPE, SIG_IGN)

// Before any thread exists: curl_global_init is not thread-safe.
guard curl_global_init(3) == CURLE_OK else {   // CURL_GLOBAL_SSL | CURL_GLOBAL_WIN32
    PluginLog.error("curl_global_init failed")
    exit(1)
}

let http = CheckerKind(kind: "http", description: "HTTP and HTTPS checks with libcurl: status, body, JSON, headers, TLS and certificate expiry, timings",
                       configSchema: HTTPConfig.schema, targetSchema: HTTPConfig.targetSchema)

CheckerPlugin.run(name: "pinguin-check-http", version: "1.0.0", maxConcurrency: 1024, kinds: [http]) { request in
    try await HTTPCheck.run(request)
}
