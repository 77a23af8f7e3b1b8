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

    @Test func freeFlowIsAReadingOnANearlyEmptyRoad() {
        let rules = FamilyRules(schema: schema)
        let speed = schema.attributeID(entity: "TrafficFlowObserved", name: "averageVehicleSpeed")!
        let occupancy = schema.attributeID(entity: "TrafficFlowObserved", name: "occupancy")!
        var state = DeviceState(group: 0)
        #expect(rules.apply(domain: .mobility, time: 1, values: [ReadingValue(attribute: speed, value: 62), ReadingValue(attribute: occupancy, value: 0.05)], to: &state) == .freeFlowSpeed(62))
        #expect(rules.apply(domain: .mobility, time: 1, values: [ReadingValue(attribute: speed, value: 30), ReadingValue(attribute: occupancy, value: 0.4)], to: &state) == nil)
    }
}
