@testable import Simulator
import Telemetry
import Foundation
import Testing
import TestSupport

/// The fault injector alone: a report and values in, the faulted report and values out.
@Suite struct FaultInjectorTests {
    let device = DeviceInfo(index: 7, key: 0x1234_5678, district: 0)

    func injector(_ kind: FaultKind, from: Int64 = 0, to: Int64 = .max, probability: Double = 1, magnitude: Double = 1) -> FaultInjector {
        let spec = FaultSpec(kind: kind, share: 1, probability: probability, magnitude: magnitude)
        return FaultInjector(faults: [(spec, 42, from, to)], sensed: [0, 1], measured: [0, 1], ranges: [0...1000, 0...1000, 0...1], batteryAttribute: 2, interval: 600, end: 86_400)
    }

    func apply(_ injector: inout FaultInjector, time: Int64, values: [Double]) -> (DeviceReport, [Double], Int) {
        var report = DeviceReport()
        report.reset(device: device.index, time: time)
        var random = RandomStream(key: device.key, counter: UInt64(time))
        let reboots = injector.beforeReading(device, random: &random, report: &report)
        var v = values
        injector.onReading(device, values: &v, random: &random, report: &report)
        return (report, v, reboots)
    }

    @Test func aStuckSensorRepeatsItsFirstValuesButNotItsBattery() {
        var f = injector(.stuck)
        _ = apply(&f, time: 600, values: [10, 20, 0.9])
        let (report, values, _) = apply(&f, time: 1200, values: [11, 25, 0.8])
        #expect(values == [10, 20, 0.8])
        #expect(report.faults == [.stuck] && !report.isDeferred)
    }

    @Test func driftGrowsWithTheDaysSinceItsStart() {
        var f = injector(.drifting, magnitude: 0.5)
        let (_, values, _) = apply(&f, time: 2 * 86_400, values: [10, 20, 0.9])
        #expect(values == [20, 40, 0.9], "1 + 0.5 x 2 days on sensed attributes only")
    }

    @Test func aDriftingOrSpikingSensorSaturatesAtTheEndOfItsRange() {
        var drift = injector(.drifting, magnitude: 0.5)
        #expect(apply(&drift, time: 2 * 86_400, values: [600, 20, 0.9]).1 == [1000, 40, 0.9], "a sensor reads at most its range's end")
        var spike = injector(.spiking, magnitude: 6)
        let (report, values, _) = apply(&spike, time: 600, values: [400, 400, 0.9])
        #expect(values.filter { $0 == 1000 }.count == 1 && report.faults == [.spiking])
        let (atEnd, same, _) = apply(&spike, time: 1200, values: [1000, 1000, 0.9])
        #expect(same == [1000, 1000, 0.9] && atEnd.faults.isEmpty, "a spike of a sensor at its range's end changes nothing and is none")
    }

    @Test func aRebootTakesTheDeviceOfflineAndBackAndHoldsItsMessage() {
        var f = injector(.reboot, from: 0, to: 600, magnitude: 90)
        let (report, _, reboots) = apply(&f, time: 600, values: [1, 2, 0.9])
        #expect(reboots == 1)
        #expect(report.statusChanges.map(\.online) == [false, true] && report.statusChanges[0].abrupt)
        #expect(report.statusChanges[1].time == 690 && report.sendMs == 690_001 && report.isDeferred)
    }

    @Test func silenceAndAFlatBatterySendNothing() {
        var silent = injector(.silent, from: 0, to: 3600)
        #expect(apply(&silent, time: 600, values: [1, 2, 0.9]).0.silent)
        #expect(!apply(&silent, time: 3600, values: [1, 2, 0.9]).0.silent, "the window is over")
        var sag = injector(.batterySag, magnitude: 0.5)
        let (report, values, _) = apply(&sag, time: 2 * 86_400, values: [1, 2, 0.9])
        #expect(values[2] == 0 && report.silent && report.faults.contains(.silent))
    }

    @Test func duplicatesAndDelaysAreDeferred() {
        var dup = injector(.duplicate)
        let (d, _, _) = apply(&dup, time: 600, values: [1, 2, 0.9])
        #expect(d.duplicate && d.isDeferred && d.faults == [.duplicate])
        var late = injector(.delayed, magnitude: 60)
        let (l, _, _) = apply(&late, time: 600, values: [1, 2, 0.9])
        #expect(l.sendMs > 600_000 && l.sendMs <= 660_001 && l.faults == [.delayed])
    }
}
