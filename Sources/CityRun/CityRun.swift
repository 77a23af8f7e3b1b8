import Foundation
import Gateway
import Logging
import MQTT
import PostgresStore
import Simulator
import SmartCityIndex
import Telemetry

/// The main job: a scenario's devices are simulated, carried to the gateway (in process or
/// through a broker, see `RunTransport`), aggregated into indicators, scored into the
/// smart-city index, and written out with a summary, the ground truth, the alarms' scores
/// and a report. Every path ends in the same steps, so the same scenario and seed give the
/// same numbers whichever carried the messages.
///
/// ```swift
/// var settings = RunSettings(scenarioFile: "Scenarios/almaty.yaml", transport: .direct(storeWindows: .base))
/// settings.out = "out/direct"
/// let outcome = try await CityRun(scenario: try Scenario(contentsOf: settings.scenarioFile), settings: settings).run()
/// print(outcome.index.cities.first?.score ?? .nan)
/// ```
public struct CityRun: Sendable {
    public let scenario: Scenario
    public let shard: Shard
    public let settings: RunSettings

    public init(scenario: Scenario, shard: Shard = .whole, settings: RunSettings) {
        self.scenario = scenario
        self.shard = shard
        self.settings = settings
    }

    /// Runs the job and writes its outputs to `settings.out`. Throws a `RunFailure` when the
    /// broker stayed away past the outage limit, after the outputs were written.
    @discardableResult
    public func run() async throws -> RunOutcome {
        try settings.check(scenario)
        let definition = try SmartCityDefinition(contentsOf: settings.indexDefinition)
        let out = settings.out
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let local = out + "/gateway.sqlite"
        // A run starts from an empty store and journal.
        for suffix in ["", "-wal", "-shm", ".journal", ".journal.checkpoints.sqlite"] { try? FileManager.default.removeItem(atPath: local + suffix) }
        let config = try gatewayConfig(local: local)
        let partitions = try partitionConfigs(config)
        var logger = Logger(label: "smartcity.run")
        logger.logLevel = settings.logLevel
        let clock = ContinuousClock()
        let began = clock.now
        let generator = Generator(scenario: scenario, shard: shard, includeStatus: true)
        let labels = try LabelSink(path: out + "/labels.csv", generator: generator, keep: true)
        let path: PathOutcome
        switch settings.transport {
        case .direct(let keep), .recording(_, let keep):
            let outcome = try DirectRun(generator: generator, config: config, keep: keep, progress: settings.progress, scenario: scenario,
                                        recording: settings.transport.recordingFile).run()
            path = PathOutcome(store: outcome.store, counters: outcome.counters,
                               simulation: RunSummary(scenario: scenario, shard: shard, stats: generator.stats, wallSeconds: outcome.seconds),
                               interrupted: outcome.interrupted)
        case .broker(let url, _):
            path = try await BrokerPath(scenario: scenario, shard: shard, settings: settings, generator: generator, config: config,
                                        partitions: partitions, broker: url).run(logger: logger)
        }
        let wall = (clock.now - began).seconds
        let labelCount = try labels.close(generator: generator)
        let names = Dictionary(uniqueKeysWithValues: scenario.cities.map { ($0.id, $0.name) })
        let store = path.store
        let means = try store.indicatorMeans(resolution: .day)
        try store.indicatorTable(means, names: names).write(toFile: out + "/indicators.csv", atomically: true, encoding: .utf8)
        var table = means
        let annual = AnnualFigures(scenario: scenario, until: generator.simulatedTime)
        for city in scenario.cities {
            annual.adjust(&table[city.id, default: [:]], city: city)
            table[city.id, default: [:]].merge(city.profileIndicators) { $1 }
        }
        let result = try definition.evaluate(
            cities: scenario.cities.map(\.id), names: names, table: table,
            governance: Dictionary(uniqueKeysWithValues: scenario.cities.map { ($0.id, $0.profile.sdgGovernance.count) }))
        try result.csv().write(toFile: out + "/index.csv", atomically: true, encoding: .utf8)
        var summary = RunOutcome(simulation: path.simulation, balance: MessageBalance(path: path, generator: generator),
                                 counters: path.counters, wallSeconds: wall, indicators: try latestDaily(store), index: IndexOutcome(result),
                                 publisher: path.publisher, arrived: path.arrived)
        summary.interrupted = path.interrupted
        summary.brokerLost = path.brokerLost
        summary.labels = labelCount
        summary.detection = AlarmScore.score(alarms: try store.alarms(activeOnly: false, city: nil, kind: nil), labels: labels.labels)
        summary.latency = path.latency
        summary.path = settings.transport.name
        summary.annual = annual.methods(scenario.cities)
        summary.simulatedUntil = Timestamps.format(generator.simulatedTime)
        try summary.json().write(toFile: out + "/summary.json", atomically: true, encoding: .utf8)
        let report = RunReport(settings: settings, summary: summary, result: result, store: store, means: means, cities: scenario.cities.map(\.id))
        try report.html(delivery: path.delivery, origin: path.deliveryOrigin).render().write(toFile: out + "/report.html", atomically: true, encoding: .utf8)
        settings.say(summary.text())
        settings.say("run: wrote \(out)/report.html, indicators.csv, index.csv, summary.json\(settings.transport.isDirect ? "" : ", latency.csv, latency.json"), labels.csv (\(labelCount) fault episodes and events) and the store \(config.store)")
        if path.brokerLost {
            throw RunFailure("the broker stayed unreachable for \(Durations.format(Int64(settings.brokerOutage.rounded()))) (--broker-outage); the outputs cover what was sent until then and are marked interrupted")
        }
        return summary
    }

    /// The gateway's configuration for this run: the scenario's cities and devices, the run's
    /// store, journal and lateness.
    private func gatewayConfig(local: String) throws -> GatewayConfig {
        var config = GatewayConfig(scenario: scenario)
        config.store = settings.store ?? local
        config.journal = local + ".journal"
        if config.storeIsServer { try PostgresStore.empty(url: config.store) }
        config.lateness = settings.lateness
        // The gateway's clock runs on arrival at real-time pace; a faster simulation moves its
        // event time that much faster, so after a pause (a broker outage) a reading may be
        // ahead by as much as the speed times the pause: the skew allowed grows with the speed.
        config.maxSkew = switch scenario.speed {
        case .max: 7 * 86_400
        case .factor(let x): min(7 * 86_400, Int64((3600 * max(1, x)).rounded()))
        }
        config.httpPort = nil
        config.statusInterval = 0
        config.clientID = "smartcity-run-gateway"
        return config
    }

    /// The partitions' configurations when the broker's stream goes to several gateways.
    private func partitionConfigs(_ config: GatewayConfig) throws -> [GatewayConfig] {
        guard case .broker(_, let gateways) = settings.transport, gateways > 1 else { return [] }
        return try (1...gateways).map { k in
            var part = config
            part.partition = Partition(index: k, count: gateways)
            part.journal = settings.out + "/gateway-\(part.partition!.tag).journal"
            part.clientID += "-\(part.partition!.tag)"
            for suffix in ["", ".checkpoints.sqlite", ".checkpoints.sqlite-wal", ".checkpoints.sqlite-shm"] {
                try? FileManager.default.removeItem(atPath: part.journalPath + suffix)
            }
            if let problem = part.partitionProblem { throw RunFailure("--gateways \(gateways): \(problem)") }
            return part
        }
    }

    private func latestDaily(_ store: any TelemetryStore) throws -> [String: [String: Double]] {
        var out: [String: [String: Double]] = [:]
        for row in try store.latestIndicators(city: nil, domain: nil) where row.resolution == Resolution.day.name {
            out[row.city, default: [:]][row.code] = row.value
        }
        return out
    }
}
