import Foundation
@testable import Simulator
import Telemetry
import Testing
import TestSupport

@Suite struct DeviceModelTests {
    /// Sunrise and sunset (geometric, sun centre at the horizon) by the textbook sunrise
    /// equation, independent of the simulator's solar code: declination from the day of year,
    /// the equation of time from its two-term fit.
    func sunriseSunset(dayStart: Int64, latitude: Double, longitude: Double, utcOffset: Double) -> (Double, Double) {
        let dayOfYear = Double(((dayStart + 43200) / 86400 - 20454 + 365 * 10) % 365) // 2026-01-01 is day 20454
        let b = 2 * Double.pi * (dayOfYear - 81) / 364
        let equation = 9.87 * sin(2 * b) - 7.53 * cos(b) - 1.5 * sin(b)
        let declination = -23.44 * cos(2 * Double.pi * (dayOfYear + 10) / 365) * Double.pi / 180
        let phi = latitude * Double.pi / 180
        let hourAngle = acos(-tan(phi) * tan(declination)) * 180 / Double.pi
        let noon = Double(dayStart) + (12 * 60 + (utcOffset * 15 - longitude) * 4 - equation) * 60
        return (noon - hourAngle * 240, noon + hourAngle * 240)
    }

    @Test(arguments: ["2026-01-12T00:00:00+05:00", "2026-06-15T00:00:00+05:00"])
    func lightsBurnOnlyBetweenDuskAndDawn(start: String) throws {
        let s = try scenario(testScenarioYAML(start: start, duration: "2d", fleets: """
                  lighting: {count: 40, interval: 10m}
            """))
        let all = readings(s)
        #expect(all.count > 40 * 200)
        var checked = (on: 0, off: 0)
        for reading in all {
            let dayStart = reading.time - Int64(localHour(reading.time) * 3600)
            let (rise, set) = sunriseSunset(dayStart: dayStart, latitude: 43.24, longitude: 76.89, utcOffset: 5)
            let t = Double(reading.time)
            let state: Bool? = reading.flags["powerState"]
            guard let on = state else { Issue.record("no powerState in \(reading.topic)"); continue }
            if t > rise + 600, t < set - 600 {
                #expect(!on, "light on in daylight at \(Timestamps.format(reading.time))")
                #expect(reading.values["powerConsumption"]! < 2)
                checked.off += 1
            } else if t < rise - 3600 || t > set + 3600 {
                #expect(on, "light off at night at \(Timestamps.format(reading.time))")
                checked.on += 1
            }
        }
        #expect(checked.on > 1000 && checked.off > 1000)
        // Energy meters never run backwards; they grow faster at night.
        var last: [String: Double] = [:]
        for reading in all {
            let energy = try #require(reading.values["energy"])
            if let previous = last[reading.device] { #expect(energy >= previous) }
            last[reading.device] = energy
        }
    }

    @Test func januaryNightsAreLongerThanJuneNights() throws {
        func litShare(_ start: String) throws -> Double {
            let all = readings(try scenario(testScenarioYAML(start: start, duration: "1d", fleets: """
                      lighting: {count: 20, interval: 10m}
                """)))
            return Double(all.filter { $0.flags["powerState"] == true }.count) / Double(all.count)
        }
        let january = try litShare("2026-01-12T00:00:00+05:00")
        let june = try litShare("2026-06-15T00:00:00+05:00")
        // About 15 h of darkness in January and 9 h in June at 43 N.
        #expect(january > 0.55 && january < 0.7)
        #expect(june > 0.3 && june < 0.45)
    }

    @Test func weekdayTrafficPeaksInTheMorningAndEvening() throws {
        // 2026-01-12 is a Monday; five weekdays.
        let all = readings(try scenario(testScenarioYAML(start: "2026-01-12T00:00:00+05:00", duration: "5d", fleets: """
                  mobility: {count: 30, interval: 5m, incidents-per-day: 0}
            """)))
        var sum = [Double](repeating: 0, count: 24)
        var n = [Double](repeating: 0, count: 24)
        for reading in all {
            let hour = Int(localHour(reading.time))
            sum[hour] += reading.values["intensity"]!
            n[hour] += 1
        }
        let mean = (0..<24).map { sum[$0] / max(1, n[$0]) }
        let morningPeak = (5..<12).max { mean[$0] < mean[$1] }!
        let eveningPeak = (14..<23).max { mean[$0] < mean[$1] }!
        #expect((7...9).contains(morningPeak), "morning peak at \(morningPeak) h")
        #expect((17...19).contains(eveningPeak), "evening peak at \(eveningPeak) h")
        #expect(mean[morningPeak] > 4 * mean[3])
        #expect(mean[12] < mean[morningPeak] && mean[12] < mean[eveningPeak])
        // Counts are over-dispersed: variance above the mean within an hour slot.
        let slot = all.filter { Int(localHour($0.time)) == 8 }.map { $0.values["intensity"]! }
        let m = slot.reduce(0, +) / Double(slot.count)
        let variance = slot.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(slot.count - 1)
        #expect(variance > m)
        // Speed falls as the segment fills: the peak hour is slower than the night.
        func speed(_ hour: Int) -> Double {
            let v = all.filter { Int(localHour($0.time)) == hour }.map { $0.values["averageVehicleSpeed"]! }
            return v.reduce(0, +) / Double(v.count)
        }
        #expect(speed(8) < speed(3) - 5)
    }

    @Test func incidentsCongestSegments() throws {
        let all = readings(try scenario(testScenarioYAML(duration: "2d", fleets: """
                  mobility: {count: 20, interval: 5m, incidents-per-day: 4}
            """)))
        let congested = all.filter { $0.flags["congested"] == true }
        #expect(!congested.isEmpty)
        let freeSpeed = all.filter { $0.flags["congested"] == false }.map { $0.values["averageVehicleSpeed"]! }
        let jamSpeed = congested.map { $0.values["averageVehicleSpeed"]! }
        let jamMean: Double = jamSpeed.reduce(0, +) / Double(jamSpeed.count)
        let freeMean: Double = freeSpeed.reduce(0, +) / Double(freeSpeed.count)
        #expect(jamMean < freeMean)
        for reading in congested {
            let occupancy: Double = reading.values["occupancy"]!
            let speed: Double = reading.values["averageVehicleSpeed"]!
            #expect(occupancy > 0.3 || speed < 40)
        }
    }

    /// Light traffic does not hide an incident: vehicles pass its site slowly at night too,
    /// which the road's own night readings never do without one.
    @Test func trafficPassesAnIncidentSlowlyEvenAtNight() throws {
        func slowNightReadings(incidents: Int) throws -> Int {
            let all = readings(try scenario(testScenarioYAML(duration: "3d", fleets: """
                      mobility: {count: 20, interval: 5m, incidents-per-day: \(incidents)}
                """)))
            var speeds: [String: [Double]] = [:]
            for r in all { speeds[r.device, default: []].append(r.values["averageVehicleSpeed"]!) }
            let typical = speeds.mapValues { $0.sorted()[$0.count / 2] }
            return all.filter { r in
                (1..<5).contains(Int(localHour(r.time))) && r.values["intensity"]! > 0
                    && r.values["averageVehicleSpeed"]! < 0.5 * typical[r.device]!
            }.count
        }
        #expect(try slowNightReadings(incidents: 0) == 0)
        #expect(try slowNightReadings(incidents: 6) > 20)
    }

    @Test func binsFillMonotonicallyAndResetAtCollection() throws {
        let all = readings(try scenario(testScenarioYAML(duration: "6d", fleets: """
                  waste: {count: 30, interval: 1h, fill-days: 1.5, collection-every-days: 3}
            """)))
        var last: [String: DecodedMessage] = [:]
        var resets = 0
        var overflowing = 0
        for reading in all {
            let fill = reading.values["fillingLevel"]!
            #expect(fill >= 0 && fill <= 1)
            if fill == 1 {
                overflowing += 1
                #expect(reading.texts["status"] == "lidOpen" || reading.texts["status"] == "burning" || reading.texts["status"] == "dropped")
            }
            if let previous = last[reading.device] {
                if reading.values["dateLastEmptying"]! > previous.values["dateLastEmptying"]! {
                    resets += 1
                    #expect(fill < 0.2, "fill \(fill) right after a collection")
                    #expect(fill < previous.values["fillingLevel"]!)
                } else {
                    #expect(fill >= previous.values["fillingLevel"]!, "\(reading.device) lost waste without a collection")
                }
            }
            last[reading.device] = reading
        }
        #expect(resets >= 30)
        #expect(overflowing > 0)
    }

    @Test func waterTotalsNeverDecreaseAndInflowExceedsUse() throws {
        let s = try scenario(testScenarioYAML(duration: "3d", fleets: """
                  water: {count: 40, interval: 1h, network-sensors-per-district: 2, network-interval: 15m, leakage: 0.25, bursts-per-district-year: 0}
            """))
        let all = readings(s)
        var last: [String: Double] = [:]
        var metered = 0.0
        var inflow = 0.0
        var firstInflow: [String: Double] = [:]
        for reading in all {
            if let total = reading.values["waterConsumption"] {
                if let previous = last[reading.device] {
                    // A five-digit register rolls over at 100,000 m3.
                    let step = total >= previous ? total - previous : total + WaterMeter.rollover - previous
                    #expect(step >= 0 && step < 500, "\(reading.device) went from \(previous) to \(total)")
                    metered += step
                }
                last[reading.device] = total
            }
            if let total = reading.values["inflow"] {
                if firstInflow[reading.device] == nil { firstInflow[reading.device] = total }
                if let previous = last[reading.device] {
                    #expect(total >= previous)
                    inflow += total - previous
                }
                last[reading.device] = total
            }
        }
        // Night use is lower than evening use.
        let night = all.filter { localHour($0.time) >= 3 && localHour($0.time) < 4 && $0.values["waterConsumption"] != nil }.compactMap { $0.values["flow"] }
        let evening = all.filter { localHour($0.time) >= 20 && localHour($0.time) < 21 && $0.values["waterConsumption"] != nil }.compactMap { $0.values["flow"] }
        let nightMean: Double = night.reduce(0, +) / Double(night.count)
        let eveningMean: Double = evening.reduce(0, +) / Double(evening.count)
        #expect(nightMean < 0.5 * eveningMean)
        // Unaccounted-for water is near the scenario's leakage.
        let loss = (inflow - metered) / inflow
        #expect(loss > 0.15 && loss < 0.35, "loss \(loss)")
    }

    @Test func pm25IsHigherInJanuaryThanInJuly() throws {
        func mean(_ start: String) throws -> Double {
            let all = readings(try scenario(testScenarioYAML(start: start, duration: "5d", fleets: """
                      environment: {count: 6, interval: 30m}
                """)))
            let pm = all.map { $0.values["pm25"]! }
            #expect(pm.allSatisfy { $0 > 0 })
            return pm.reduce(0, +) / Double(pm.count)
        }
        let january = try mean("2026-01-10T00:00:00+05:00")
        let july = try mean("2026-07-10T00:00:00+05:00")
        #expect(january > 2.5 * july, "January \(january), July \(july)")
    }

    @Test func pollutantsAreAutocorrelated() throws {
        let all = readings(try scenario(testScenarioYAML(duration: "3d", fleets: """
                  environment: {count: 3, interval: 5m}
            """)))
        let series = Dictionary(grouping: all, by: \.device).values.first!.map { log($0.values["pm25"]!) }
        let m = series.reduce(0, +) / Double(series.count)
        let c0 = series.map { ($0 - m) * ($0 - m) }.reduce(0, +)
        let c1 = zip(series, series.dropFirst()).map { ($0 - m) * ($1 - m) }.reduce(0, +)
        #expect(c1 / c0 > 0.8, "lag-1 autocorrelation \(c1 / c0)")
    }
}
