import Foundation
import Simulator
import Telemetry

/// A small one-city scenario in the Almaty climate, as YAML, for the tests to vary.
/// `cityFacts` are the city's lines between its road length and its districts.
public func testScenarioYAML(name: String = "test", seed: UInt64 = 7, start: String = "2026-01-12T00:00:00+05:00", duration: String = "1d",
                             cityFacts: String = defaultCityFacts, fleets: String = defaultFleets, faults: String = "") -> String {
    """
    name: \(name)
    seed: \(seed)
    start: \(start)
    duration: \(duration)
    mqtt:
      qos: 1
    cities:
      - id: almaty
        code: alm
        latitude: 43.24
        longitude: 76.89
        utc-offset: 5
        population: 20000
        area-km2: 10
        road-km: 40
    \(cityFacts)
        districts:
          - {id: north, share: 2}
          - {id: south, share: 1}
        fleets:
    \(fleets)
    \(faults.isEmpty ? "" : "faults:\n" + faults)
    """
}

public let defaultCityFacts = """
    climate: {pm25-january: 75, pm25-july: 14, temperature-january: -5, temperature-july: 25, pressure: 915}
"""

public let defaultFleets = """
          mobility: {count: 12, interval: 5m}
          lighting: {count: 30, interval: 15m, per-connection: 10}
          waste: {count: 20, interval: 1h, collection-every-days: 2}
          water: {count: 15, interval: 1h, network-sensors-per-district: 2, network-interval: 15m}
          environment: {count: 4, interval: 10m, connection: device}
"""

public func scenario(_ yaml: String) throws -> Scenario { try Scenario(yaml: yaml, file: "test.yaml") }

/// One decoded telemetry message.
public struct DecodedMessage {
    public var topic: String
    public var device: String
    public var time: Int64
    public var sent: Double
    public var sequence: Int
    public var values: [String: Double]
    public var texts: [String: String]
    public var flags: [String: Bool]
    public var payload: [UInt8]
}

/// Every message of a run, in order.
public func messages(_ scenario: Scenario, shard: Shard = .whole, status: Bool = true) -> [SimMessage] {
    let generator = Generator(scenario: scenario, shard: shard, includeStatus: status)
    var out: [SimMessage] = []
    while generator.next() { out.append(generator.message) }
    return out
}

public func decode(_ message: SimMessage) -> DecodedMessage? {
    guard message.kind == .telemetry,
          let records = try? JSONSerialization.jsonObject(with: Data(message.payload)) as? [[String: Any]],
          let first = records.first, let bn = first["bn"] as? String, let bt = first["bt"] as? Double else { return nil }
    var reading = DecodedMessage(topic: message.topicString, device: String(bn.split(separator: ":")[3]), time: Int64(bt), sent: 0,
                          sequence: -1, values: [:], texts: [:], flags: [:], payload: message.payload)
    for record in records {
        guard let name = record["n"] as? String else { continue }
        if let v = (record["v"] as? Double) ?? (record["s"] as? Double) { reading.values[name] = v }
        if let s = record["vs"] as? String { reading.texts[name] = s }
        if let b = record["vb"] as? Bool { reading.flags[name] = b }
    }
    reading.sequence = Int(reading.values["seq"] ?? -1)
    reading.sent = reading.values["sent"] ?? 0
    return reading
}

public func readings(_ scenario: Scenario, domain: Domain? = nil) -> [DecodedMessage] {
    messages(scenario, status: false).filter { domain == nil || $0.domain == domain }.compactMap(decode)
}

/// Local hour (UTC+5) of a time.
public func localHour(_ time: Int64) -> Double { Double(((time + 5 * 3600) % 86400 + 86400) % 86400) / 3600 }
