import Foundation
import Telemetry

/// What a simulation run did, for the console and for `summary.json`.
public struct RunSummary: Codable, Sendable {
    public var scenario: String
    public var scenarioHash: String
    public var seed: UInt64
    public var shard: String
    public var start: String
    public var end: String
    public var speed: String
    public var devices: Int
    public var messages: Int
    public var statusMessages: Int
    public var telemetryByDomain: [String: Int]
    public var faults: [String: Int]
    public var payloadBytes: Int
    public var wallSeconds: Double
    public var messagesPerSecond: Double
    /// Broker runs only: how far the scheduler fell behind the offered rate.
    public var maximumLagSeconds: Double?
    public var unacknowledged: Int?
    /// Broker runs only: publishes the broker acknowledged with a failure (MQTT 5), by reason.
    public var refusedByBroker: [String: Int]?
    /// Broker runs only: losses of a connection soon after the broker accepted it, the second
    /// and later in a row: another client probably uses the same client id.
    public var takenOver: Int?
    /// Through a broker: the connections made and how long connecting them all took.
    public var connections: Int?
    public var connectSeconds: Double?
    /// Readings the load profile's active share kept from being sent.
    public var leftOutByLoadProfile: Int?

    public init(scenario: Scenario, shard: Shard, stats: SimulationStats, wallSeconds: Double) {
        self.scenario = scenario.name
        scenarioHash = scenario.hash
        seed = scenario.seed
        self.shard = shard.description
        start = Timestamps.format(scenario.start)
        end = Timestamps.format(scenario.start + scenario.duration)
        speed = scenario.speed.description
        devices = stats.devices
        messages = stats.messages
        statusMessages = stats.statuses
        telemetryByDomain = Dictionary(uniqueKeysWithValues: stats.telemetry.map { ($0.key.rawValue, $0.value) })
        faults = Dictionary(uniqueKeysWithValues: stats.faults.map { ($0.key.rawValue, $0.value) })
        payloadBytes = stats.bytes
        self.wallSeconds = wallSeconds
        messagesPerSecond = wallSeconds > 0 ? Double(stats.messages) / wallSeconds : 0
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}

extension Scenario {
    /// Devices per family and messages per simulated hour, for `smartcity validate`.
    public func fleetSummary() -> [(city: String, family: String, devices: Int, inventory: Int?, interval: Int64, perHour: Double, connections: Int)] {
        var rows: [(String, String, Int, Int?, Int64, Double, Int)] = []
        for city in cities {
            func add(_ family: String, _ fleet: FleetSettings, districts: Int) {
                let connections: Int
                switch fleet.connection {
                case .device: connections = fleet.count
                case .concentrator:
                    connections = fleet.perConnection == 0 ? min(districts, fleet.count)
                        : Generator.districtStarts(city, count: fleet.count).adjacentPairs().reduce(0) { total, pair in
                            total + (pair.1 - pair.0 + fleet.perConnection - 1) / fleet.perConnection
                        }
                }
                rows.append((city.id, family, fleet.count, fleet.inventory, fleet.interval, Double(fleet.count) * 3600 / Double(fleet.interval), connections))
            }
            let d = city.districts.count
            if let f = city.fleets.traffic { add("mobility (traffic counters)", f.fleet, districts: d) }
            if let f = city.fleets.lighting { add("lighting (poles)", f.fleet, districts: d) }
            if let f = city.fleets.waste { add("waste (containers)", f.fleet, districts: d) }
            if let f = city.fleets.water {
                add("water (meters)", f.fleet, districts: d)
                add("water (network sensors)", FleetSettings(count: f.networkSensorsPerDistrict * d, interval: f.networkInterval,
                                                             connection: f.fleet.connection, perConnection: f.fleet.perConnection), districts: d)
            }
            if let f = city.fleets.environment { add("environment (air quality)", f.fleet, districts: d) }
        }
        return rows
    }
}

extension Array {
    func adjacentPairs() -> [(Element, Element)] {
        guard count > 1 else { return [] }
        return (1..<count).map { (self[$0 - 1], self[$0]) }
    }
}
