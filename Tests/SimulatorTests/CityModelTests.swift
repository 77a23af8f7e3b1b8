import Foundation
@testable import Simulator
import Telemetry
import Testing
import TestSupport

/// The city models the indicators revealed: steady-state lamp failures, smooth heating smog,
/// inversions from the weather, pressure-driven leakage, fill-level collection.
@Suite struct CityModelTests {
    func context(_ yaml: String = testScenarioYAML()) throws -> CityContext {
        let s = try scenario(yaml)
        return CityContext(city: s.cities[0], index: 0, seed: s.seed)
    }

    @Test func lampFailuresStartInTheirSteadyState() throws {
        // A high failure rate so the share is large enough to compare: failed lamps at the first
        // reports are as many as a week later, not zero.
        let all = readings(try scenario(testScenarioYAML(duration: "8d", fleets: """
                  lighting: {count: 3000, interval: 2h, failures-per-1000h: 5}
            """)))
        func failedShare(_ day: Int) -> Double {
            let start = all[0].time + Int64(day) * 86400
            let sample = all.filter { $0.time >= start && $0.time < start + 86400 }
            return Double(sample.filter { $0.flags["lampFault"] == true || $0.texts["status"] == "defectiveLamp" }.count) / Double(sample.count)
        }
        let first = failedShare(0), later = (failedShare(6) + failedShare(7)) / 2
        #expect(later > 0.02, "the rate gives a visible share: \(later)")
        #expect(abs(first - later) < 0.3 * later, "first day \(first), a week on \(later)")
    }

    @Test func heatingSmogChangesSmoothlyOverTheDay() throws {
        let c = try context()
        let midnight = c.dayStart(1_768_176_000)
        var largest = 0.0
        for minute in 0..<1440 {
            let t = midnight + Int64(minute) * 60
            largest = max(largest, abs(c.heatingShape(t + 60) - c.heatingShape(t)))
        }
        #expect(largest < 0.01, "no step between hours: largest change in a minute \(largest)")
        #expect(c.heatingShape(midnight + 22 * 3600) > 0.9 && c.heatingShape(midnight + 14 * 3600) < 0, "evening high, afternoon low")
    }

    @Test func inversionsFollowTheWeather() throws {
        let c = try context(testScenarioYAML(cityFacts: "    climate: {inversion-chance: 0.45, temperature-january: -5, temperature-july: 25}"))
        // Every winter day of ten years.
        var inversion: [Int64] = [], clear: [Int64] = []
        let firstDay = c.localDay(1_767_225_600)  // 2026-01-01
        for year in 0..<10 {
            for d in 0..<60 {
                let day = firstDay + Int64(year * 365 + d)
                let noon = day * 86400 - c.offsetSeconds + 43200
                // The day's own strength, not the carry-over from the day before.
                if c.inversion(noon) > 0.5 * c.inversion(noon - 86400) + 1e-9 { inversion.append(day) } else { clear.append(day) }
            }
        }
        func mean(_ days: [Int64], _ f: (Int64) -> Double) -> Double { days.map(f).reduce(0, +) / Double(days.count) }
        let share = Double(inversion.count) / Double(inversion.count + clear.count)
        #expect(share > 0.3 && share < 0.55, "mid-winter inversion days: \(share)")
        #expect(mean(inversion, c.pressureAnomaly) > mean(clear, c.pressureAnomaly) + 2, "anticyclones")
        #expect(mean(inversion, c.wind) < mean(clear, c.wind), "calm days")
        #expect(mean(inversion, c.temperatureAnomaly) < mean(clear, c.temperatureAnomaly), "cold days")
        let noInversions = try context(testScenarioYAML(cityFacts: "    climate: {inversion-chance: 0}"))
        #expect(noInversions.inversion(1_767_225_600 + 10 * 86400) == 0)
    }

    @Test func leakageIsHighestAtNightAndFollowsPressure() throws {
        let s = try scenario(testScenarioYAML(fleets: """
                  water: {count: 40, interval: 1h, network-sensors-per-district: 2, leakage: 0.25, bursts-per-district-year: 0}
            """))
        let c = CityContext(city: s.cities[0], index: 0, seed: s.seed)
        let sensor = WaterNetworkSensor(settings: s.cities[0].fleets.water!, city: c, districtDaily: [100, 50])
        let midnight = c.dayStart(1_768_176_000)
        let night = sensor.flows(district: 0, at: midnight + 3 * 3600), morning = sensor.flows(district: 0, at: midnight + 8 * 3600)
        #expect(night.pressure > morning.pressure && night.leak > morning.leak, "night \(night), morning \(morning)")
        // At the 4-bar night pressure the leak is the scenario's share of the mean inflow.
        #expect(abs(night.leak / (100 / 86400.0) - 0.25 / 0.75) < 0.05)
        // The share lost is largest at night, when use is low and pressure high; over the day
        // it lies between the night's and the morning peak's.
        func share(_ f: (use: Double, leak: Double, burst: Double, pressure: Double)) -> Double { f.leak / (f.use + f.leak + f.burst) }
        var leak = 0.0, total = 0.0
        for minute in stride(from: 0, to: 1440, by: 5) {
            let f = sensor.flows(district: 0, at: midnight + Int64(minute) * 60)
            leak += f.leak
            total += f.use + f.leak + f.burst
        }
        #expect(share(night) > leak / total && leak / total > share(morning), "night \(share(night)), day \(leak / total), morning \(share(morning))")
        #expect(leak / total > 0.15 && leak / total < 0.35)
    }

    @Test func fillLevelRoundsEmptyOnlyFullEnoughContainers() throws {
        func emptyings(_ policy: String) throws -> (count: Int, belowThreshold: Int) {
            let all = readings(try scenario(testScenarioYAML(duration: "6d", fleets: """
                      waste: {count: 60, interval: 1h, fill-days: 2.5, collection-every-days: 2, \(policy)}
                """)))
            var last: [String: DecodedMessage] = [:]
            var count = 0, below = 0
            for reading in all {
                if let previous = last[reading.device], reading.values["dateLastEmptying"]! > previous.values["dateLastEmptying"]! {
                    count += 1
                    // The fill an hour before the round, plus at most an hour's growth.
                    if previous.values["fillingLevel"]! < 0.75 - 0.05 { below += 1 }
                }
                last[reading.device] = reading
            }
            return (count, below)
        }
        let scheduled = try emptyings("collection: schedule")
        let levelled = try emptyings("collection: fill-level, collection-threshold: 0.75")
        #expect(scheduled.belowThreshold > 20, "rounds on a schedule empty half-full containers too: \(scheduled)")
        #expect(levelled.belowThreshold == 0 && levelled.count > 30, "fill-level rounds empty only full-enough ones: \(levelled)")
    }

    @Test func moreVehiclesPerInhabitantLoadTheRoadsMore() throws {
        let base = try context(testScenarioYAML(cityFacts: "    vehicles: 4700"))
        let fewer = try context(testScenarioYAML(cityFacts: "    vehicles: 2350"))
        let peak = base.dayStart(1_768_176_000) + 8 * 3600 + 1800
        let ratio = fewer.trafficDemand(peak) / base.trafficDemand(peak)
        #expect(abs(ratio - pow(0.5, 0.3)) < 1e-9, "half the cars, demand x 0.5^0.3: \(ratio)")
    }
}
