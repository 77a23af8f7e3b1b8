import EmbeddedBroker
import Foundation
import Gateway
import Logging
import MQTT
import Prometheus
import ServiceLifecycle
import Simulator
import Synchronization
import UnixSignals

/// The main job through a broker: the devices publish, one gateway (or the partitions that
/// share the city) subscribes, in one process; the delivery latency is probed on the way.
struct BrokerPath {
    let scenario: Scenario
    let shard: Shard
    let settings: RunSettings
    let generator: Generator
    /// The gateway's configuration, and each partition's when the city is split.
    let config: GatewayConfig
    let partitions: [GatewayConfig]
    let broker: String?

    func run(logger: Logger) async throws -> PathOutcome {
        let say = settings.say
        let (url, embedded) = try await brokerFor(broker ?? scenario.mqtt.broker, announce: "run: ")
        defer { embedded?.stop() }
        let registry = PrometheusCollectorRegistry()
        // One gateway, or the partitions that share the city (each its own journal and session).
        let services = try (partitions.isEmpty ? [config] : partitions).map { part in
            try GatewayService(config: part, store: try part.openStore(), logger: logger, metrics: PrometheusMetricsFactory(registry: registry))
        }
        let service = services[0]
        // The live view while the run goes on; stopped last, after the final flush.
        let api = settings.httpPort.map { HTTPAPI(service: service, registry: registry, host: "127.0.0.1", port: $0, logger: logger) }
        if let api {
            Task { if let bound = await api.boundPort() { say("run: the live view is at http://127.0.0.1:\(bound)/") } }
        }
        let probe = LatencyProbe(every: UInt64(settings.latencySample), interval: settings.latencyInterval)
        var connections: [ConnectionOptions] = []
        do {
            for gateway in services {
                gateway.onReceived = { probe.received($0) }
                var options = ConnectionOptions(url: url, clientID: gateway.config.clientID)
                // The gateway connects as the devices do: the scenario's credentials and TLS.
                scenario.mqtt.authenticate(&options, to: url)
                // It comes back with the broker, as the devices do; the devices' outage limit ends the run.
                options.reconnect = GatewayService.reconnectPolicy
                // Subscribed before the first device publishes.
                try await gateway.connect(broker: options)
                connections.append(options)
            }
        } catch {
            let hint = (error as? MQTTError).map(RunFailure.hint) ?? ""
            throw RunFailure("cannot reach the broker at \(url): \(error)\(hint); or leave out --broker to use a private one")
        }
        let publisher = try Publisher(generator: generator, broker: url)
        if let embedded {
            // The private broker takes a file per connection, and a few of its own.
            let files = publisher.connectionCount + 256
            let allowed = embedded.allowOpenFiles(files)
            if allowed < files {
                throw RunFailure("the private broker may open \(allowed) files, too few for \(publisher.connectionCount) connections; run as root, raise the hard limit (ulimit -Hn \(files)) or use --broker")
            }
        }
        publisher.onPublished = { probe.published($0, domain: $1) }
        publisher.outageLimit = .seconds(settings.brokerOutage)
        publisher.onBrokerEvent = { say("run: \($0)") }
        let connecting = try await publisher.connect()
        say("run: \(publisher.connectionCount) connections in \(fixed(connecting.seconds, 2)) s")
        // One group for the whole run: the simulation ends it when everything sent has arrived;
        // Ctrl-C (or SIGTERM) stops the publishing first, and what was sent is still aggregated,
        // flushed and written.
        let city = CitySimulation(generator: generator, publisher: publisher, gateways: services, progress: settings.progress, scenario: scenario)
        let group = ServiceGroup(configuration: .init(
            services: (api.map { [ServiceGroupConfiguration.ServiceConfiguration(service: $0.application)] } ?? [])
                + zip(services, connections).flatMap { $0.services(broker: $1) }.map { .init(service: $0) }
                + [.init(service: city, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        guard let (outcome, delivered) = city.result.withLock({ $0 }) else { throw RunFailure("the simulation ended before it finished publishing") }
        var simulation = RunSummary(scenario: scenario, shard: shard, stats: generator.stats, wallSeconds: outcome.publishSeconds)
        simulation.maximumLagSeconds = outcome.run.maximumLag
        simulation.unacknowledged = outcome.run.unacknowledged
        simulation.refusedByBroker = outcome.run.refusedByBroker
        simulation.takenOver = outcome.run.takenOver
        simulation.connections = publisher.connectionCount
        simulation.connectSeconds = connecting.seconds
        if scenario.load != nil { simulation.leftOutByLoadProfile = outcome.run.leftOut }
        let delivery = probe.series()
        try writeLatency(delivery)
        var counters = services.map { $0.counters().0 }.reduce(IngestCounters(), +)
        if !partitions.isEmpty {
            // The partitions stopped and wrote their open windows: the city-wide indicators of every window.
            let merged = try GatewayConfig.merge(config, partitions: partitions.count)
            say("run: merged \(merged) indicator values of \(partitions.count) gateways at the end")
            counters.indicatorsEmitted = service.mergedIndicators + Int64(merged)
        }
        return PathOutcome(store: service.store, counters: counters, simulation: simulation,
                           redeliveries: services.reduce(0) { $0 + $1.redeliveries }, interrupted: outcome.run.interrupted,
                           brokerLost: outcome.run.brokerLost, publisher: outcome.run, arrived: delivered, latency: probe.summary(),
                           delivery: delivery, deliveryOrigin: probe.wallOrigin.timeIntervalSince1970)
    }

    /// latency.csv and latency.json: the delivery time series.
    private func writeLatency(_ delivery: [LatencyProbe.Row]) throws {
        try LatencyProbe.csv(delivery).write(toFile: settings.out + "/latency.csv", atomically: true, encoding: .utf8)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        struct Series: Encodable { let intervalSeconds: Double; let sample: Int; let rows: [LatencyProbe.Row] }
        try encoder.encode(Series(intervalSeconds: settings.latencyInterval, sample: settings.latencySample, rows: delivery))
            .write(to: URL(fileURLWithPath: settings.out + "/latency.json"))
    }
}
