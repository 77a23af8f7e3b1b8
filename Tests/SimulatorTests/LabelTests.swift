import Foundation
@testable import Simulator
import Telemetry
import Testing
import TestSupport

/// The ground truth: every fault episode and city event, one row each, agreeing with the
/// messages the devices sent, the same for a seed, and the same split over shards.
@Suite struct LabelTests {
    static let faults = """
          - {kind: stuck, family: environment, share: 0.5, start: 6h, duration: 12h}
          - {kind: silent, family: waste, share: 0.3, start: 1d, duration: 5h}
          - {kind: reboot, family: water, share: 0.5, start: 10h, duration: 1d, magnitude: 120}
          - {kind: spiking, family: mobility, share: 0.5, probability: 0.05, magnitude: 8}
        """

    /// Enough lamps and bins for failures and overflows in three days.
    static let fleets = """
              mobility: {count: 12, interval: 5m}
              lighting: {count: 2000, interval: 3h, per-connection: 100}
              waste: {count: 300, interval: 2h, collection-every-days: 6}
              water: {count: 15, interval: 1h, network-sensors-per-district: 2, network-interval: 15m}
              environment: {count: 4, interval: 10m, connection: device}
        """

    typealias Run = (messages: [SimMessage], labels: [GroundTruthLabel], stats: SimulationStats)
    /// The whole run with labels, made once for the suite.
    static let whole: Run? = try? LabelTests().labelled()

    func labelled(shard: Shard = .whole, labels: Bool = true) throws -> Run {
        let s = try scenario(testScenarioYAML(duration: "3d", fleets: Self.fleets, faults: Self.faults))
        let generator = Generator(scenario: s, shard: shard)
        var found: [GroundTruthLabel] = []
        if labels { generator.recordLabels { found.append($0) } }
        var messages: [SimMessage] = []
        while generator.next() { messages.append(generator.message) }
        return (messages, found, generator.stats)
    }

    @Test func labelsAgreeWithTheMessages() throws {
        let (messages, labels, stats) = try #require(Self.whole)
        let kinds = Set(labels.map(\.kind))
        for kind in ["stuck", "silent", "reboot", "spiking", "overflow", "lamp-failure"] {
            #expect(kinds.contains(kind), "no \(kind) label among \(kinds.sorted())")
        }
        #expect(labels.filter { $0.kind == "reboot" }.count == stats.faults[.reboot])
        #expect(labels.allSatisfy { $0.start <= $0.end && $0.labelClass == (FaultKind(rawValue: $0.kind) == nil ? .event : .fault) })
        var byDevice: [String: [DecodedMessage]] = [:]
        for message in messages { if let m = decode(message) { byDevice[m.device, default: []].append(m) } }
        func during(_ label: GroundTruthLabel) -> [DecodedMessage] {
            (byDevice[label.device] ?? []).filter { $0.time >= label.start && $0.time < label.end }
        }
        for label in labels {
            let inside = during(label)
            switch label.kind {
            case "silent":
                #expect(inside.isEmpty, "\(label.device) sent during its silence")
            case "stuck":
                #expect(Set(inside.map { $0.values["pm25"] ?? -1 }).count <= 1, "\(label.device) moved while stuck")
            case "lamp-failure":
                #expect(!inside.isEmpty && inside.allSatisfy { $0.texts["status"] == "defectiveLamp" }, "\(label)")
            case "container-fire":
                #expect(!inside.isEmpty && inside.allSatisfy { $0.texts["status"] == "burning" }, "\(label)")
            case "overflow":
                #expect(!inside.isEmpty && inside.allSatisfy { ["lidOpen", "burning", "dropped"].contains($0.texts["status"]) }, "\(label)")
            case "pipe-burst":
                #expect(!inside.isEmpty && inside.allSatisfy { $0.flags["leakAlarm"] == true }, "\(label)")
            default:
                break
            }
        }
        // A lamp that recovers is labelled until its first report as `ok`.
        let repaired = labels.filter { $0.kind == "lamp-failure" && $0.end < 1_768_158_000 + 3 * 86_400 }
        for label in repaired {
            let after = (byDevice[label.device] ?? []).first { $0.time >= label.end }
            #expect(after.map { $0.texts["status"] != "defectiveLamp" } ?? true, "\(label)")
        }
    }

    @Test func labelsAreTheSameForASeedAndChangeNoMessage() throws {
        let first = try #require(Self.whole), second = try labelled()
        #expect(first.labels == second.labels)
        #expect(!first.labels.isEmpty)
        let plain = try labelled(labels: false)
        #expect(plain.messages.map(\.payload) == first.messages.map(\.payload), "recording labels changes no message")
    }

    @Test func theShardsLabelsMakeTheWholeRunsLabels() throws {
        let whole = try #require(Self.whole).labels
        var parts: [GroundTruthLabel] = []
        for i in 0..<3 { parts += try labelled(shard: Shard(index: i, count: 3)).labels }
        let key = { (l: GroundTruthLabel) in "\(l.device) \(l.kind) \(l.start) \(l.end) \(l.magnitude)" }
        #expect(parts.map(key).sorted() == whole.map(key).sorted())
    }

    @Test func theWriterWritesCSVAndJSONLines() throws {
        let labels = try #require(Self.whole).labels
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("labels-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["l.csv", "l.jsonl"] {
            let writer = try LabelWriter(path: dir + "/" + name)
            for label in labels { try writer.write(label) }
            try writer.close()
        }
        let csv = try String(contentsOfFile: dir + "/l.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.first == Substring(GroundTruthLabel.csvHeader))
        #expect(csv.count == labels.count + 1)
        let lines = try String(contentsOfFile: dir + "/l.jsonl", encoding: .utf8).split(separator: "\n")
        let decoded = try lines.map { try JSONDecoder().decode(GroundTruthLabel.self, from: Data($0.utf8)) }
        #expect(decoded == labels)
        #expect(lines.first?.contains("\"class\":") == true)
        #expect(throws: SimulationError.self) { try LabelWriter(path: dir + "/missing/l.csv") }
    }
}
