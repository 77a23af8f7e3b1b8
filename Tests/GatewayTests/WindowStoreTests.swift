@testable import Gateway
import Telemetry
import Foundation
import Testing
import TestSupport

/// The window store alone: values of numbered series with event times in, windows out.
@Suite struct WindowStoreTests {
    static let minute: Int64 = 60_000
    func store(lateness: Int64 = 30 * minute) -> WindowStore {
        var s = WindowStore(lengths: [15 * Self.minute, 60 * Self.minute, 1440 * Self.minute], lateness: lateness)
        _ = s.addCity(offsetMs: 0)
        return s
    }

    @Test func aWindowIsEmittedOnceWhenEventTimePassesItsEnd() {
        var s = store()
        s.add(series: 0, value: 2, time: 1 * Self.minute, city: 0)
        s.add(series: 0, value: 4, time: 2 * Self.minute, city: 0)
        let moved = s.advance(city: 0, device: 0, to: 2 * Self.minute)
        #expect(moved)
        let early = s.sweep(final: false)
        #expect(early.isEmpty, "nothing closed yet")
        let boundary = s.advance(city: 0, device: 0, to: 16 * Self.minute)
        #expect(boundary, "a base boundary passed")
        let out = s.sweep(final: false)
        #expect(out.count == 1)
        #expect(out.first?.resolution == .base && out.first?.partial.count == 2 && out.first?.partial.sum == 6)
        #expect(out.first?.revision == 1 && out.first?.closed == true)
        let again = s.sweep(final: false)
        #expect(again.isEmpty, "emitted once")
        let inside = s.advance(city: 0, device: 0, to: 17 * Self.minute)
        #expect(!inside, "no boundary passed")
    }

    @Test func lateDataCorrectsWithAHigherRevisionThenIsTooLate() {
        var s = store()
        s.add(series: 3, value: 1, time: 1 * Self.minute, city: 0)
        _ = s.advance(city: 0, device: 0, to: 20 * Self.minute)
        _ = s.sweep(final: false)
        #expect(!s.isTooLate(5 * Self.minute, city: 0))
        let changed = s.add(series: 3, value: 5, time: 5 * Self.minute, city: 0)
        #expect(changed, "an emitted window changed")
        let correction = s.sweep(final: false).filter { $0.resolution == .base }
        #expect(correction.count == 1 && correction[0].revision == 2 && correction[0].partial.sum == 6)
        _ = s.advance(city: 0, device: 0, to: 46 * Self.minute)
        #expect(s.isTooLate(5 * Self.minute, city: 0), "15m + 30m lateness < 46m")
        let before = s.openWindows
        _ = s.sweep(final: false)
        #expect(s.openWindows < before, "windows beyond the lateness are forgotten")
    }

    @Test func countOnceCountsADevicePerWindowAndFinalEmitsOpenWindowsProvisionally() {
        var s = store()
        var marks = WindowMarks()
        let late = s.countOnce(series: 1, time: 1 * Self.minute, city: 0, marks: &marks)
        #expect(!late)
        _ = s.countOnce(series: 1, time: 2 * Self.minute, city: 0, marks: &marks)
        _ = s.countOnce(series: 1, time: 20 * Self.minute, city: 0, marks: &marks)
        _ = s.advance(city: 0, device: 0, to: 20 * Self.minute)
        let out = s.sweep(final: true)
        let base = out.filter { $0.resolution == .base }.sorted { $0.start < $1.start }
        #expect(base.map(\.partial.count) == [1, 1], "one device, counted once per window")
        #expect(base.map(\.closed) == [true, false], "the open window is provisional")
        #expect(out.first { $0.resolution == .hour }?.partial.count == 1)
    }

    @Test func aMeterIncrementIsSharedByTheWindowsItsSpanCovers() {
        var s = store(lateness: 120 * Self.minute)
        // 60 units between 10 and 40 minutes: 5 + 15 + 10 minutes in three base windows.
        s.addIncrement(series: 2, amount: 60, from: 10 * Self.minute, to: 40 * Self.minute, city: 0)
        _ = s.advance(city: 0, device: 0, to: 40 * Self.minute)
        let out = s.sweep(final: true)
        let base = out.filter { $0.resolution == .base }.sorted { $0.start < $1.start }
        #expect(base.map(\.partial.increment) == [10, 30, 20])
        #expect(out.first { $0.resolution == .hour }?.partial.increment == 60, "the hour holds it whole")
    }

    @Test func thePartOfASpanBeforeTheOpenWindowsGoesToThem() {
        var s = store(lateness: 15 * Self.minute)
        _ = s.advance(city: 0, device: 0, to: 100 * Self.minute)
        // Windows before 75 minutes no longer take readings; the span 0-100 keeps its total.
        s.addIncrement(series: 2, amount: 100, from: 0, to: 100 * Self.minute, city: 0)
        let base = s.sweep(final: true).filter { $0.resolution == .base }.sorted { $0.start < $1.start }
        #expect(base.map(\.start) == [75 * Self.minute, 90 * Self.minute])
        #expect(abs(base.map(\.partial.increment).reduce(0, +) - 100) < 1e-9)
        #expect(abs(base[0].partial.increment - 60) < 1e-9, "shared in proportion over the open part: 15 of 25 minutes")
    }

    @Test func windowsFollowTheCitysLocalDay() {
        var s = WindowStore(lengths: [15 * Self.minute, 60 * Self.minute, 1440 * Self.minute], lateness: 0)
        let almaty = s.addCity(offsetMs: 5 * 60 * Self.minute)
        // 19:00 UTC is 00:00 in UTC+5: the local day starts there.
        let t = 19 * 60 * Self.minute
        #expect(s.windowStart(t, Resolution.day.rawValue, city: almaty) == t)
        #expect(s.windowStart(t - 1, Resolution.day.rawValue, city: almaty) == t - 1440 * Self.minute)
    }
}
