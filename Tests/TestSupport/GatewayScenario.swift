import Foundation
import Gateway
import Simulator
import Telemetry

/// A small one-city scenario in the Almaty climate for the gateway tests.
public func gatewayScenario(seed: UInt64 = 7, duration: String = "1d", faults: String = "") throws -> Scenario {
    try Scenario(yaml: gatewayScenarioYAML(seed: seed, duration: duration, faults: faults), file: "gateway-test.yaml")
}

public func gatewayScenarioYAML(seed: UInt64 = 7, duration: String = "1d", faults: String = "") -> String {
    testScenarioYAML(name: "gateway-test", seed: seed, duration: duration, cityFacts: """
            major-street-km: 12
            lit-street-km: 25
            water-network-km: 30
        """, fleets: """
              mobility: {count: 12, interval: 5m}
              lighting: {count: 30, interval: 15m, per-connection: 10}
              waste: {count: 20, interval: 1h, collection-every-days: 1}
              water: {count: 15, interval: 15m, network-sensors-per-district: 2, network-interval: 15m}
              environment: {count: 4, interval: 10m, connection: device}
        """, faults: faults)
}

/// The gateway's view of a scenario's cities.
public func facts(_ scenario: Scenario) -> [CityFacts] {
    scenario.cities.map(\.facts)
}

public func gatewayConfig(_ scenario: Scenario, lateness: Int64 = 3600) -> GatewayConfig {
    var config = GatewayConfig()
    config.cities = facts(scenario)
    config.roster = scenario.roster
    config.schema = scenario.schema
    config.indicators = scenario.indicators
    config.payloadFormats = scenario.payloadFormatRules
    config.topicMappings = scenario.topicMapping.map { [$0] } ?? []
    config.lateness = lateness
    return config
}

/// A gateway configuration that admits any device of these cities (each with placeholder
/// facts), for tests that make up their own topics.
public func openGatewayConfig(cities: [String] = ["almaty"]) -> GatewayConfig {
    var config = GatewayConfig()
    config.cities = cities.map { CityFacts(id: $0, population: 1_000_000, areaKm2: 500) }
    config.acceptUnknownDevices = true
    config.maxUnknownDevices = 1_000_000
    return config
}

/// Every message the simulator sends for a scenario, in send order.
public func simulated(_ scenario: Scenario, status: Bool = true) -> [SimMessage] {
    let generator = Generator(scenario: scenario, includeStatus: status)
    var out: [SimMessage] = []
    while generator.next() { out.append(generator.message) }
    return out
}

extension Aggregator {
    @discardableResult
    public func ingest(_ message: SimMessage, position: UInt64 = 0) -> IngestOutcome {
        ingest(topic: message.topicString, payload: message.payload, position: position)
    }

    public func ingest(_ topic: String, _ payload: String) -> IngestOutcome {
        ingest(topic: topic, payload: Array(payload.utf8))
    }
}

/// One aggregator over every message: its windows and indicator values as emitted, the open
/// windows last.
public func aggregated(_ messages: [SimMessage], _ config: GatewayConfig) throws -> (Aggregator, [WindowRecord], [IndicatorValue]) {
    let aggregator = try Aggregator(config: config)
    var windows: [WindowRecord] = [], values: [IndicatorValue] = []
    for m in messages {
        aggregator.ingest(m)
        let out = aggregator.drain()
        windows += out.windows
        values += out.indicators
    }
    aggregator.emitOpenWindows()
    let last = aggregator.drain()
    return (aggregator, windows + last.windows, values + last.indicators)
}

/// Closed windows by key, keeping the highest revision.
public func finalWindows(_ records: [WindowRecord]) -> [String: WindowRecord] {
    var out: [String: WindowRecord] = [:]
    for r in records {
        let key = "\(r.city)|\(r.domain)|\(r.district)|\(r.attribute)|\(r.resolution)|\(r.start)"
        if let old = out[key], old.revision > r.revision || (old.revision == r.revision && old.closed && !r.closed) { continue }
        out[key] = r
    }
    return out
}

public func finalIndicators(_ values: [IndicatorValue]) -> [String: IndicatorValue] {
    var out: [String: IndicatorValue] = [:]
    for v in values {
        let key = "\(v.city)|\(v.code)|\(v.resolution)|\(v.start)"
        if let old = out[key], old.revision > v.revision { continue }
        out[key] = v
    }
    return out
}
