@testable import Gateway
import Telemetry
import Foundation
import Testing
import TestSupport

/// Family rules alone.
@Suite struct FamilyRulesTests {
    let schema = TelemetrySchema.standard

    @Test func anEmptyingBooksTheLoadBeforeIt() {
        let rules = FamilyRules(schema: schema)
        let emptying = schema.attributeID(entity: "WasteContainer", name: "dateLastEmptying")!
        let cargo = schema.attributeID(entity: "WasteContainer", name: "cargoWeight")!
        var state = DeviceState(group: 0)
        func reading(_ time: Int64, emptied: Double, load: Double) -> FamilyRules.Update? {
            let update = rules.apply(domain: .waste, time: time, values: [ReadingValue(attribute: emptying, value: emptied),
                                                                          ReadingValue(attribute: cargo, value: load)], to: &state)
            state.newest = max(state.newest, time)
            return update
        }
        #expect(reading(1, emptied: 100, load: 40) == nil, "the first reading only sets the baseline")
        #expect(reading(2, emptied: 100, load: 55) == nil)
        #expect(reading(3, emptied: 200, load: 2) == .collected(55))
        #expect(reading(2, emptied: 300, load: 0) == nil, "an older reading does not count")
    }

    @Test func aTrafficCountGivesItsSpeedAndVehicles() {
        let rules = FamilyRules(schema: schema)
        let speed = schema.attributeID(entity: "TrafficFlowObserved", name: "averageVehicleSpeed")!
        let intensity = schema.attributeID(entity: "TrafficFlowObserved", name: "intensity")!
        var state = DeviceState(group: 0)
        #expect(rules.apply(domain: .mobility, time: 1, values: [ReadingValue(attribute: speed, value: 62), ReadingValue(attribute: intensity, value: 40)], to: &state) == .traffic(speed: 62, vehicles: 40))
        #expect(rules.apply(domain: .mobility, time: 1, values: [ReadingValue(attribute: speed, value: 30)], to: &state) == nil, "no count, no weight")
    }

    @Test func theFreeFlowSpeedIsThe85thPercentileOfOffPeakSpeeds() {
        var profiles = FreeFlowProfiles()
        let p = profiles.add()
        for i in 0..<(FreeFlowProfiles.minimumSamples - 1) { profiles.record(p, speed: Double(30 + i)) }
        #expect(profiles.freeFlow(p) == nil, "too few off-peak speeds")
        profiles.record(p, speed: 53)
        // Speeds 30..53: the 85th percentile (rank 21 of 24) is 50, in the bin 50-52.5.
        #expect(profiles.freeFlow(p) == 51.25)
        let q = profiles.add()
        for _ in 0..<100 { profiles.record(q, speed: 70) }
        #expect(profiles.freeFlow(q) == 71.25 && profiles.freeFlow(p) == 51.25, "profiles are separate")
    }

    @Test func peakPeriodsAreWeekdayMorningsAndEveningsInLocalTime() {
        let day: Int64 = 86_400_000, hour: Int64 = 3_600_000
        // 1970-01-05 was a Monday.
        let monday = 4 * day
        #expect(LocalPeriods.isPeak(localMs: monday + 6 * hour) && LocalPeriods.isPeak(localMs: monday + 8 * hour + 59 * 60_000))
        #expect(!LocalPeriods.isPeak(localMs: monday + 9 * hour) && !LocalPeriods.isPeak(localMs: monday + 12 * hour))
        #expect(LocalPeriods.isPeak(localMs: monday + 4 * day + 17 * hour), "Friday evening")
        #expect(!LocalPeriods.isPeak(localMs: monday + 5 * day + 8 * hour), "Saturday")
        var parts: [(Int64, Int64)] = []
        LocalPeriods.nightParts(from: monday + 3 * hour, to: monday + day + 2 * hour + 30 * 60_000) { parts.append(($0, $1)) }
        #expect(parts.map(\.0) == [monday + 3 * hour, monday + day + 2 * hour] && parts.map(\.1) == [monday + 4 * hour, monday + day + 2 * hour + 30 * 60_000])
    }
}
