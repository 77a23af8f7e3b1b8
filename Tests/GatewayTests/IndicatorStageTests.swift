@testable import Gateway
import Telemetry
import Foundation
import Testing
import TestSupport

/// The indicator stage alone: window records in, indicator values out.
@Suite struct IndicatorStageTests {
    func record(_ district: String, _ attribute: String, increment: Double, start: Int64 = 0, closed: Bool = true) -> WindowRecord {
        var p = WindowPartial()
        p.add(1, at: start)
        p.increment = increment
        return WindowRecord(city: "almaty", domain: .water, district: district, attribute: attribute, resolution: .base,
                            start: start, end: start + 900_000, partial: p, revision: 1, closed: closed)
    }

    func stage() -> IndicatorStage {
        IndicatorStage(definitions: WaterIndicators.all.filter { $0.code == "ISO37120:23.7" }, config: GatewayConfig(),
                       lengths: [900_000, 3_600_000, 86_400_000])
    }

    @Test func recordsOfAllDistrictsMakeTheCitysValueAndCorrectionsRaiseTheRevision() {
        var s = stage()
        s.consume(record("north", "WaterObserved.inflow", increment: 60))
        s.consume(record("south", "WaterObserved.inflow", increment: 40))
        s.consume(record("north", "WaterConsumptionObserved.waterConsumption", increment: 50))
        s.consume(record("south", "WaterConsumptionObserved.waterConsumption", increment: 30))
        let first = s.compute(newest: { _ in 900_000 }, devices: { _, _ in 0 })
        #expect(first.count == 1 && first[0].value == 20 && first[0].revision == 1 && first[0].closed)
        let unchanged = s.compute(newest: { _ in 900_000 }, devices: { _, _ in 0 })
        #expect(unchanged.isEmpty, "nothing changed")
        s.consume(record("south", "WaterConsumptionObserved.waterConsumption", increment: 40))
        let second = s.compute(newest: { _ in 900_000 }, devices: { _, _ in 0 })
        #expect(second.count == 1 && second[0].value == 10 && second[0].revision == 2, "the other district's record is kept")
    }

    @Test func windowsNoReadingCanReachAreForgotten() {
        var s = stage()
        s.consume(record("north", "WaterObserved.inflow", increment: 60))
        _ = s.compute(newest: { _ in 900_000 }, devices: { _, _ in 0 })
        #expect(s.revisions.count == 1)
        s.consume(record("north", "WaterObserved.inflow", increment: 10, start: 100 * 900_000))
        _ = s.compute(newest: { _ in 101 * 900_000 }, devices: { _, _ in 0 })
        #expect(s.revisions.keys.map(\.start) == [100 * 900_000], "the old window is beyond the lateness")
    }
}
