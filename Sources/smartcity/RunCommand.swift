import ArgumentParser
import CityRun
import Foundation
import Gateway
import Logging
import Simulator
import Telemetry

/// `smartcity run`: the main job (`CityRun`) with its options from the command line.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulate a scenario through a broker into the gateway, compute the smart-city index and write the results.")

    @OptionGroup var options: ScenarioOptions

    @Option(help: "Broker URL; default: the scenario's, else a private embedded mosquitto.")
    var broker: String?

    @OptionGroup var credentials: BrokerCredentials

    @Option(help: "Output directory (indicators.csv, index.csv, summary.json, gateway.sqlite).")
    var out: String = "out"

    @Option(help: "The gateway's store: out/gateway.sqlite by default, or a PostgreSQL server as postgres://user@host:port/database, whose tables the run empties first.")
    var store: String?

    @Option(help: "The smart-city index definition (pillars, indicators, goalposts, SDG stages).")
    var index: String = "Config/index/smart-city.yaml"

    @Option(help: "Allowed lateness of the gateway's windows (messages of thousands of connections interleave).")
    var lateness: String = "1h"

    @Option(help: "Seconds between progress lines (0: none).")
    var progress: Double = 5

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .notice

    @Option(help: "How long the broker may be unreachable before the run gives it up and finishes, marked interrupted.")
    var brokerOutage: String = "60s"

    @Option(help: "Serve the gateway's live view (/), API and /metrics on this port while the run goes on (0 picks a free one; with a broker only).")
    var httpPort: Int?

    @Option(help: "Through a broker: the interval of the delivery time series (latency.csv, latency.json), e.g. 1s, 10s, 1m.")
    var latencyInterval: String = "1s"

    @Option(help: "Through a broker: time one message in this many (1: every message).")
    var latencySample: Int = 1

    @Flag(help: "No broker: the simulator's messages go straight into the gateway's byte-level ingest (a year of seasons in minutes).")
    var direct = false

    @Option(help: "No broker: the messages of this file (from 'smartcity simulate --output', jsonl) go into the gateway's ingest, each arriving at its send time; the scenario gives the ground truth and what was sent.")
    var recording: String?

    @Option(help: "With --direct or --recording: the finest windows stored, base, hour or day (a year of 15-minute windows is a large store).")
    var storeWindows: Resolution = .base

    @Option(help: "Through a broker: gateway instances that split the city by district (partitions) and merge their windows in a PostgreSQL store (--store).")
    var gateways: Int = 1

    func run() async throws {
        var (scenario, shard) = try options.load()
        try credentials.apply(to: &scenario.mqtt)
        guard let late = Durations.parse(lateness) else { throw ValidationError("--lateness: \(Durations.problem(lateness) ?? lateness)") }
        guard let outage = Durations.parse(brokerOutage), outage > 0 else {
            throw ValidationError("--broker-outage: \(Durations.problem(brokerOutage) ?? "'\(brokerOutage)' must be longer than 0 s")")
        }
        guard let interval = Durations.seconds(latencyInterval) else {
            throw ValidationError("--latency-interval: \(Durations.problem(latencyInterval) ?? latencyInterval), e.g. 1s or 1m")
        }
        if direct || recording != nil, gateways > 1 { throw ValidationError("--gateways splits the stream a broker delivers; leave out --direct and --recording") }
        if direct, recording != nil { throw ValidationError("--direct simulates the messages, --recording reads them from a file: give one of them") }
        let transport: RunTransport = if let recording { .recording(file: recording, storeWindows: storeWindows) }
            else if direct { .direct(storeWindows: storeWindows) } else { .broker(url: broker, gateways: gateways) }
        var settings = RunSettings(scenarioFile: options.scenario, transport: transport)
        settings.out = out
        settings.store = store
        settings.indexDefinition = index
        settings.lateness = late
        settings.progress = progress
        settings.logLevel = logLevel
        settings.brokerOutage = Double(outage)
        settings.httpPort = httpPort
        settings.latencyInterval = interval
        settings.latencySample = latencySample
        try await CityRun(scenario: scenario, shard: shard, settings: settings).run()
    }
}
