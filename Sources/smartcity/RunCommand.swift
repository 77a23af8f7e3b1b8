import ArgumentParser
import Foundation
import Gateway
import PostgresStore
import Logging
import IndexEngine
import SmartCityIndex
import EmbeddedBroker
import MQTT
import Prometheus
import ServiceLifecycle
import UnixSignals
import Simulator
import Synchronization
import Telemetry

/// `smartcity run`: the city's devices publish through a broker into the gateway, in one
/// process; at the end the indicator table and a summary are written.
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

    @Option(help: "With --direct: the finest windows stored, base, hour or day (a year of 15-minute windows is a large store).")
    var storeWindows: Resolution = .base

    @Option(help: "Through a broker: gateway instances that split the city by district (partitions) and merge their windows in a PostgreSQL store (--store).")
    var gateways: Int = 1

    func run() async throws {
        var (scenario, shard) = try options.load()
        try credentials.apply(to: &scenario.mqtt)
        let definition = try SmartCityDefinition(contentsOf: index)
        guard let late = Durations.parse(lateness) else { throw ValidationError("--lateness: \(Durations.problem(lateness) ?? lateness)") }
        if let problem = scenario.latenessProblem(late, throughBroker: !direct) { throw ValidationError("--lateness \(lateness): \(problem)") }
        guard let outage = Durations.parse(brokerOutage), outage > 0 else {
            throw ValidationError("--broker-outage: \(Durations.problem(brokerOutage) ?? "'\(brokerOutage)' must be longer than 0 s")")
        }
        guard let interval = Durations.seconds(latencyInterval), interval >= 0.01, interval <= 86_400 else {
            throw ValidationError("--latency-interval: \(Durations.problem(latencyInterval) ?? "'\(latencyInterval)' must be between 10 ms and a day"), e.g. 1s or 1m")
        }
        guard latencySample >= 1 else { throw ValidationError("--latency-sample: \(latencySample) must be 1 (every message) or more") }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let local = out + "/gateway.sqlite"
        // A run starts from an empty store and journal.
        for suffix in ["", "-wal", "-shm", ".journal", ".journal.checkpoints.sqlite"] { try? FileManager.default.removeItem(atPath: local + suffix) }

        var config = GatewayConfig(scenario: scenario)
        config.store = store ?? local
        config.journal = local + ".journal"
        if config.storeIsServer { try PostgresStore.empty(url: config.store) }
        config.lateness = late
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
        let logger = LogSetup.logger("smartcity.run", level: logLevel)
        let clock = ContinuousClock()
        let began = clock.now
        let generator = Generator(scenario: scenario, shard: shard, includeStatus: true)
        let labels = try LabelSink(path: out + "/labels.csv", generator: generator, keep: true)
        let gateway: (store: any TelemetryStore, counters: IngestCounters, redeliveries: Int64)
        var simulation: RunSummary
        var interrupted = false, arrived = true, brokerLost = false
        var published: Int?, publishedReadings: Int?, refused = 0, held = 0, readingsRefused = 0, resent = 0
        var latency: LatencyProbe.Summary?
        var delivery: [LatencyProbe.Row] = []
        var deliveryOrigin = 0.0
        if direct, httpPort != nil { throw ValidationError("--http-port serves the live view of a run through a broker; leave out --direct or --http-port") }
        guard (1...64).contains(gateways) else { throw ValidationError("--gateways \(gateways): give 1 to 64 instances") }
        var partitions: [GatewayConfig] = []
        if gateways > 1 {
            guard !direct else { throw ValidationError("--gateways splits the stream a broker delivers; leave out --direct") }
            guard httpPort == nil else { throw ValidationError("--http-port serves one gateway's live view; leave it out with --gateways") }
            for k in 1...gateways {
                var part = config
                part.partition = Partition(index: k, count: gateways)
                part.journal = out + "/gateway-\(part.partition!.tag).journal"
                part.clientID += "-\(part.partition!.tag)"
                for suffix in ["", ".checkpoints.sqlite", ".checkpoints.sqlite-wal", ".checkpoints.sqlite-shm"] {
                    try? FileManager.default.removeItem(atPath: part.journalPath + suffix)
                }
                if let problem = part.partitionProblem { throw ValidationError("--gateways \(gateways): \(problem)") }
                partitions.append(part)
            }
        }
        if direct {
            let outcome = try DirectRun(generator: generator, config: config, keep: storeWindows, progress: progress, scenario: scenario).run()
            gateway = (outcome.store, outcome.counters, 0)
            simulation = RunSummary(scenario: scenario, shard: shard, stats: generator.stats, wallSeconds: outcome.seconds)
            interrupted = outcome.interrupted
        } else {
            let (url, embedded) = try await brokerFor(broker ?? scenario.mqtt.broker, announce: "run: ")
            defer { embedded?.stop() }
            let registry = PrometheusCollectorRegistry()
            // One gateway, or the partitions that share the city (each its own journal and session).
            let services = try (partitions.isEmpty ? [config] : partitions).map { part in
                try GatewayService(config: part, store: try part.openStore(), logger: logger, metrics: PrometheusMetricsFactory(registry: registry))
            }
            let service = services[0]
            // The live view while the run goes on; stopped last, after the final flush.
            let api = httpPort.map { HTTPAPI(service: service, registry: registry, host: "127.0.0.1", port: $0, logger: logger) }
            if let api {
                Task { if let bound = await api.boundPort() { print("run: the live view is at http://127.0.0.1:\(bound)/") } }
            }
            let probe = LatencyProbe(every: UInt64(latencySample), interval: interval)
            var connections: [ConnectionOptions] = []
            do {
                for gateway in services {
                    gateway.onReceived = { probe.received($0) }
                    var options = ConnectionOptions(url: url, clientID: gateway.config.clientID)
                    // The gateway connects as the devices do: the scenario's credentials and TLS (with the
                    // command line's over them, applied above).
                    scenario.mqtt.authenticate(&options, to: url)
                    // It comes back with the broker, as the devices do; the devices' outage limit ends the run.
                    options.reconnect = GatewayService.reconnectPolicy
                    // Subscribed before the first device publishes.
                    try await gateway.connect(broker: options)
                    connections.append(options)
                }
            } catch {
                let hint = (error as? MQTTError).map(SmartCity.hint) ?? ""
                throw RunFailure("cannot reach the broker at \(url): \(error)\(hint); or leave out --broker to use a private one")
            }
            let publisher = try Publisher(generator: generator, broker: url)
            if let embedded {
                // The private broker takes a file per connection, and a few of its own.
                let files = publisher.connectionCount + 256
                let allowed = embedded.allowOpenFiles(files)
                if allowed < files {
                    throw ValidationError("the private broker may open \(allowed) files, too few for \(publisher.connectionCount) connections; run as root, raise the hard limit (ulimit -Hn \(files)) or use --broker")
                }
            }
            publisher.onPublished = { probe.published($0, domain: $1) }
            publisher.outageLimit = .seconds(outage)
            publisher.onBrokerEvent = { print("run: \($0)") }
            let connecting = try await publisher.connect()
            print("run: \(publisher.connectionCount) connections in \(Simulate.fixed(connecting.seconds, 2)) s")
            // One group for the whole run: the simulation ends it when everything sent has arrived;
            // Ctrl-C (or SIGTERM) stops the publishing first, and what was sent is still aggregated,
            // flushed and written.
            let city = CitySimulation(generator: generator, publisher: publisher, gateways: services, progress: progress, scenario: scenario)
            let group = ServiceGroup(configuration: .init(
                services: (api.map { [ServiceGroupConfiguration.ServiceConfiguration(service: $0.application)] } ?? [])
                    + zip(services, connections).flatMap { $0.services(broker: $1) }.map { .init(service: $0) }
                    + [.init(service: city, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
            guard let (outcome, delivered) = city.result.withLock({ $0 }) else { throw RunFailure("the simulation ended before it finished publishing") }
            simulation = RunSummary(scenario: scenario, shard: shard, stats: generator.stats, wallSeconds: outcome.publishSeconds)
            simulation.maximumLagSeconds = outcome.run.maximumLag
            simulation.unacknowledged = outcome.run.unacknowledged
            simulation.refusedByBroker = outcome.run.refusedByBroker
            simulation.takenOver = outcome.run.takenOver
            simulation.connections = publisher.connectionCount
            simulation.connectSeconds = connecting.seconds
            if scenario.load != nil { simulation.leftOutByLoadProfile = outcome.run.leftOut }
            interrupted = outcome.run.interrupted
            brokerLost = outcome.run.brokerLost
            published = outcome.run.published
            refused = outcome.run.refused
            held = outcome.run.held
            readingsRefused = outcome.run.readingsRefusedByBroker
            resent = outcome.run.resent
            publishedReadings = outcome.run.publishedReadings
            arrived = delivered
            latency = probe.summary()
            delivery = probe.series()
            deliveryOrigin = probe.wallOrigin.timeIntervalSince1970
            try LatencyProbe.csv(delivery).write(toFile: out + "/latency.csv", atomically: true, encoding: .utf8)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            struct Series: Encodable { let intervalSeconds: Double; let sample: Int; let rows: [LatencyProbe.Row] }
            try encoder.encode(Series(intervalSeconds: interval, sample: latencySample, rows: delivery))
                .write(to: URL(fileURLWithPath: out + "/latency.json"))
            var counters = services.map { $0.counters().0 }.reduce(IngestCounters(), +)
            if !partitions.isEmpty {
                // The partitions stopped and wrote their open windows: the city-wide indicators of every window.
                let merged = try GatewayConfig.merge(config, partitions: gateways)
                print("run: merged \(merged) indicator values of \(gateways) gateways at the end")
                counters.indicatorsEmitted = service.mergedIndicators + Int64(merged)
            }
            gateway = (service.store, counters, services.reduce(0) { $0 + $1.redeliveries })
        }
        // Through a broker, what was handed to it (publishes refused on a connection that was
        // down never left); direct, everything generated.
        let sent = Int64(published ?? generator.stats.messages)
        let wall = (clock.now - began).seconds

        let labelCount = try labels.close(generator: generator)
        let names = Dictionary(uniqueKeysWithValues: scenario.cities.map { ($0.id, $0.name) })
        let means = try gateway.store.indicatorMeans(resolution: .day)
        let csv = try gateway.store.indicatorTable(means, names: names)
        try csv.write(toFile: out + "/indicators.csv", atomically: true, encoding: .utf8)
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
        // Lost is counted on readings (statuses come again after an outage) that the broker took.
        let readingsSent = Int64((publishedReadings ?? generator.stats.messages - generator.stats.statuses) - readingsRefused)
        var summary = RunOutcome(simulation: simulation, counters: gateway.counters, sent: sent, readings: readingsSent,
                                 copies: Int64(generator.stats.faults[.duplicate, default: 0]), arrived: arrived, wallSeconds: wall,
                                 indicators: try latestDaily(gateway.store), index: IndexOutcome(result))
        summary.interrupted = interrupted
        summary.labels = labelCount
        summary.detection = AlarmScore.score(alarms: try gateway.store.alarms(activeOnly: false, city: nil, kind: nil), labels: labels.labels)
        summary.brokerLost = brokerLost
        summary.telemetry.refused = Int64(refused)
        summary.telemetry.held = Int64(held)
        summary.telemetry.readingsRefusedByBroker = Int64(readingsRefused)
        summary.telemetry.redeliveries = gateway.redeliveries
        summary.telemetry.resentByDevices = Int64(resent)
        summary.latency = latency
        summary.path = direct ? "direct" : "broker"
        summary.annual = annual.methods
        summary.simulatedUntil = Timestamps.format(generator.simulatedTime)
        try summary.json().write(toFile: out + "/summary.json", atomically: true, encoding: .utf8)
        var html = try report(summary: summary, result: result, store: gateway.store, means: means, cities: scenario.cities.map(\.id))
        if !delivery.isEmpty {
            // The whole fleet's rates and latency against wall time, a point per interval.
            let whole = delivery.filter { $0.domain == "all" }
            func line(_ value: (LatencyProbe.Row) -> Double?) -> [(Int64, Double)] {
                whole.compactMap { row in value(row).map { (Int64((deliveryOrigin + row.elapsedSeconds) * 1000), $0) } }
            }
            html.delivery = (HTMLReport.Series(title: "Messages per second", unit: "msg/s",
                                               points: ["offered": line(\.offeredPerSecond), "delivered": line(\.deliveredPerSecond)]),
                             HTMLReport.Series(title: "Delivery latency", unit: "ms",
                                               points: ["p50": line(\.p50Ms), "p99": line(\.p99Ms), "max": line(\.maxMs)]))
        }
        try html.render().write(toFile: out + "/report.html", atomically: true, encoding: .utf8)
        print(summary.text())
        print("run: wrote \(out)/report.html, indicators.csv, index.csv, summary.json\(direct ? "" : ", latency.csv, latency.json"), labels.csv (\(labelCount) fault episodes and events) and the store \(config.store)")
        if brokerLost {
            throw RunFailure("the broker stayed unreachable for \(brokerOutage) (--broker-outage); the outputs cover what was sent until then and are marked interrupted")
        }
    }

    /// Indicators drawn over time in the report.
    static let charted = ["ISO37120:8.1", "U4SSC:EN:AQ:1C:NO2", "U4SSC:EC:I:T:5A", "ISO37120:7.6"]

    private func report(summary: RunOutcome, result: SmartCityResult, store: any TelemetryStore, means: [String: [String: Double]],
                        cities: [String]) throws -> HTMLReport {
        let sim = summary.simulation, t = summary.telemetry
        let settings: [(String, String)] = [
            ("scenario", "\(sim.scenario) (\(options.scenario))"), ("scenario hash", sim.scenarioHash), ("seed", String(sim.seed)),
            ("simulated", "\(sim.start) to \(summary.interrupted ? summary.simulatedUntil + " (interrupted)" : sim.end) at speed \(sim.speed)"),
            ("devices", String(sim.devices)), ("messages", "sent \(t.sent), received \(t.received), lost \(t.lost)\(t.readingsRefusedByBroker > 0 ? ", readings refused by the broker \(t.readingsRefusedByBroker)" : "")"),
            ("wall time", "\(Simulate.fixed(summary.wallSeconds, 1)) s (\(Int(summary.messagesPerSecond)) msg/s)"),
            ("delivery latency", summary.latency.map { "p50 \(Simulate.fixed($0.p50Ms, 1)) ms, p90 \(Simulate.fixed($0.p90Ms, 1)) ms, p99 \(Simulate.fixed($0.p99Ms, 1)) ms, max \(Simulate.fixed($0.maxMs, 1)) ms (\($0.samples) samples)" } ?? "-"),
            ("index definition", index), ("gateway lateness", lateness), ("path", summary.path),
        ] + summary.annual.sorted { $0.key < $1.key }.map { ("annual \($0.key)", $0.value) }
        let definitions = Dictionary(uniqueKeysWithValues: IndicatorCatalog.all.map { ($0.code, $0) })
        var series: [HTMLReport.Series] = []
        for code in Self.charted {
            var points: [String: [(Int64, Double)]] = [:]
            for city in cities {
                points[city] = try store.indicatorSeries(city: city, code: code, resolution: .hour, from: nil, to: nil).map { ($0.start, $0.value) }
            }
            series.append(HTMLReport.Series(title: definitions[code]?.name ?? code, unit: definitions[code]?.unit ?? "", points: points))
        }
        func average(_ slug: String) -> String {
            let values = cities.compactMap { means[$0]?[slug] }
            return values.isEmpty ? "-" : Simulate.fixed(values.reduce(0, +) / Double(values.count), 1)
        }
        var rows = Domain.allCases.map { d -> [String] in
            let sent = sim.telemetryByDomain[d.rawValue] ?? 0
            let accepted = t.acceptedByDomain[d.rawValue] ?? 0, duplicates = t.duplicatesByDomain[d.rawValue] ?? 0
            return [d.rawValue, String(sent), String(accepted), String(duplicates), String(t.lateByDomain[d.rawValue] ?? 0),
                    String(Int64(sent) - accepted - duplicates), average("HEALTH_\(d.rawValue)_reporting"), average("HEALTH_\(d.rawValue)_faulty")]
        }
        let readings = Int64(sim.messages - sim.statusMessages)
        rows.append(["all", String(readings), String(t.accepted), String(t.duplicates), String(t.late),
                     "\(readings - t.accepted - t.duplicates) (messages lost \(t.lost), invalid \(t.invalid), too late \(t.tooLate))", "", ""])
        var html = HTMLReport(title: "\(result.definition.indexName): \(sim.scenario)", settings: settings, result: result,
                              rankIntervals: try result.rankIntervals(seed: sim.seed), series: series,
                              health: (["domain", "readings sent", "accepted", "duplicates", "late (corrected a window)", "not accepted (lost, invalid, too late)",
                                        "devices reporting (%, daily mean)", "devices in fault (%)"], rows))
        // Alarms: the scores, and a timeline of alarms raised per hour by domain.
        var perHour: [String: [Int64: Double]] = [:]
        for alarm in try store.alarms(activeOnly: false, city: nil, kind: nil) {
            perHour[alarm.domain, default: [:]][alarm.raised / 3_600_000 * 3_600_000, default: 0] += 1
        }
        if !summary.detection.isEmpty || !perHour.isEmpty {
            func fixed(_ v: Double?) -> String { v.map { Simulate.fixed($0, 3) } ?? "-" }
            func seconds(_ v: Double?) -> String { v.map { "\(Int($0.rounded())) s" } ?? "-" }
            html.alarms = (["kind", "episodes", "alarms", "precision", "recall", "F1", "delay p50", "delay p95"],
                           summary.detection.map { [$0.kind, String($0.episodes), String($0.alarms), fixed($0.precision), fixed($0.recall), fixed($0.f1),
                                                    seconds($0.delayP50Seconds), seconds($0.delayP95Seconds)] },
                           HTMLReport.Series(title: "Alarms raised per hour", unit: "alarms",
                                             points: perHour.mapValues { $0.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }))
        }
        return html
    }

    /// Waits until the gateway received `count` messages, or nothing arrived for 30 s.

    private func latestDaily(_ store: any TelemetryStore) throws -> [String: [String: Double]] {
        var out: [String: [String: Double]] = [:]
        for row in try store.latestIndicators(city: nil, domain: nil) where row.resolution == Resolution.day.name {
            out[row.city, default: [:]][row.code] = row.value
        }
        return out
    }
}

/// What `smartcity run` writes to summary.json.
struct RunOutcome: Encodable {
    struct Telemetry: Encodable {
        var sent: Int64
        var received: Int64
        var accepted: Int64
        var duplicates: Int64
        var late: Int64
        var tooLate: Int64
        var invalid: Int64
        var invalidByReason: [String: Int64]
        var statusMessages: Int64
        /// Publishes refused because the device's connection was down (not sent).
        var refused: Int64 = 0
        /// Readings held while their connection was down (a broker outage) and sent when it was back.
        var held: Int64 = 0
        /// Duplicates that at-least-once delivery made across a lost broker connection (of
        /// readings that came before it; the rest of `duplicates` are the devices' own copies).
        var redeliveries: Int64 = 0
        /// Publishes the devices sent again after reconnecting (unacknowledged when their
        /// connection was lost): an upper bound of the copies their sessions made.
        var resentByDevices: Int64 = 0
        /// Readings the broker acknowledged with a failure (MQTT 5, e.g. an ACL's "Not
        /// authorized"): published, never delivered, not counted as lost.
        var readingsRefusedByBroker: Int64 = 0
        /// Sent but never received by the gateway (distinct messages: neither the duplicate fault's
        /// copies nor the broker's redeliveries make up for a lost one).
        var lost: Int64
        var allArrived: Bool
        var acceptedByDomain: [String: Int64]
        var duplicatesByDomain: [String: Int64]
        var lateByDomain: [String: Int64]
        var windowsEmitted: Int64
        var corrections: Int64
        var indicatorsEmitted: Int64
    }
    var simulation: RunSummary
    /// `broker` (through MQTT) or `direct` (straight into the gateway's ingest).
    var path = "broker"
    /// How each annual indicator of the index was obtained from the period the run covers.
    var annual: [String: String] = [:]
    /// True when the broker stayed unreachable past --broker-outage and the run gave it up.
    var brokerLost = false
    /// True when Ctrl-C ended the run early; the rest covers what was sent until then.
    var interrupted = false
    /// Fault episodes and city events in `labels.csv` (the ground truth).
    var labels = 0
    /// The gateway's alarms scored against the labels, per kind (see `AlarmScore`).
    var detection: [AlarmScore] = []
    var simulatedUntil = ""
    /// Publisher hand-off to gateway receipt, on a hash-chosen sample of the messages.
    var latency: LatencyProbe.Summary?
    var telemetry: Telemetry
    var wallSeconds: Double
    var messagesPerSecond: Double
    /// Newest daily value of every indicator per city.
    var indicators: [String: [String: Double]]
    var index: IndexOutcome

    /// `readings`: telemetry messages among `sent`; `copies`: those the duplicate fault sent
    /// twice (the gateway counts them as duplicates, as it counts the broker's redeliveries):
    /// what is lost is measured on distinct readings.
    init(simulation: RunSummary, counters: IngestCounters, sent: Int64, readings: Int64, copies: Int64, arrived: Bool, wallSeconds: Double,
         indicators: [String: [String: Double]], index: IndexOutcome) {
        self.index = index
        self.simulation = simulation
        telemetry = Telemetry(
            sent: sent, received: counters.received, accepted: counters.accepted, duplicates: counters.duplicates,
            late: counters.late, tooLate: counters.tooLate, invalid: counters.rejected,
            invalidByReason: Dictionary(uniqueKeysWithValues: RejectReason.allCases.filter { counters.invalid[$0] > 0 }.map { ($0.rawValue, counters.invalid[$0]) }),
            statusMessages: counters.statusMessages, lost: max(0, (readings - copies) - (counters.received - counters.duplicates - counters.statusMessages)), allArrived: arrived,
            acceptedByDomain: counters.acceptedByDomain.byName, duplicatesByDomain: counters.duplicatesByDomain.byName,
            lateByDomain: counters.lateByDomain.byName,
            windowsEmitted: counters.windowsEmitted, corrections: counters.corrections, indicatorsEmitted: counters.indicatorsEmitted)
        self.wallSeconds = wallSeconds
        messagesPerSecond = wallSeconds > 0 ? Double(sent) / wallSeconds : 0
        self.indicators = indicators
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    func text() -> String {
        let t = telemetry
        var lines = [
            interrupted ? "interrupted at simulated \(simulatedUntil); figures cover what was sent until then" : "",
            "scenario \(simulation.scenario) (hash \(simulation.scenarioHash)), seed \(simulation.seed): \(simulation.start) to \(simulation.end), \(simulation.devices) devices",
            "messages: sent \(t.sent), received \(t.received), lost \(t.lost)\(t.readingsRefusedByBroker > 0 ? ", readings refused by the broker \(t.readingsRefusedByBroker)" : ""); readings accepted \(t.accepted), duplicates \(t.duplicates)\(t.redeliveries > 0 ? " (re-sent across a broker outage \(t.redeliveries))" : ""), late \(t.late), too late \(t.tooLate), invalid \(t.invalid)",
            latency.map { "delivery latency (\($0.samples) samples): p50 \(Simulate.fixed($0.p50Ms, 1)) ms, p90 \(Simulate.fixed($0.p90Ms, 1)) ms, p99 \(Simulate.fixed($0.p99Ms, 1)) ms, max \(Simulate.fixed($0.maxMs, 1)) ms" } ?? "",
            "wall time \(Simulate.fixed(wallSeconds, 1)) s, \(Int(messagesPerSecond)) msg/s; windows \(t.windowsEmitted) + \(t.corrections) corrections, indicator values \(t.indicatorsEmitted)",
        ]
        if !detection.isEmpty {
            lines.append("alarms against the \(labels) labels (raised between an episode's start and its end + \(AlarmScore.tolerance / 60) min):")
            lines += detection.map { "  " + $0.line }
        }
        let pillars = index.pillars.map(\.code)
        let table = TextTable(["city", "stage"] + pillars + [index.code, "rank", "from telemetry"])
        for city in index.cities {
            let scores: [String] = pillars.map { p -> String in
                guard let v = city.pillars[p] else { return "-" }
                return Simulate.fixed(v, 1)
            }
            let total: String = city.score.map { Simulate.fixed($0, 1) } ?? "-"
            let rank: String = city.rank.map { String($0) } ?? "-"
            table.add([city.city, city.stage] + scores + [total, rank, city.telemetryShare.map { "\(Simulate.fixed($0 * 100, 0)) %" } ?? "-"])
        }
        lines.append("\(index.name) (pillars: " + index.pillars.map { "\($0.code) \($0.name)" }.joined(separator: "; ") + "):")
        lines.append(table.render())
        return lines.filter { !$0.isEmpty }.joined(separator: "\n")
    }
}

/// The index part of summary.json.
struct IndexOutcome: Encodable {
    struct Pillar: Encodable {
        var code: String
        var name: String
    }
    struct City: Encodable {
        var city: String
        var score: Double?
        var rank: Int?
        var pillars: [String: Double]
        /// Normalised 0-100 scores of the indicators.
        var indicators: [String: Double]
        /// Share of the index's score, and of each pillar's, from telemetry-derived indicators
        /// (the rest comes from static profile values).
        var telemetryShare: Double?
        var telemetrySharePillars: [String: Double]
        var stage: String
        var stageReasons: [String]
        var sdgsCovered: [String]
        var indicatorsAtTarget: Int
        var indicatorsMapped: Int
    }
    var code: String
    var name: String
    var pillars: [Pillar]
    var cities: [City]

    init(_ result: SmartCityResult) {
        let d = result.definition
        code = d.indexCode
        name = d.indexName
        pillars = d.pillars.map { Pillar(code: $0.code, name: $0.name) }
        cities = result.index.units.enumerated().map { u, city in
            let stage = result.stages.first { $0.city == city }
            var indicators: [String: Double] = [:]
            for (i, indicator) in d.indicators.enumerated() where !result.index.normalised[i][u].isNaN {
                indicators[indicator.code] = result.index.normalised[i][u]
            }
            let share = result.telemetryShare(city: city)
            return City(city: city, score: result.score(d.indexCode, city: city), rank: result.rank(city: city),
                        pillars: Dictionary(uniqueKeysWithValues: d.pillars.compactMap { p in result.score(p.code, city: city).map { (p.code, $0) } }),
                        indicators: indicators, telemetryShare: share.index, telemetrySharePillars: share.pillars, stage: stage?.stage ?? "", stageReasons: stage?.reasons ?? [],
                        sdgsCovered: stage?.sdgsCovered ?? [], indicatorsAtTarget: stage?.indicatorsAtTarget ?? 0,
                        indicatorsMapped: stage?.indicatorsMapped ?? 0)
        }
    }
}

/// Annual indicators from the run's daily windows. A run that covers a year gives them
/// directly (the mean of the daily values, each a day scaled to a year, is the year's total).
/// A shorter run scales its days to a year by a seasonal method, and says so:
/// - street-lighting energy follows the hours of darkness at the city's coordinates, so the
///   covered days are scaled by the year's darkness over theirs;
/// - collected waste is scaled by days (the waste model has no season).
struct AnnualFigures {
    let start: Int64
    let end: Int64
    var days: Double { Double(end - start) / 86_400 }
    var coversYear: Bool { end - start >= 365 * 86_400 }

    init(scenario: Scenario, until: Int64) {
        start = scenario.start
        end = max(scenario.start + 1, min(until, scenario.start + scenario.duration))
    }

    /// The darkness factor of a city: the year's mean darkness a day over the covered days'.
    func darknessFactor(_ city: City) -> Double {
        guard !coversYear else { return 1 }
        let covered = city.darkSeconds(from: start, to: end) / days
        let year = city.darkSeconds(from: start, to: start + 365 * 86_400) / 365
        return covered > 0 ? year / covered : 1
    }

    func adjust(_ row: inout [String: Double], city: City) {
        if let v = row["ISO37120_7_6"] { row["ISO37120_7_6"] = v * darknessFactor(city) }
    }

    var methods: [String: String] {
        let period = "\(Timestamps.format(start)) to \(Timestamps.format(end)) (\(Simulate.fixed(days, 2)) days)"
        if coversYear {
            return ["ISO37120:7.6": "a year of daily windows, \(period)", "ISO37120:16.2": "a year of daily windows, \(period)"]
        }
        return ["ISO37120:7.6": "\(period) scaled to a year by the hours of darkness at the city's coordinates (the year's mean night over the covered nights')",
                "ISO37120:16.2": "\(period) scaled to a year by days (no seasonal variation in the waste model)"]
    }
}
