import Foundation
@testable import Simulator
import Telemetry
import Testing
import TestSupport

@Suite struct DeterminismTests {
    func file(_ scenario: Scenario, shard: Shard = .whole) throws -> Data {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sim-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let out = try MessageFile(path: path, qos: 1)
        let generator = Generator(scenario: scenario, shard: shard)
        while generator.next() { try out.write(generator.message) }
        try out.close()
        return try #require(FileManager.default.contents(atPath: path))
    }

    @Test func sameSeedGivesIdenticalFiles() throws {
        let s = try scenario(testScenarioYAML(seed: 42, duration: "6h"))
        let a = try file(s)
        let b = try file(s)
        #expect(a.count > 10_000)
        #expect(a == b)
    }

    @Test func differentSeedsGiveDifferentFiles() throws {
        let a = try file(try scenario(testScenarioYAML(seed: 1, duration: "3h")))
        let b = try file(try scenario(testScenarioYAML(seed: 2, duration: "3h")))
        #expect(a != b)
        // Same devices and times, different values.
        let linesA = String(decoding: a, as: UTF8.self).split(separator: "\n")
        let linesB = String(decoding: b, as: UTF8.self).split(separator: "\n")
        #expect(linesA.count > 100)
        #expect(Set(linesA).intersection(linesB).count < linesA.count / 2)
    }

    @Test func shardsTogetherAreTheWhole() throws {
        let s = try scenario(testScenarioYAML(seed: 9, duration: "4h", faults: """
              - {kind: duplicate, share: 0.5, probability: 0.3}
              - {kind: delayed, share: 0.5, probability: 0.3, magnitude: 900}
              - {kind: reboot, share: 0.3, magnitude: 60}
            """))
        let whole = String(decoding: try file(s), as: UTF8.self).split(separator: "\n").sorted()
        var union: [Substring] = []
        for i in 0..<3 {
            let part = String(decoding: try file(s, shard: Shard(index: i, count: 3)), as: UTF8.self).split(separator: "\n")
            #expect(!part.isEmpty, "shard \(i) of 3 is empty")
            #expect(part.count < whole.count)
            union += part
        }
        #expect(union.sorted() == whole)
    }

    @Test func eachMessageCarriesSequenceAndSendTime() throws {
        let all = readings(try scenario(testScenarioYAML(duration: "3h")))
        #expect(!all.isEmpty)
        var last: [String: Int] = [:]
        for reading in all {
            #expect(reading.sequence == (last[reading.device] ?? 0) + 1, "sequence of \(reading.device)")
            last[reading.device] = reading.sequence
            #expect(reading.sent >= Double(reading.time))
        }
    }

    @Test func backfillUsesSimulatedTimestamps() throws {
        let s = try scenario(testScenarioYAML(start: "2019-03-01T00:00:00+05:00", duration: "2h"))
        let all = messages(s)
        let start = try #require(Timestamps.parse("2019-03-01T00:00:00+05:00"))
        #expect(all.allSatisfy { $0.sendTime >= start * 1000 && $0.sendTime <= (start + 7200) * 1000 })
        let times = all.filter { $0.kind == .telemetry }.map(\.eventTime)
        #expect(times.min()! >= start && times.max()! < start + 7200)
        // Send times never go backwards.
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.sendTime <= $1.sendTime })
    }
}

@Suite struct MessageFileTests {
    @Test func standardOutputIsAPathToo() throws {
        let file = try MessageFile(path: "-", qos: 1)
        #expect(file.written == 0)
    }
}
