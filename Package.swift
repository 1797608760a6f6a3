// swift-tools-version:6.1
import PackageDescription

// Compiler settings shared by every Swift target.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "pinguin",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pinguind", targets: ["pinguind"]),
        .executable(name: "pinguinctl", targets: ["pinguinctl"]),
        .executable(name: "pinguin-bench", targets: ["PinguinBench"]),
        .executable(name: "pinguin-check-null", targets: ["pinguin-check-null"]),
        .executable(name: "pinguin-check-http", targets: ["pinguin-check-http"]),
        .executable(name: "pinguin-check-dns", targets: ["pinguin-check-dns"]),
        .executable(name: "pinguin-check-tcp", targets: ["pinguin-check-tcp"]),
        .executable(name: "pinguin-check-ping", targets: ["pinguin-check-ping"]),
        .library(name: "PinguinCheckerKit", targets: ["PinguinCheckerKit"]),
        .library(name: "PinguinPostgres", targets: ["PinguinPostgres"]),
        .library(name: "PinguinRedis", targets: ["PinguinRedis"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // MARK: C libraries from Debian (layer 1: system library targets)
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CAres",
            pkgConfig: "libcares",
            providers: [.apt(["libc-ares-dev"])]
        ),
        // MARK: Layer 2: the one C shim for what Swift cannot call (variadic functions).
        .target(
            name: "CPinguinShims",
            dependencies: ["CCurl", "CAres"]
        ),
        // fork/exec with what posix_spawn cannot do: limits, another user, every descriptor closed.
        .target(name: "CPinguinProcess"),

        // MARK: Layer 3: Swift wrappers, one type per C handle.
        .target(
            name: "PinguinClientKit",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PinguinPostgres",
            dependencies: [
                "CLibPQ",
                "PinguinClientKit",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PinguinRedis",
            dependencies: [
                "CHiredis",
                "PinguinClientKit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "PinguinWire",
            swiftSettings: swiftSettings
        ),
        // The plugin side of the checker protocol (proto-docs/plugin-protocol.md), for plugins in Swift.
        .target(
            name: "PinguinCheckerKit",
            dependencies: ["PinguinWire"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PinguinControlPlane",
            dependencies: [
                "PinguinNotify",
                "PinguinWire",
                "PinguinModel",
                "PinguinStore",
                "PinguinPostgres",
                "PinguinRedis",
                "PinguinClientKit",
                "PinguinScheduler",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PinguinModel",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PinguinStore",
            dependencies: [
                "PinguinModel",
                "PinguinPostgres",
                "PinguinWire",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Notification channels: preparing and sending each kind, and the outbox sender.
        .target(
            name: "PinguinNotify",
            dependencies: [
                "CCurl",
                "CPinguinShims",
                "PinguinModel",
                "PinguinPluginHost",
                "PinguinStore",
                "PinguinWire",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PinguinIngester",
            dependencies: [
                "PinguinNotify",
                "PinguinClientKit",
                "PinguinScheduler",
                "PinguinModel",
                "PinguinWire",
                "PinguinStore",
                "PinguinRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "PinguinPluginHost",
            dependencies: [
                "CPinguinProcess",
                "PinguinWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PinguinSupervisor",
            dependencies: [
                "PinguinPluginHost",
                "PinguinClientKit",
                "PinguinModel",
                "PinguinWire",
                "PinguinRedis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "PinguinScheduler",
            dependencies: [
                "PinguinClientKit",
                "PinguinModel",
                "PinguinWire",
                "PinguinPostgres",
                "PinguinRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Executables
        .executableTarget(
            name: "pinguind",
            dependencies: [
                "PinguinControlPlane",
                "PinguinSupervisor",
                "PinguinPluginHost",
                "PinguinModel",
                "PinguinScheduler",
                "PinguinWire",
                "PinguinIngester",
                "PinguinNotify",
                "PinguinStore",
                "PinguinPostgres",
                "PinguinRedis",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // `pinguinctl plugin test`: a plugin run through the protocol's checks, as the supervisor runs it.
        .target(
            name: "PinguinPluginConformance",
            dependencies: [
                "PinguinPluginHost",
                "PinguinModel",
                "PinguinWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PinguinctlKit",
            dependencies: [
                "PinguinWire",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "pinguinctl",
            dependencies: [
                "COpenSSL",
                "PinguinctlKit",
                "PinguinPluginConformance",
                "PinguinWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "PinguinBench",
            dependencies: [
                "PinguinControlPlane",
                "PinguinSupervisor",
                "PinguinPluginHost",
                "PinguinModel",
                .product(name: "NIOCore", package: "swift-nio"),
                "PinguinWire",
                "PinguinIngester",
                "PinguinStore",
                "PinguinPostgres",
                "PinguinRedis",
                "PinguinScheduler",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Checker plugins built with PinguinCheckerKit
        .executableTarget(
            name: "pinguin-check-null",
            dependencies: ["PinguinCheckerKit", "PinguinWire"],
            path: "Plugins/pinguin-check-null",
            swiftSettings: swiftSettings
        ),
        // HTTP(S) checks: libcurl easy handles on one multi handle driven by one thread.
        .executableTarget(
            name: "pinguin-check-http",
            dependencies: ["CCurl", "CPinguinShims", "PinguinCheckerKit", "PinguinWire"],
            path: "Plugins/pinguin-check-http",
            swiftSettings: swiftSettings
        ),
        // DNS messages read without IO, and the answer checks of pinguin-check-dns.
        .target(
            name: "PinguinDNS",
            swiftSettings: swiftSettings
        ),
        // DNS lookups on c-ares channels driven by one poll(2) thread.
        .executableTarget(
            name: "pinguin-check-dns",
            dependencies: ["CAres", "PinguinCheckerKit", "PinguinDNS", "PinguinWire"],
            path: "Plugins/pinguin-check-dns",
            swiftSettings: swiftSettings
        ),
        // TCP connect, TLS and send/expect steps, many checks on one NIO event loop.
        .executableTarget(
            name: "pinguin-check-tcp",
            dependencies: [
                "PinguinCheckerKit", "PinguinWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            path: "Plugins/pinguin-check-tcp",
            swiftSettings: swiftSettings
        ),
        // ICMP echo over one shared socket per address family.
        .executableTarget(
            name: "pinguin-check-ping",
            dependencies: ["PinguinCheckerKit", "PinguinWire"],
            path: "Plugins/pinguin-check-ping",
            swiftSettings: swiftSettings
        ),

        // MARK: Tests: unit targets need no server, integration targets need the real ones.
        // A test target that starts a built executable (pinguind, pinguinctl, a plugin) depends on its
        // target, so that building the tests (even `swift build --target XTests`) links that binary
        // too and a test never runs a stale or missing one.
        .target(
            name: "PinguinTestSupport",
            dependencies: [
                "CPinguinShims",
                "PinguinPostgres",
                "PinguinPluginHost",
                "PinguinWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tests/PinguinTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinClientKitTests",
            dependencies: ["PinguinClientKit"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CPinguinShimsTests",
            dependencies: ["CPinguinShims", "CCurl", "CAres"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinPostgresTests",
            dependencies: ["PinguinPostgres"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinPostgresIntegrationTests",
            dependencies: ["PinguinPostgres", "PinguinTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinWireTests",
            dependencies: ["PinguinWire"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinControlPlaneTests",
            dependencies: [
                "PinguinControlPlane", "PinguinWire", "PinguinModel", "PinguinStore", "PinguinPostgres", "PinguinRedis", "PinguinIngester",
                "PinguinTestSupport", "pinguind", "pinguinctl",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinModelTests",
            dependencies: ["PinguinModel", "PinguinTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinStoreTests",
            dependencies: ["PinguinStore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinStoreIntegrationTests",
            dependencies: ["PinguinStore", "PinguinTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinNotifyTests",
            dependencies: ["PinguinNotify", "PinguinWire", "PinguinStore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinIngesterIntegrationTests",
            dependencies: ["PinguinIngester", "PinguinNotify", "PinguinStore", "PinguinScheduler", "PinguinPostgres", "PinguinWire", "PinguinModel", "PinguinTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinRedisTests",
            dependencies: ["PinguinRedis"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinSchedulerTests",
            dependencies: ["PinguinScheduler"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinSchedulerIntegrationTests",
            dependencies: ["PinguinScheduler", "PinguinStore", "PinguinPostgres", "PinguinRedis", "PinguinModel", "PinguinTestSupport", "pinguind"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinPluginHostTests",
            dependencies: ["PinguinPluginHost", "PinguinWire"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinSupervisorIntegrationTests",
            dependencies: [
                "PinguinSupervisor", "PinguinPluginHost", "PinguinRedis", "PinguinModel", "PinguinWire", "PinguinTestSupport",
                "PinguinStore", "PinguinPostgres", "PinguinScheduler", "pinguind", "pinguinctl", "pinguin-check-null", "pinguin-check-tcp",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinRedisIntegrationTests",
            dependencies: ["PinguinRedis", "PinguinTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinCheckerKitTests",
            dependencies: ["PinguinCheckerKit", "PinguinWire", "CPinguinShims", "pinguin-check-null"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinPluginConformanceTests",
            dependencies: ["PinguinPluginConformance", "PinguinPluginHost", "PinguinWire", "PinguinTestSupport", "pinguinctl", "pinguin-check-null"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinCheckTCPTests",
            dependencies: [
                "PinguinPluginHost", "PinguinWire", "PinguinTestSupport", "pinguin-check-tcp", "pinguinctl",
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinCheckPingTests",
            dependencies: [
                "PinguinPluginHost", "PinguinWire", "PinguinTestSupport", "pinguin-check-ping", "pinguinctl",
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinDNSTests",
            dependencies: ["PinguinDNS", "CAres"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinCheckDNSTests",
            dependencies: ["PinguinPluginHost", "PinguinWire", "PinguinTestSupport", "pinguin-check-dns", "pinguinctl", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinCheckHTTPTests",
            dependencies: [
                "CCurl", "PinguinPluginHost", "PinguinWire", "PinguinTestSupport", "pinguinctl",
                // CheckerDocsTests starts every built-in checker.
                "pinguin-check-http", "pinguin-check-tcp", "pinguin-check-dns", "pinguin-check-ping",
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PinguinctlTests",
            dependencies: ["PinguinctlKit", "PinguinWire"],
            swiftSettings: swiftSettings
        ),
    ]
)
