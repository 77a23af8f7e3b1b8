// swift-tools-version: 6.1
import PackageDescription

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]
// The generator's per-message path touches class properties millions of times a second; its
// accesses are single-threaded by construction, so release builds skip the dynamic
// exclusivity checks there (debug builds and tests keep them).
let hotPath: [SwiftSetting] = upcoming + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "smartcity",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "smartcity", targets: ["smartcity"]),
        .library(name: "MQTT", targets: ["MQTT"]),
        .library(name: "IndexEngine", targets: ["IndexEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        // Plain C publisher/subscriber over libmosquitto: the baseline `bench mqtt` measures against.
        .target(
            name: "CMosquittoBaseline",
            linkerSettings: [.linkedLibrary("mosquitto")]
        ),
        // fork/exec with a parent-death signal, so a child broker never outlives the tool.
        .target(name: "CPlatform"),
        .target(
            name: "MQTT",
            dependencies: ["CMosquitto", "CPlatform"],
            swiftSettings: upcoming
        ),
        // A private mosquitto for tests, benchmarks and the tool's default runs.
        .target(name: "EmbeddedBroker", dependencies: ["MQTT", "CPlatform"], swiftSettings: upcoming),
        .target(name: "Telemetry", dependencies: ["CPlatform"], swiftSettings: hotPath),
        // The located YAML field reader every settings file is read with.
        .target(name: "YAMLReader", dependencies: ["Telemetry", "Yams"], swiftSettings: upcoming),
        .target(name: "Simulator", dependencies: ["Telemetry", "MQTT", "YAMLReader", "Yams"], swiftSettings: hotPath),
        .target(
            name: "Gateway",
            dependencies: [
                "Telemetry", "MQTT", "YAMLReader", "Yams",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: hotPath
        ),
        // The gateway's store on a PostgreSQL server (postgres-nio).
        .target(
            name: "PostgresStore",
            dependencies: [
                "Gateway", "Telemetry",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        // The composite-index pipeline (COINr's steps), for any units x indicators table.
        .target(name: "IndexEngine", dependencies: ["YAMLReader"], swiftSettings: upcoming),
        // The smart-city index on top of it: pillars, goalposts, SDG stages and the HTML report.
        .target(name: "SmartCityIndex", dependencies: ["IndexEngine", "YAMLReader"], swiftSettings: upcoming),
        // The main job: simulate, carry (in process or through a broker), aggregate, score, report.
        .target(
            name: "CityRun",
            dependencies: [
                "MQTT", "EmbeddedBroker", "Telemetry", "Simulator", "Gateway", "PostgresStore", "SmartCityIndex", "CPlatform",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "smartcity",
            dependencies: [
                "CityRun", "MQTT", "EmbeddedBroker", "Telemetry", "Simulator", "Gateway", "PostgresStore", "IndexEngine", "SmartCityIndex", "CMosquittoBaseline", "CPlatform",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming
        ),
        // The SenML reader and topic parser under libFuzzer (`make fuzz`); a plain build checks files.
        .executableTarget(name: "SenMLFuzz", dependencies: ["Telemetry"], swiftSettings: upcoming),
        // Scenarios and helpers the test targets share (public API only).
        .target(name: "TestSupport", dependencies: ["Gateway", "Simulator", "Telemetry"], path: "Tests/TestSupport", swiftSettings: upcoming),
        // Unit tests: no broker, no process, values in and values out.
        .testTarget(name: "MQTTTests", dependencies: ["MQTT"], swiftSettings: upcoming),
        .testTarget(name: "TelemetryTests", dependencies: ["Telemetry"], swiftSettings: upcoming),
        .testTarget(name: "SimulatorTests", dependencies: ["Simulator", "Telemetry", "TestSupport"], swiftSettings: upcoming),
        .testTarget(
            name: "GatewayTests",
            dependencies: ["Gateway", "Telemetry", "Simulator", "TestSupport"],
            swiftSettings: upcoming),
        .testTarget(name: "IndexEngineTests", dependencies: ["IndexEngine", "SmartCityIndex"], exclude: ["Fixtures"], swiftSettings: upcoming),
        // Integration tests: real mosquitto brokers, TLS certificates, the tool as a process.
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "MQTT", "EmbeddedBroker", "CMosquitto", "CPlatform", "Telemetry", "Simulator", "Gateway", "PostgresStore", "IndexEngine",
                "SmartCityIndex", "TestSupport", "CityRun",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: upcoming),
    ]
)
