@testable import Gateway
import Telemetry
import Foundation
import Testing
import TestSupport

/// Deduplication alone: sequence numbers in, fresh / duplicate / too old out.
@Suite struct SequenceWindowTests {
    @Test func eachNumberCountsOnceInAnyOrder() {
        var w = SequenceWindow()
        #expect(w.observe(5) == .fresh)
        #expect(w.observe(5) == .duplicate)
        #expect(w.observe(3) == .fresh)
        #expect(w.observe(3) == .duplicate)
        #expect(w.observe(4) == .fresh)
        #expect(w.observe(9) == .fresh)
        for seq in [3, 4, 5, 9] as [Int64] { #expect(w.observe(seq) == .duplicate, "\(seq)") }
        #expect(w.observe(8) == .fresh)
        #expect(w.highest == 9)
    }

    @Test func numbersFurtherBackThanTheDepthAreTooOld() {
        var w = SequenceWindow()
        #expect(w.observe(1000) == .fresh)
        #expect(w.observe(1000 - SequenceWindow.depth) == .fresh, "the oldest number still tracked")
        #expect(w.observe(1000 - SequenceWindow.depth) == .duplicate)
        #expect(w.observe(1000 - SequenceWindow.depth - 1) == .tooOld)
    }

    @Test func jumpsAcrossWordBoundariesKeepWhatWasSeen() {
        for jump in [1, 63, 64, 65, 127, 128, 129, 500] as [Int64] {
            var w = SequenceWindow()
            #expect(w.observe(10) == .fresh)
            #expect(w.observe(10 + jump) == .fresh)
            // 10 is still within the window for jumps up to the depth + 1 and must stay seen.
            let expected: SequenceWindow.Seen = jump <= SequenceWindow.depth ? .duplicate : .tooOld
            #expect(w.observe(10) == expected, "jump \(jump)")
            if jump > 1, jump <= SequenceWindow.depth { #expect(w.observe(11) == .fresh, "jump \(jump)") }
        }
    }
}
