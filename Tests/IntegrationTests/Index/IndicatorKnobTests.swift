import Foundation
import Testing
import TestSupport

extension Integration {
/// One scenario knob at a time, through the whole chain (simulate -> gateway ingest -> daily
/// indicators -> index, by `smartcity run --direct`): the indicator it drives and the index
/// must move the expected way. The same seed in every run, so only the knob differs.
@Suite(.serialized, .timeLimit(.minutes(10))) struct IndicatorKnobTests {
    struct Knobs {
        var leakage = 0.25
        var ledShare = 0.6
        var heatingSmog = 1.0
        var vehicles = 4700.0
        var lightsConnected = 0.6
    }

    struct Outcome {
        var indicators: [String: Double]
        var pillars: [String: Double]
        var index: Double
        var telemetryShare: Double
        var annual: [String: String]
    }

    /// A small Almaty in January: a Monday, so the day has its weekday peaks.
    func scenario(_ k: Knobs) -> String {
        testScenarioYAML(name: "knobs", seed: 11, start: "2026-01-12T00:00:00+05:00", duration: "1d", cityFacts: """
                major-street-km: 12
                lit-street-km: 30
                water-network-km: 40
                vehicles: \(k.vehicles)
                profile: {smes: 3000, hospital-visits: 100000, schoolchildren: 3000, broadband-coverage: 0.8, mobile-4g-coverage: 0.9, g20-policies: [open-data]}
                climate: {pm25-january: 45, pm25-july: 14, temperature-january: -5, temperature-july: 25, pressure: 915, heating-smog: \(k.heatingSmog), inversion-chance: 0.45}
            """, fleets: """
                  mobility: {inventory: 60, count: 60, interval: 5m, km-per-station: 0.1}
                  lighting: {inventory: 2000, connected-share: \(k.lightsConnected), interval: 2h, per-connection: 50, led-share: \(k.ledShare), failures-per-1000h: 0.08}
                  waste: {inventory: 200, connected-share: 0.5, interval: 1h, kg-per-capita-day: 0.56}
                  water: {inventory: 200, connected-share: 0.5, interval: 1h, network-sensors-per-district: 3, leakage: \(k.leakage)}
                  environment: {inventory: 8, count: 8, interval: 10m, connection: device}
            """)
    }

    func run(_ knobs: Knobs) async throws -> Outcome {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("knobs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try scenario(knobs).write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        let definition = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../Config/index/smart-city.yaml").standardized.path
        let run = try ChildProcess(["run", dir + "/s.yaml", "--direct", "--out", dir + "/out", "--progress", "0", "--index", definition])
        #expect(await run.waitForExit() == 0, "\(run.output)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/summary.json"))) as? [String: Any])
        let indicators = try #require((summary["indicators"] as? [String: Any])?["almaty"] as? [String: Double])
        let city = try #require(((summary["index"] as? [String: Any])?["cities"] as? [[String: Any]])?.first)
        return Outcome(indicators: indicators, pillars: try #require(city["pillars"] as? [String: Double]),
                       index: try #require(city["score"] as? Double), telemetryShare: try #require(city["telemetryShare"] as? Double),
                       annual: try #require(summary["annual"] as? [String: String]))
    }

    @Test func eachKnobMovesItsIndicatorAndTheIndex() async throws {
        let base = try await run(Knobs())
        #expect(base.telemetryShare > 0.5, "most of the index comes from telemetry: \(base.telemetryShare)")
        #expect(base.annual["ISO37120:7.6"]?.contains("scaled to a year by the hours of darkness") == true, "a day is not taken for a year")
        for pillar in ["MOB", "ENV", "UTL"] {
            let score = base.pillars[pillar] ?? -1
            #expect(score > 0 && score < 100, "\(pillar) is not clipped: \(score)")
        }

        var k = Knobs()
        k.leakage = 0.10
        let tight = try await run(k)
        #expect(tight.indicators["ISO37120:23.7"]! < base.indicators["ISO37120:23.7"]! - 5, "less leakage, less water lost")
        #expect(tight.indicators["ISO37120:23.7:MNF"]! < base.indicators["ISO37120:23.7:MNF"]!, "the night-flow estimate sees it too")
        #expect(tight.pillars["UTL"]! > base.pillars["UTL"]! && tight.index > base.index)

        k = Knobs()
        k.ledShare = 1.0
        let led = try await run(k)
        #expect(led.indicators["ISO37120:7.6"]! < base.indicators["ISO37120:7.6"]! * 0.8, "all-LED lighting uses less energy per km")
        #expect(led.pillars["UTL"]! > base.pillars["UTL"]! && led.index > base.index)

        k = Knobs()
        k.heatingSmog = 0
        let clean = try await run(k)
        #expect(clean.indicators["ISO37120:8.1"]! < base.indicators["ISO37120:8.1"]!, "no heating smog, less PM2.5")
        #expect(clean.pillars["ENV"]! > base.pillars["ENV"]! && clean.index > base.index)

        k = Knobs()
        k.vehicles = 4700 * 0.7
        let fewer = try await run(k)
        #expect(fewer.indicators["U4SSC:EC:I:T:5A"]! < base.indicators["U4SSC:EC:I:T:5A"]!, "30 % fewer vehicles, less peak delay")
        #expect(fewer.pillars["MOB"]! > base.pillars["MOB"]!)

        k = Knobs()
        k.lightsConnected = 0.3
        let unmanaged = try await run(k)
        #expect(abs(unmanaged.indicators["ISO37122:7.6"]! - 30) < 1, "managed lights follow the connected share of the poles")
        #expect(base.indicators["ISO37122:7.6"]! > 55)
        #expect(unmanaged.pillars["DIG"]! < base.pillars["DIG"]!)
    }
}
}
