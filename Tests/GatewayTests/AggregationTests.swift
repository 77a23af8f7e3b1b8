import Foundation
@testable import Gateway
import Simulator
import Telemetry
import Testing
import TestSupport

@Suite struct AggregationTests {
    @Test func aSimulatedDayIsAcceptedWholeWithDuplicatesCountedOnce() throws {
        let scenario = try gatewayScenario(faults: """
              - {kind: duplicate, share: 0.3, probability: 0.2}
              - {kind: delayed, share: 0.2, probability: 0.1, magnitude: 1200}
              - {kind: reboot, share: 0.2, family: water}
              - {kind: battery-sag, share: 0.5, family: waste}
            """)
        let messages = simulated(scenario)
        let telemetry = messages.filter { $0.kind == .telemetry }
        var distinct = Set<[UInt8]>()
        for m in telemetry { distinct.insert(m.payload) }
        let aggregator = try Aggregator(config: gatewayConfig(scenario))
        var outcomes: [IngestOutcome: Int] = [:]
        for m in messages { outcomes[aggregator.ingest(m), default: 0] += 1 }
        let counters = aggregator.counters
        #expect(counters.rejected == 0, "\(aggregator.pending.deadLetters.prefix(3).map { "\($0.reason) \($0.detail)" })")
        #expect(counters.accepted == Int64(distinct.count))
        let duplicates = Int64(telemetry.count - distinct.count)
        #expect(duplicates > 0)
        #expect(counters.duplicates == duplicates)
        #expect(counters.tooLate == 0)
        #expect(counters.late > 0, "delayed messages past their window's close correct it")
        #expect(counters.statusMessages == Int64(messages.count - telemetry.count))
        #expect(aggregator.counters.windowsEmitted > 0)
        #expect(aggregator.pending.windows.contains { $0.revision > 1 }, "corrections carry a higher revision")
    }

    @Test func theSameMessagesTwiceAndShuffledGiveTheSameWindows() throws {
        let scenario = try gatewayScenario(duration: "6h", faults: "  - {kind: reboot, share: 0.3, family: water}\n")
        let messages = simulated(scenario)
        let straight = try Aggregator(config: gatewayConfig(scenario, lateness: 86_400))
        for m in messages { straight.ingest(m) }
        straight.emitOpenWindows()

        // Every message twice, in a locally shuffled order (within 40 messages).
        var twice = messages + messages
        var random = SystemRandomNumberGenerator()
        var i = 0
        while i < twice.count {
            let end = min(i + 40, twice.count)
            twice[i..<end].shuffle(using: &random)
            i = end
        }
        twice = Array(twice[0..<messages.count].enumerated().flatMap { [$0.element, twice[messages.count + $0.offset]] })
        let shuffled = try Aggregator(config: gatewayConfig(scenario, lateness: 86_400))
        for m in twice { shuffled.ingest(m) }
        shuffled.emitOpenWindows()

        #expect(shuffled.counters.accepted == straight.counters.accepted)
        #expect(shuffled.counters.duplicates == straight.counters.duplicates + Int64(messages.filter { $0.kind == .telemetry }.count))
        let a = finalWindows(straight.pending.windows)
        let b = finalWindows(shuffled.pending.windows)
        #expect(a.count == b.count)
        var compared = 0
        for (key, x) in a {
            guard let y = b[key] else {
                Issue.record("missing window \(key)")
                continue
            }
            #expect(x.partial.count == y.partial.count, "\(key)")
            #expect(abs(x.partial.sum - y.partial.sum) <= 1e-9 * max(1, abs(x.partial.sum)), "\(key)")
            #expect(x.partial.min == y.partial.min && x.partial.max == y.partial.max, "\(key)")
            #expect(x.partial.firstValue == y.partial.firstValue && x.partial.lastValue == y.partial.lastValue, "\(key)")
            #expect(abs(x.partial.increment - y.partial.increment) <= 1e-6 * max(1, abs(x.partial.increment)), "\(key)")
            compared += 1
        }
        #expect(compared > 100)
    }
}

