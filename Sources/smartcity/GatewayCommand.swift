import ArgumentParser
import CityRun
import Foundation
import Gateway
import Logging
import Metrics
import Prometheus
import PostgresStore
import ServiceLifecycle
import UnixSignals
import MQTT
import Simulator
import Telemetry

/// `smartcity gateway`: ingest city telemetry, aggregate it into indicators, store and serve them.
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Ingest city telemetry, aggregate it into windows and indicators, store and serve them.",
        subcommands: [GatewayServe.self, GatewayReplay.self, GatewayExport.self, GatewayMerge.self],
        defaultSubcommand: GatewayServe.self)
}

struct GatewayOptions: ParsableArguments {
    @Option(help: "Gateway settings (YAML); see Config/gateway.yaml.")
    var config: String?

    @Option(help: "Take the cities' facts (population, area, street and network km, installed devices) from this scenario.")
    var scenario: String?

    @Option(help: "Store: a SQLite file, or a PostgreSQL server as postgres://user[:password]@host[:port]/database (overrides the config).")
    var store: String?

    @Option(help: "Base window length, e.g. 15m (overrides the config).")
    var window: String?

    @Option(help: "Allowed lateness, e.g. 15m (overrides the config).")
    var lateness: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func load() throws -> GatewayConfig {
        var config = try config.map { try GatewayConfig(contentsOf: $0) } ?? GatewayConfig()
        if let scenario {
            let loaded = try Scenario(contentsOf: scenario)
            config.adopt(loaded)
            // One source per city: a city the configuration lists too must say the same.
            for city in loaded.cities {
                guard let listed = config.city(city.id) else {
                    config.cities.append(city.facts)
                    config.roster.merge(city.roster)
                    continue
                }
                guard listed == city.facts else {
                    throw ValidationError("city '\(city.id)' is listed in \(self.config ?? "the configuration") and in \(scenario) with different facts; remove it from the configuration's 'cities' so the scenario alone defines it")
                }
            }
        }
        if let store { config.store = store }
        if let window {
            guard let w = Durations.parse(window), w > 0, 3600 % w == 0 else {
                throw ValidationError("--window '\(window)' must be a duration dividing an hour: 1m, 5m, 10m, 15m, 30m, 1h")
            }
            config.window = w
        }
        if let lateness {
            guard let l = Durations.parse(lateness) else { throw ValidationError("--lateness: \(Durations.problem(lateness) ?? lateness)") }
            config.lateness = l
        }
        return config
    }
}


struct GatewayServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Subscribe to the city topics and aggregate until stopped (SIGINT/SIGTERM flush and checkpoint).")

    @OptionGroup var options: GatewayOptions

    @Option(help: "Broker URL (mqtt://host:port, mqtts://host:8883).")
    var broker: String = "mqtt://127.0.0.1:1883"

    @OptionGroup var credentials: BrokerCredentials

    @Option(help: "MQTT client id: the broker keeps this id's persistent session while the gateway is down.")
    var clientID: String?

    @Option(help: "HTTP port for /metrics, /health and the API (0 picks a free one; overrides the config).")
    var httpPort: Int?

    @Flag(help: "Do not serve HTTP.")
    var noHTTP = false

    @Flag(help: "Do not publish indicators back over MQTT.")
    var noPublish = false

    @Option(help: "Seconds between console status lines (0: none).")
    var statusInterval: Double?

    @Option(help: "Seconds between checkpoints of the aggregation state.")
    var checkpointInterval: Double?

    @Option(help: "Share the cities with other gateways: this is instance k of n (e.g. 2/3); it takes every n-th district. Needs a PostgreSQL store.")
    var partition: String?

    @Option(help: "This instance's journal directory (default: beside a SQLite store; gateway[-pKofN].journal for a PostgreSQL one).")
    var journal: String?

    func run() async throws {
        var config = try options.load()
        if let partition {
            guard let p = Partition(parsing: partition) else { throw ValidationError("--partition '\(partition)': \(Partition.problem)") }
            config.partition = p
        }
        if let journal { config.journal = journal }
        if let clientID {
            config.clientID = clientID
        } else if let p = config.partition {
            config.clientID += "-\(p.tag)"
        }
        if let problem = config.partitionProblem { throw ValidationError(problem) }
        if let httpPort { config.httpPort = httpPort }
        if noHTTP { config.httpPort = nil }
        if noPublish { config.publishIndicators = false }
        if let statusInterval { config.statusInterval = statusInterval }
        if let checkpointInterval { config.checkpointInterval = checkpointInterval }
        let url = try BrokerURL(parsing: broker)
        let logger = LogSetup.logger("smartcity.gateway", level: options.logLevel)
        // Counters and gauges go to one Prometheus registry, which /metrics serves.
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let service = try GatewayService(config: config, store: try config.openStore(), logger: logger)
        var options = ConnectionOptions(url: url, clientID: config.clientID)
        try credentials.apply(to: &options, url: url)
        options.reconnect = GatewayService.reconnectPolicy
        // HTTP first in the list: the group stops it last, after the final flush.
        var services: [any Service] = []
        if let port = config.httpPort {
            var limits = HTTPAPI.Limits()
            limits.connections = config.httpMaxConnections
            limits.idleTimeout = .milliseconds(Int64(config.httpIdleTimeout * 1000))
            limits.requestTimeout = .milliseconds(Int64(config.httpRequestTimeout * 1000))
            let api = HTTPAPI(service: service, registry: registry, host: config.httpHost, port: port, limits: limits, logger: logger)
            services.append(api.application)
            Task { [host = config.httpHost] in
                if let bound = await api.boundPort() { logger.info("http://\(host):\(bound) serves /metrics, /health, /api/indicators") }
            }
        }
        services += service.services(broker: options)
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            throw RunFailure("gateway at \(url): \(error)")
        }
    }
}

struct GatewayReplay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Aggregate a message file written by 'smartcity simulate --output' into the store, without a broker.")

    @OptionGroup var options: GatewayOptions

    @Argument(help: "JSON-lines message file from 'smartcity simulate --output'.")
    var file: String

    func run() async throws {
        var config = try options.load()
        config.publishIndicators = false
        config.statusInterval = 0
        let service = try GatewayService(config: config, store: try config.openStore(), logger: LogSetup.logger("smartcity.gateway", level: options.logLevel))
        var count = 0
        // Each message arrives when it was sent: the city's clock follows the recording.
        try MessageFile.read(file) { topic, payload, sent in
            service.receive(topic: topic, payload: payload, arrivalMs: sent)
            count += 1
        }
        try service.flush(checkpoint: true, provisional: true)
        print("gateway: replayed \(count) messages from \(file) into \(config.store)")
        print(service.statusLine())
    }
}

struct GatewayMerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Compute the city-wide indicators of partitioned gateways from every window in their shared store (after they stopped).")

    @OptionGroup var options: GatewayOptions

    @Option(help: "How many partitions the gateways ran with (--partition k/n).")
    var partitions: Int

    func run() throws {
        let config = try options.load()
        guard config.storeIsServer else { throw ValidationError("--store: partitioned gateways share a PostgreSQL store; give its postgres:// URL") }
        guard partitions >= 1 else { throw ValidationError("--partitions must be 1 or more") }
        let merged = try GatewayConfig.merge(config, partitions: partitions)
        print("gateway merge: \(merged) indicator values of \(partitions) partitions written to \(config.store)")
    }
}

struct GatewayExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the indicator table (cities x indicators) that 'smartcity index' reads.")

    @Option(help: "SQLite store file.")
    var store: String = "gateway.sqlite"

    @Option(help: "Windows to average: window, hour or day.")
    var resolution: String = "day"

    @Option(help: "Output CSV file ('-' for standard output).")
    var output: String = "-"

    func run() throws {
        guard let r = Resolution(name: resolution) else { throw ValidationError("--resolution must be window, hour or day") }
        let source = try GatewayConfig.readStore(store)
        let csv = try source.indicatorTable(try source.indicatorMeans(resolution: r), names: [:])
        if output == "-" { print(csv, terminator: "") } else {
            try csv.write(toFile: output, atomically: true, encoding: .utf8)
            print("wrote \(output)")
        }
    }
}
