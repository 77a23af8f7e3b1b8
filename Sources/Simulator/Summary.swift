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

    /// The shards' summaries of one run added up into one balance: counts summed, the wall time
    /// the longest shard's (they run side by side), the rate over it, the worst lag. Refused
    /// when they come from different scenarios, seeds, periods or speeds, or when a shard
    /// appears twice; `shard` then says which of the whole were merged (`0,1,3/4`).
    public static func merge(_ parts: [RunSummary]) throws(SimulationError) -> RunSummary {
        guard var merged = parts.first else { throw SimulationError("no summaries to merge") }
        var shards: [Shard] = []
        for (i, part) in parts.enumerated() {
            guard let shard = Shard(parsing: part.shard) else { throw SimulationError("summary \(i + 1): shard '\(part.shard)' is not i/n") }
            for (what, mine, theirs) in [("scenario", part.scenario, merged.scenario), ("scenario hash", part.scenarioHash, merged.scenarioHash),
                                         ("seed", String(part.seed), String(merged.seed)), ("start", part.start, merged.start),
                                         ("end", part.end, merged.end), ("speed", part.speed, merged.speed)] where mine != theirs {
                throw SimulationError("summary \(i + 1) is of another run: its \(what) is \(mine), the first one's \(theirs); merge the shards of one run")
            }
            if let first = shards.first, first.count != shard.count {
                throw SimulationError("summary \(i + 1) is shard \(shard) of \(shard.count), the first one is of \(first.count); merge shards of one split")
            }
            if shards.contains(shard) { throw SimulationError("summary \(i + 1): shard \(shard) appears twice") }
            shards.append(shard)
            guard i > 0 else { continue }
            merged.devices += part.devices
            merged.messages += part.messages
            merged.statusMessages += part.statusMessages
            merged.telemetryByDomain.merge(part.telemetryByDomain, uniquingKeysWith: +)
            merged.faults.merge(part.faults, uniquingKeysWith: +)
            merged.payloadBytes += part.payloadBytes
            merged.wallSeconds = max(merged.wallSeconds, part.wallSeconds)
            func add(_ a: Int?, _ b: Int?) -> Int? { a == nil && b == nil ? nil : (a ?? 0) + (b ?? 0) }
            func most(_ a: Double?, _ b: Double?) -> Double? { a == nil && b == nil ? nil : max(a ?? 0, b ?? 0) }
            merged.maximumLagSeconds = most(merged.maximumLagSeconds, part.maximumLagSeconds)
            merged.unacknowledged = add(merged.unacknowledged, part.unacknowledged)
            merged.takenOver = add(merged.takenOver, part.takenOver)
            merged.connections = add(merged.connections, part.connections)
            merged.connectSeconds = most(merged.connectSeconds, part.connectSeconds)
            merged.leftOutByLoadProfile = add(merged.leftOutByLoadProfile, part.leftOutByLoadProfile)
            if let refused = part.refusedByBroker { merged.refusedByBroker = (merged.refusedByBroker ?? [:]).merging(refused, uniquingKeysWith: +) }
        }
        merged.messagesPerSecond = merged.wallSeconds > 0 ? Double(merged.messages) / merged.wallSeconds : 0
        let n = shards[0].count
        merged.shard = shards.count == n ? Shard.whole.description : shards.map(\.index).sorted().map(String.init).joined(separator: ",") + "/\(n)"
        return merged
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
