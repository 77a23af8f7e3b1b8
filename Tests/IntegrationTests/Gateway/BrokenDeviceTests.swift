import Foundation
import Testing
import TestSupport

/// A city of a few thousand devices over five districts, large enough that a share of silent
/// devices is a sample of the fleet and not a handful.
func brokenDeviceScenarioYAML(silent: Double, lampFailures: Double = 0.02, duration: String = "1d", start: String = "2026-01-12T00:00:00+05:00") -> String {
    testScenarioYAML(name: "broken-devices", seed: 11, start: start, duration: duration, cityFacts: """
            major-street-km: 40
            lit-street-km: 120
            water-network-km: 200
        \(defaultCityFacts)
        """, fleets: """
              mobility: {count: 80, interval: 5m}
              lighting: {count: 600, interval: 15m, per-connection: 50, failures-per-1000h: \(lampFailures)}
              waste: {count: 300, interval: 1h, collection-every-days: 1}
              water: {count: 600, interval: 1h, network-sensors-per-district: 1, network-interval: 15m}
              environment: {count: 10, interval: 10m, connection: device}
        """, faults: silent > 0 ? "  - {kind: silent, share: \(silent)}\n" : "")
        .replacingOccurrences(of: "population: 20000\n    area-km2: 10", with: "population: 200000\n    area-km2: 60")
        .replacingOccurrences(of: "      - {id: south, share: 1}",
                              with: "      - {id: south, share: 2}\n      - {id: east, share: 2}\n      - {id: west, share: 1}\n      - {id: centre, share: 2}")
}

extension Integration {
    /// A city whose devices break is never the better for it: its totals are scaled from the
    /// devices that report (a water balance over the zones whose inflow meter reported, the
    /// lighting energy of the working lamps), and what the period cannot give is no data.
    @Suite(.serialized, .timeLimit(.minutes(10))) struct BrokenDeviceTests {
        /// Indicators that measure the devices themselves (the share reporting, monitored or
        /// equipped): they fall as devices break, and rightly so.
        static func isCoverage(_ column: String) -> Bool {
            column.hasPrefix("HEALTH_") || ["ISO37122_8_2", "U4SSC_EC_ICT_T_2C", "ISO37122_23_3", "ISO37122_7_6", "ISO37122_16_4", "U4SSC_EC_ICT_WS_1C"].contains(column)
        }

        struct Outcome {
            var indicators: [String: Double]
            var sci: Double
        }

        func run(_ yaml: String, in dir: String, _ name: String, extra: [String] = []) async throws -> Outcome {
            try yaml.write(toFile: dir + "/\(name).yaml", atomically: true, encoding: .utf8)
            let run = try ChildProcess(["run", dir + "/\(name).yaml", "--direct", "--out", dir + "/" + name, "--progress", "0"] + extra)
            #expect(await run.waitForExit() == 0, "\(name): \(run.output)")
            let table = try Integration.PathTests.table(dir + "/\(name)/indicators.csv")
            let index = try Integration.PathTests.table(dir + "/\(name)/index.csv")
            try #require(table.count == 2 && index.count == 2)
            var values: [String: Double] = [:]
            for (column, cell) in zip(table[0], table[1]) { if let v = Double(cell) { values[column] = v } }
            let sci = try #require(index[0].firstIndex(of: "SCI").flatMap { Double(index[1][$0]) })
            return Outcome(indicators: values, sci: sci)
        }

        func directory() throws -> String {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smartcity-broken-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            return dir
        }

        /// 0, 10, 20 and 40 % of every family silent for the day, and lamps failing at 1, 5 and
        /// 20 times the usual rate: the index never rises, every measured indicator stays within
        /// 5 % of the intact city's, and the coverage indicators fall.
        @Test func theIndexNeverRisesAsDevicesBreak() async throws {
            let dir = try directory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let intact = try await run(brokenDeviceScenarioYAML(silent: 0), in: dir, "intact")
            #expect(intact.indicators["ISO37120_23_7"].map { $0 > 5 } == true, "a water loss to compare: \(intact.indicators)")
            var previous = intact
            for share in [0.1, 0.2, 0.4] {
                let broken = try await run(brokenDeviceScenarioYAML(silent: share), in: dir, "silent-\(share)")
                #expect(broken.sci <= previous.sci + 1e-9, "silent \(share): SCI \(broken.sci) after \(previous.sci)")
                for (column, value) in intact.indicators where !Self.isCoverage(column) && column != "uCode" {
                    let got = try #require(broken.indicators[column], "silent \(share): \(column) missing")
                    #expect(abs(got - value) <= 0.05 * abs(value), "silent \(share): \(column) \(got) against \(value) intact")
                }
                #expect((broken.indicators["HEALTH_water_reporting"] ?? 100) < (previous.indicators["HEALTH_water_reporting"] ?? 100))
                previous = broken
            }
            previous = intact
            for factor in [5.0, 20.0] {
                let broken = try await run(brokenDeviceScenarioYAML(silent: 0, lampFailures: 0.02 * factor), in: dir, "lamps-\(Int(factor))")
                #expect(broken.sci <= previous.sci + 1e-9, "lamp failures x\(factor): SCI \(broken.sci) after \(previous.sci)")
                let energy = try #require(broken.indicators["ISO37120_7_6"]), want = try #require(intact.indicators["ISO37120_7_6"])
                #expect(abs(energy - want) <= 0.05 * want, "lamp failures x\(factor): lighting energy \(energy) against \(want)")
                #expect((broken.indicators["HEALTH_lighting_faulty"] ?? 0) > (previous.indicators["HEALTH_lighting_faulty"] ?? 0))
                previous = broken
            }
        }

        /// Two daylight hours hold no night and no collection round: the run's annual lighting
        /// energy and collected waste are no data (not 0, the best score) and it says why.
        @Test func aPeriodThatCannotGiveAFigureGivesNone() async throws {
            let dir = try directory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            _ = try await run(brokenDeviceScenarioYAML(silent: 0, duration: "2h", start: "2026-01-12T10:00:00+05:00"), in: dir, "short")
            let summary = try Integration.PathTests.json(dir + "/short/summary.json")
            let annual = try #require(summary["annual"] as? [String: String])
            #expect(annual["ISO37120:7.6"]?.contains("no data for almaty") == true && annual["ISO37120:16.2"]?.contains("no data for almaty") == true, "\(annual)")
            let index = try #require((summary["index"] as? [String: Any])?["cities"] as? [[String: Any]])
            let scores = try #require(index.first?["indicators"] as? [String: Any], "\(index)")
            #expect(scores["LIGHT"] == nil && scores["MSW"] == nil && scores["NO2"] != nil, "\(scores.keys.sorted())")
        }
    }
}
