import CityRun
import Foundation
import Gateway
import MQTT
import Simulator
import Telemetry

/// A family defined in YAML against the built-in family it imitates: the air-quality station
/// (eight number attributes) and a twin of it with eight number attributes of its own, made
/// of the defined processes (Ornstein-Uhlenbeck around daily profiles, expressions, a random
/// walk). Same stations, interval and city; only the family differs.
enum DefinedFamilyBench {
    static func scenarios(stations: Int, duration: String) throws -> (builtIn: Scenario, defined: Scenario) {
        func yaml(_ fleets: String) -> String {
            """
            name: defined-bench
            seed: 7
            start: 2026-01-15T00:00:00+05:00
            duration: \(duration)
            device-types:
              - id: twin
                type: AirQualityTwin
                domain: environment
                code: ax
                interval: 5m
                attributes:
                  - {name: pm25, kind: number, unit: ug/m3, range: [0, 10000], decimals: 1, spread: 0.3,
                     generator: {ou: {mean: [60, 55, 50, 45, 45, 50, 60, 70, 75, 70, 60, 50, 45, 45, 45, 50, 60, 75, 90, 100, 95, 85, 75, 65], reversion: 0.33, sd: 12}}}
                  - {name: pm10, kind: number, unit: ug/m3, range: [0, 20000], decimals: 1, generator: {expression: "pm25 * 1.35 + 4"}}
                  - {name: no2, kind: number, unit: ug/m3, range: [0, 10000], decimals: 1, spread: 0.3,
                     generator: {ou: {mean: [20, 15, 12, 12, 15, 25, 45, 60, 55, 45, 40, 40, 40, 40, 45, 50, 60, 65, 55, 45, 35, 30, 25, 22], reversion: 0.33, sd: 8}}}
                  - {name: o3, kind: number, unit: ug/m3, range: [0, 10000], decimals: 1, generator: {expression: "max(2, 25 + 0.5 * max(0, elevation) - 0.35 * no2)"}}
                  - {name: co, kind: number, unit: mg/m3, range: [0, 1000], decimals: 2, generator: {expression: "0.3 + 0.01 * no2 + 0.004 * pm25"}}
                  - {name: temperature, kind: number, unit: Cel, range: [-90, 70], decimals: 1, noise: 0.2,
                     generator: {profile: [-9, -9, -10, -10, -10, -10, -9, -8, -7, -5, -3, -2, -1, -1, -1, -2, -3, -5, -6, -7, -7, -8, -8, -9]}}
                  - {name: relativeHumidity, kind: number, unit: /, range: [0, 1], decimals: 2, generator: {ou: {mean: 0.7, reversion: 0.5, sd: 0.08}}}
                  - {name: atmosphericPressure, kind: number, unit: hPa, range: [300, 1100], decimals: 1, generator: {random-walk: {start: 915, step: 0.4}}}
            cities:
              - id: almaty
                code: alm
                latitude: 43.24
                longitude: 76.89
                utc-offset: 5
                population: 2000000
                area-km2: 682
                road-km: 3096.8
                districts:
                  - {id: north, share: 2}
                  - {id: south, share: 1}
                fleets:
                  \(fleets)
            """
        }
        return (try Scenario(yaml: yaml("environment: {count: \(stations), interval: 5m, connection: device}"), file: "built-in bench"),
                try Scenario(yaml: yaml("twin: {count: \(stations), connection: device}"), file: "defined bench"))
    }

    /// Messages per second of `Generator` over the whole scenario.
    static func generationRate(_ scenario: Scenario) -> (rate: Double, messages: Int) {
        let clock = ContinuousClock()
        let began = clock.now
        let generator = Generator(scenario: scenario, includeStatus: false)
        var bytes = 0
        while generator.next() { bytes &+= generator.message.payload.count }
        return (Double(generator.stats.messages) / (clock.now - began).seconds, generator.stats.messages)
    }

    /// The scenario with every fleet writing `format`.
    static func written(_ scenario: Scenario, as format: PayloadFormat) -> Scenario {
        var s = scenario
        for c in s.cities.indices {
            s.cities[c].fleets.traffic?.fleet.payload = format
            s.cities[c].fleets.lighting?.fleet.payload = format
            s.cities[c].fleets.waste?.fleet.payload = format
            s.cities[c].fleets.water?.fleet.payload = format
            s.cities[c].fleets.environment?.fleet.payload = format
            for d in s.cities[c].fleets.defined.indices { s.cities[c].fleets.defined[d].fleet.payload = format }
        }
        return s
    }

    /// The gateway's ingest of the same readings in each payload format, against SenML in the
    /// same run.
    static func formats(_ scenario: Scenario) throws {
        print("bench payload formats: \(scenario.name), \(Durations.format(scenario.duration)) simulated, offline ingest on one core")
        var senml = 0.0
        for format in PayloadFormat.allCases {
            let r = try aggregationRate(written(scenario, as: format))
            guard r.rejected == 0 else { throw BenchDefinedError(description: "\(r.rejected) \(format.rawValue) messages rejected") }
            if format == .senml { senml = r.rate }
            print("  \(format.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(Int(r.rate)) msg/s, \(r.readings) readings; ratio to SenML \(fmt(r.rate / senml, 2))")
        }
    }

    /// Messages per second of the aggregator over the scenario's messages, generated beforehand.
    static func aggregationRate(_ scenario: Scenario) throws -> (rate: Double, readings: Int64, rejected: Int64) {
        let generator = Generator(scenario: scenario, includeStatus: false)
        var topics: [[UInt8]] = [], payloads: [[UInt8]] = []
        while generator.next() {
            topics.append(generator.message.topic)
            payloads.append(generator.message.payload)
        }
        var config = GatewayConfig(scenario: scenario)
        config.lateness = 3600
        let aggregator = try Aggregator(config: config)
        let clock = ContinuousClock()
        let began = clock.now
        for i in topics.indices {
            topics[i].withUnsafeBufferPointer { t in
                payloads[i].withUnsafeBufferPointer { p in _ = aggregator.ingest(topic: t, payload: p) }
            }
            if i % 65_536 == 0 { _ = aggregator.drain() }
        }
        aggregator.emitOpenWindows()
        _ = aggregator.drain()
        return (Double(topics.count) / (clock.now - began).seconds, aggregator.counters.readings, aggregator.counters.rejected)
    }

    /// Alternating rounds (built-in, defined, built-in, ...), the median of each ratio.
    static func run(stations: Int, duration: String, rounds: Int, generation: Bool, aggregation: Bool) throws {
        let (builtIn, defined) = try scenarios(stations: stations, duration: duration)
        func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
        print("bench defined family: \(stations) stations of 8 number attributes, \(duration) simulated, \(rounds) alternating rounds")
        if generation {
            var ratios: [Double] = [], rates: [(Double, Double)] = []
            for _ in 0..<rounds {
                let a = generationRate(builtIn), b = generationRate(defined)
                ratios.append(b.rate / a.rate)
                rates.append((a.rate, b.rate))
            }
            let m = rates.sorted { $0.1 / $0.0 < $1.1 / $1.0 }[rounds / 2]
            print("  generate:  built-in AirQualityObserved \(Int(m.0)) msg/s, defined AirQualityTwin \(Int(m.1)) msg/s; ratio defined / built-in \(fmt(median(ratios), 2)) (goal at least 0.5)")
        }
        if aggregation {
            var ratios: [Double] = [], rates: [(Double, Double)] = []
            for _ in 0..<rounds {
                let a = try aggregationRate(builtIn), b = try aggregationRate(defined)
                guard a.rejected == 0, b.rejected == 0 else { throw BenchDefinedError(description: "rejected readings: built-in \(a.rejected), defined \(b.rejected)") }
                ratios.append(b.rate / a.rate)
                rates.append((a.rate, b.rate))
            }
            let m = rates.sorted { $0.1 / $0.0 < $1.1 / $1.0 }[rounds / 2]
            print("  aggregate: built-in \(Int(m.0)) msg/s, defined \(Int(m.1)) msg/s; ratio defined / built-in \(fmt(median(ratios), 2)) (goal at least 0.5)")
        }
    }
}

struct BenchDefinedError: Error, CustomStringConvertible {
    var description: String
}
