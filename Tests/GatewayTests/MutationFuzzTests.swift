import Foundation
@testable import Gateway
import Simulator
import Telemetry
import Testing
import TestSupport

/// Seeded mutations of real payloads and topics, interleaved with the real stream of a
/// simulated day: every message is classified once (the balance holds after each), a refused
/// message changes no state but the counters and its dead letter (registry, clocks, windows,
/// meters), and memory stays bounded by the roster and the open windows of a clean run.
/// `SMARTCITY_FUZZ_SEED` and `SMARTCITY_FUZZ_MUTATIONS` change the seed and the count.
@Suite struct MutationFuzzTests {
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    }

    static let numbers = ["0", "-0", "-1", "1e308", "1e400", "-1e400", "9007199254740993", "4294967296", "0.000001", "1E2", "1e", "--1",
                          "NaN", "null", "true", "\"1\"", "18446744073709551616", "1768158000", "1768244400", "1768763000", "1.5", "-1768158000"]

    /// One mutation of a real message (topic and payload).
    static func mutate(_ topic: [UInt8], _ payload: [UInt8], _ r: inout SplitMix) -> ([UInt8], [UInt8]) {
        var t = topic, p = payload
        switch r.below(10) {
        case 0:  // a byte changed
            if !p.isEmpty { p[r.below(p.count)] = UInt8(truncatingIfNeeded: r.next()) }
        case 1:  // a range deleted
            if p.count > 2 { let a = r.below(p.count); p.removeSubrange(a..<min(p.count, a + 1 + r.below(16))) }
        case 2:  // a range repeated
            if p.count > 2 { let a = r.below(p.count); let b = min(p.count, a + 1 + r.below(64)); p.insert(contentsOf: p[a..<b], at: b) }
        case 3:  // truncated
            p = Array(p.prefix(r.below(p.count + 1)))
        case 4, 5:  // a number replaced
            let digits = p.indices.filter { p[$0] >= 48 && p[$0] <= 57 && ($0 == 0 || !(p[$0 - 1] >= 48 && p[$0 - 1] <= 57)) }
            if let start = digits.isEmpty ? nil : digits[r.below(digits.count)] {
                var end = start
                while end < p.count, (p[end] >= 48 && p[end] <= 57) || p[end] == UInt8(ascii: ".") || p[end] == UInt8(ascii: "e") { end += 1 }
                p.replaceSubrange(start..<end, with: Array(numbers[r.below(numbers.count)].utf8))
            }
        case 6:  // the base time moved by up to ±8 days (a device clock gone wrong)
            if let range = find(Array(#""bt":"#.utf8), in: p) {
                var end = range.upperBound
                while end < p.count, p[end] >= 48 && p[end] <= 57 { end += 1 }
                if let bt = Int64(String(decoding: p[range.upperBound..<end], as: UTF8.self)) {
                    let shift = Int64(r.below(16 * 86_400)) - 8 * 86_400
                    p.replaceSubrange(range.upperBound..<end, with: Array(String(bt + shift).utf8))
                }
            }
        case 7:  // a topic level replaced
            var levels = t.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map(Array.init)
            let junk = ["atlantis", "", "+", "#", "north", "south", "east", "water", "x/y", "alm-aq-000007", "alm-sl-000001", String(repeating: "z", count: 300)]
            levels[r.below(levels.count)] = Array(junk[r.below(junk.count)].utf8)
            t = Array(levels.joined(separator: [UInt8(ascii: "/")]))
        case 8:  // the device number changed in the topic and the payload alike
            let text = String(decoding: t, as: UTF8.self)
            if let device = text.split(separator: "/").dropFirst(4).first, device.count > 6 {
                let other = device.dropLast(6) + String(format: "%06d", r.below(1_000_000))
                t = Array(text.replacingOccurrences(of: device, with: other).utf8)
                p = Array(String(decoding: p, as: UTF8.self).replacingOccurrences(of: device, with: other).utf8)
            }
        default:  // the same message again (a duplicate)
            break
        }
        return (t, p)
    }

    static func find(_ needle: [UInt8], in bytes: [UInt8]) -> Range<Int>? {
        guard bytes.count >= needle.count else { return nil }
        for i in 0...(bytes.count - needle.count) where bytes[i..<(i + needle.count)].elementsEqual(needle) { return i..<(i + needle.count) }
        return nil
    }

    /// The state without its counters: what a refused message must leave as it was.
    static func stateWithoutCounters(_ a: Aggregator) throws -> [UInt8] {
        var state = try CheckpointCodec.decode(a.snapshot())
        state.counters = IngestCounters()
        return CheckpointCodec.encode(state)
    }

    @Test func mutationsKeepTheBalanceAndARefusedOneChangesNothing() throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["SMARTCITY_FUZZ_SEED"].flatMap(UInt64.init) ?? 20_261_126
        let count = environment["SMARTCITY_FUZZ_MUTATIONS"].flatMap(Int.init) ?? 50_000
        let scenario = try gatewayScenario(duration: "1d")
        let messages = simulated(scenario).map { ($0.topic, $0.payload) }
        let config = gatewayConfig(scenario)

        // The clean run: how many windows are open at most.
        let clean = try Aggregator(config: config)
        var cleanOpen = 0
        for (t, p) in messages {
            t.withUnsafeBufferPointer { tb in p.withUnsafeBufferPointer { _ = clean.ingest(topic: tb, payload: $0) } }
            cleanOpen = max(cleanOpen, clean.openWindows)
        }

        let a = try Aggregator(config: config)
        var r = SplitMix(state: seed)
        var outcomes: [String: Int] = [:]
        var mutants = 0, open = 0, checked = 0
        let perMessage = max(1, (count + messages.count - 1) / messages.count)
        func take(_ t: [UInt8], _ p: [UInt8], mutant: Bool) throws {
            let before = a.counters
            let clocks = a.store.clocks, devices = a.knownDevices, windows = a.openWindows
            let deep = mutant && mutants % 250 == 0
            let state = deep ? try Self.stateWithoutCounters(a) : []
            let outcome = t.withUnsafeBufferPointer { tb in p.withUnsafeBufferPointer { a.ingest(topic: tb, payload: $0) } }
            let c = a.counters
            #expect(c.received == before.received + 1, "seed \(seed): one message, one count")
            #expect(c.received == c.accepted + c.duplicates + c.tooLate + c.rejected + c.statusMessages, "seed \(seed): the balance")
            guard case .rejected(let reason) = outcome else { return outcomes["\(outcome)", default: 0] += 1 }
            outcomes[reason.rawValue, default: 0] += 1
            #expect(c.invalid[reason] == before.invalid[reason] + 1)
            #expect(a.knownDevices == devices && a.openWindows == windows, "seed \(seed): \(reason) changed the registry or the windows")
            #expect(a.store.clocks == clocks, "seed \(seed): a refused message (\(reason)) moved a clock")
            if deep {
                #expect(try Self.stateWithoutCounters(a) == state, "seed \(seed): a refused message (\(reason)) changed the state")
                checked += 1
            }
        }
        for (t, p) in messages {
            for _ in 0..<perMessage where mutants < count {
                let (mt, mp) = Self.mutate(t, p, &r)
                mutants += 1
                try take(mt, mp, mutant: true)
                if mutants % 4096 == 0 { _ = a.drain() }
            }
            try take(t, p, mutant: false)
            open = max(open, a.openWindows)
        }
        #expect(mutants == count)
        #expect(checked >= count / 250 / 2, "whole-state comparisons of refused messages")
        // Bounded: no device beyond the roster, open windows near the clean run's.
        #expect(a.knownDevices <= scenario.roster.count)
        #expect(open <= cleanOpen + cleanOpen / 2, "open windows \(open) against \(cleanOpen) in the clean run")
        // Every kind of outcome was reached (the mutations are not all of one sort).
        for expected in ["malformed-json", "not-senml", "out-of-range", "time-skew", "unknown-device", "bad-topic", "duplicate", "accepted"] {
            #expect(outcomes[expected, default: 0] > 0, "no \(expected) among \(outcomes)")
        }
        print("mutation fuzz: seed \(seed), \(mutants) mutations among \(messages.count) messages: \(outcomes.sorted { $0.key < $1.key })")
    }
}
