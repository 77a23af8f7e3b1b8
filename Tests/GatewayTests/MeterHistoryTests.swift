@testable import Gateway
import Telemetry
import Foundation
import Testing
import TestSupport

/// Meter increments alone: readings in, increments with the spans they accrued over out.
@Suite struct MeterHistoryTests {
    func increments(_ m: MeterIncrements) -> [Double] { (0..<m.count).map { m[$0].amount } }

    @Test func inOrderReadingsGiveTheirDifferences() {
        var m = MeterHistory(attribute: 0)
        #expect(m.record(time: 1000, value: 10, rollover: nil).count == 0, "the first reading has no predecessor")
        let step = m.record(time: 2000, value: 12.5, rollover: nil)
        #expect(increments(step) == [2.5] && step[0].from == 1000 && step[0].to == 2000 && step.step == .forward)
        #expect(m.record(time: 2000, value: 99, rollover: nil).count == 0, "the same time again adds nothing")
    }

    @Test func resetsAndRolloversAreTold() {
        var m = MeterHistory(attribute: 0)
        _ = m.record(time: 1, value: 99_990, rollover: 100_000)
        let wrapped = m.record(time: 2, value: 5, rollover: 100_000)
        #expect(increments(wrapped) == [15] && wrapped.step == .rollover)
        let reset = m.record(time: 3, value: 2, rollover: 100_000)
        #expect(increments(reset) == [2] && reset.step == .reset, "a fall by more than half the rollover is a reset to zero")
        var plain = MeterHistory(attribute: 0)
        _ = plain.record(time: 1, value: 50, rollover: nil)
        #expect(plain.record(time: 2, value: 3, rollover: nil).step == .reset)
    }

    @Test func aReadingBetweenTwoSplitsTheLaterIncrement() {
        var m = MeterHistory(attribute: 0)
        _ = m.record(time: 100, value: 10, rollover: nil)
        _ = m.record(time: 300, value: 30, rollover: nil)
        let split = m.record(time: 200, value: 14, rollover: nil)
        #expect(increments(split) == [-20, 4, 16])
        #expect([split[0].from, split[1].from, split[2].from] == [100, 100, 200])
        #expect([split[0].to, split[1].to, split[2].to] == [300, 200, 300], "each increment keeps the span it accrued over")
        #expect(split.step == nil, "only an in-order step is counted as reset or rollover")
    }

    @Test func aReadingOlderThanAllIsExactOnlyWhileNothingWasDropped() {
        var m = MeterHistory(attribute: 0)
        _ = m.record(time: 200, value: 20, rollover: nil)
        let older = m.record(time: 100, value: 15, rollover: nil)
        #expect(increments(older) == [5] && older[0].from == 100 && older[0].to == 200)
        for t in 3...6 { _ = m.record(time: Int64(t) * 100, value: Double(t) * 10, rollover: nil) }
        #expect(m.dropped && m.count == Int32(MeterHistory.depth))
        #expect(m.record(time: 50, value: 1, rollover: nil).count == 0, "its predecessor is unknown once one was dropped")
    }
}
