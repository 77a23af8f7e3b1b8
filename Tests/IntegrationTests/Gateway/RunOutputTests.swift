import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Gateway
import EmbeddedBroker
import IndexEngine
import MQTT
import SmartCityIndex
import Simulator
import Testing
import TestSupport

// The run's other outputs: alarms and labels, exported readings, the overload bench, the
// contract, replays, shard summaries, defined families and payload formats.
extension Integration.RunTests {
    /// The gateway's detectors against the ground truth of a run with faults: the alarms answer
    /// the labelled episodes, `summary.json` and `smartcity score` say so alike, and a replay
    /// of the same messages raises the same alarms.
    @Test func theAlarmsFindTheLabelledFaults() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let faults = """
              - {kind: stuck, family: environment, share: 0.5, start: 3h, duration: 6h}
              - {kind: silent, family: waste, share: 0.4, start: 5h, duration: 5h}
              - {kind: spiking, family: mobility, share: 0.5, probability: 0.05, magnitude: 5}
            """
        try gatewayScenarioYAML(duration: "1d", faults: faults).write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        let run = try ChildProcess(["run", dir + "/s.yaml", "--direct", "--out", dir + "/out", "--progress", "0"])
        #expect(await run.waitForExit() == 0, "\(run.output)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/summary.json"))) as? [String: Any])
        let detection = try #require(summary["detection"] as? [[String: Any]])
        let byKind = Dictionary(uniqueKeysWithValues: detection.compactMap { d in (d["kind"] as? String).map { ($0, d) } })
        for (kind, recall) in [("stuck", 0.9), ("silent", 0.9), ("spike", 0.9)] {
            let score = try #require(byKind[kind], "\(kind) in \(byKind.keys.sorted())")
            #expect((score["episodes"] as? Int ?? 0) > 0, "\(kind): \(score)")
            #expect((score["recall"] as? Double ?? 0) >= recall, "\(kind): \(score)")
            #expect((score["precision"] as? Double ?? 0) >= 0.9, "\(kind): \(score)")
        }
        #expect(run.output.contains("alarms against the"))
        let report = try String(contentsOfFile: dir + "/out/report.html", encoding: .utf8)
        #expect(report.contains("<h2 id=\"alarms\">Alarms</h2>") && report.contains("<td>stuck</td>") && report.contains("Alarms raised per hour"))
        let score = try ChildProcess(["score", "--store", dir + "/out/gateway.sqlite", "--labels", dir + "/out/labels.csv", "--json"])
        #expect(await score.waitForExit() == 0, "\(score.output)")
        let again = try #require(try JSONSerialization.jsonObject(with: Data(score.output.utf8)) as? [[String: Any]])
        #expect(again.map { $0["kind"] as? String } == detection.map { $0["kind"] as? String })
        #expect(again.map { $0["recall"] as? Double } == detection.map { $0["recall"] as? Double })

        // The same messages replayed from a file raise the same alarms.
        let simulate = try ChildProcess(["simulate", dir + "/s.yaml", "--output", dir + "/m.jsonl"])
        #expect(await simulate.waitForExit() == 0)
        let replay = try ChildProcess(["gateway", "replay", dir + "/m.jsonl", "--scenario", dir + "/s.yaml", "--store", dir + "/r.sqlite"])
        #expect(await replay.waitForExit() == 0, "\(replay.output)")
        let online = try SQLiteStore(path: dir + "/out/gateway.sqlite").alarms(activeOnly: false, city: nil, kind: nil)
        let offline = try SQLiteStore(path: dir + "/r.sqlite").alarms(activeOnly: false, city: nil, kind: nil)
        #expect(!online.isEmpty)
        #expect(online.map { "\($0.device) \($0.kind) \($0.raised) \(String(describing: $0.cleared))" }
                == offline.map { "\($0.device) \($0.kind) \($0.raised) \(String(describing: $0.cleared))" })
    }
}

extension Integration.RunTests {
    /// `export readings`: a message file as a long table, every reading once, each labelled
    /// with the episodes covering it; a labels file that does not parse is named by its line.
    @Test func exportedReadingsCarryTheirLabels() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try gatewayScenarioYAML(duration: "6h", faults: "  - {kind: stuck, family: environment, share: 0.5, start: 1h, duration: 2h}\n")
            .write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        let simulate = try ChildProcess(["simulate", dir + "/s.yaml", "--output", dir + "/m.jsonl", "--labels", dir + "/l.jsonl"])
        #expect(await simulate.waitForExit() == 0, "\(simulate.output)")
        let export = try ChildProcess(["export", "readings", dir + "/m.jsonl", "--labels", dir + "/l.jsonl", "--output", dir + "/r.csv"])
        #expect(await export.waitForExit() == 0, "\(export.output)")
        let rows = try String(contentsOfFile: dir + "/r.csv", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(rows.first?.joined(separator: ",") == "time,city,domain,district,device,attribute,value,unit,label")
        // Every value of every telemetry record but the envelope's seq and sent.
        let scenario = try Scenario(contentsOf: dir + "/s.yaml")
        let expected = readings(scenario).reduce(0) { $0 + $1.values.count + $1.texts.count + $1.flags.count - 2 }
        #expect(rows.count - 1 == expected)
        // The stuck stations' readings inside the episode carry its label, and only those.
        let labels = try String(contentsOfFile: dir + "/l.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(GroundTruthLabel.self, from: Data($0.utf8)) }.filter { $0.kind == "stuck" }
        #expect(!labels.isEmpty)
        let stuck = rows.dropFirst().filter { $0.last == "stuck" }
        #expect(!stuck.isEmpty && stuck.allSatisfy { row in labels.contains { $0.device == row[4] } })
        // Text values are written as text, whatever they hold: quoted and escaped in JSON Lines,
        // quoted with doubled quotes in CSV.
        let odd = #"[{"bn":"urn:ngsi-ld:WasteContainer:x-1:","bt":1768158000,"n":"status","vs":"12, \"a\"\\\n"}]"#
        try (#"{"at":1,"topic":"city/almaty/waste/north/x-1/attrs","qos":1,"retain":false,"payload":"# + odd + "}\n")
            .write(toFile: dir + "/odd-in.jsonl", atomically: true, encoding: .utf8)
        for format in ["jsonl", "csv"] {
            let oddExport = try ChildProcess(["export", "readings", dir + "/odd-in.jsonl", "--format", format, "--output", dir + "/odd." + format])
            #expect(await oddExport.waitForExit() == 0, "\(oddExport.output)")
        }
        let exported = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/odd.jsonl"))) as? [String: Any])
        #expect(exported["value"] as? String == "12, \"a\"\\\n" && exported["device"] as? String == "x-1")
        let csv = try String(contentsOfFile: dir + "/odd.csv", encoding: .utf8)
        #expect(csv.contains(",status,\"12, \"\"a\"\"\\\n\",,"), "\(csv)")
        let bad = try ChildProcess(["export", "readings", dir + "/m.jsonl", "--labels", dir + "/m.jsonl"])
        #expect(await bad.waitForExit() != 0)
        #expect(bad.output.contains("m.jsonl:1: not a label"), "\(bad.output)")
    }
}

extension Integration.RunTests {
    /// `bench overload` ramps a small load at both QoS levels, reports each step and loses
    /// nothing at QoS 1; a wrong ramp is refused before any connection.
    @Test func theOverloadBenchReportsEveryStep() async throws {
        let bench = try ChildProcess(["bench", "overload", "--from", "500", "--to", "1000", "--steps", "2", "--step-seconds", "0.5", "--idle-timeout", "3"])
        #expect(await bench.waitForExit() == 0, "\(bench.output)")
        for level in [0, 1] {
            #expect(bench.output.contains("QoS \(level): closed-loop baseline"), "\(bench.output)")
            let tally = try #require(bench.output.split(separator: "\n").first { $0.hasPrefix("QoS \(level): sent ") }, "\(bench.output)")
            let numbers = tally.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .punctuationCharacters)) }
            #expect(numbers.count == 4 && numbers[1] == numbers[2] && numbers[1] > 0 && numbers[3] == 0, "\(tally)")
        }
        let wrong = try ChildProcess(["bench", "overload", "--from", "1000", "--to", "10"])
        #expect(await wrong.waitForExit() != 0)
        #expect(wrong.output.contains("--to at least --from"), "\(wrong.output)")
    }
}

extension Integration.RunTests {
    /// `smartcity contract`: the AsyncAPI document of a scenario, checked by Python's
    /// jsonschema: every message of an hour of the scenario (readings of every family,
    /// statuses) and an alarm as the gateway publishes it validate; bad payloads do not.
    @Test func theContractValidatesEveryPayloadAndRefusesBadOnes() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try gatewayScenarioYAML(duration: "1h").write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        let contract = try ChildProcess(["contract", dir + "/s.yaml", "--output", dir + "/contract.json"])
        #expect(await contract.waitForExit() == 0, "\(contract.output)")
        let simulate = try ChildProcess(["simulate", dir + "/s.yaml", "--output", dir + "/good.jsonl"])
        #expect(await simulate.waitForExit() == 0, "\(simulate.output)")
        let alarm = Alarm(city: "almaty", domain: "waste", district: "north", device: "alm-wc-000001", kind: "container-fire",
                          severity: "critical", raised: 1_768_158_000_000, cleared: nil, value: 61.5)
        var good = try String(contentsOfFile: dir + "/good.jsonl", encoding: .utf8)
        for a in [alarm, { var c = alarm; c.cleared = 1_768_158_600_000; return c }()] {
            let line = try JSONSerialization.data(withJSONObject: ["topic": a.topic, "payload": String(decoding: a.message, as: UTF8.self)])
            good += String(decoding: line, as: UTF8.self) + "\n"
        }
        try good.write(toFile: dir + "/good.jsonl", atomically: true, encoding: .utf8)
        let traffic = "city/almaty/mobility/north/alm-tf-000001/attrs"
        let head = #"{"bn":"urn:ngsi-ld:TrafficFlowObserved:alm-tf-000001:","bt":1768158000,"n":"intensity","u":"count","v":12}"#
        let bad: [(String, String, String)] = [
            ("occupancy above its range", traffic, "[\(head),{\"n\":\"occupancy\",\"u\":\"/\",\"v\":1.5}]"),
            ("a unit that is not the attribute's", traffic, "[\(head),{\"n\":\"occupancy\",\"u\":\"%\",\"v\":0.5}]"),
            ("an attribute the family does not have", traffic, "[\(head),{\"n\":\"colour\",\"v\":1}]"),
            ("a text where a number belongs", traffic, "[\(head),{\"n\":\"averageVehicleSpeed\",\"u\":\"km/h\",\"vs\":\"fast\"}]"),
            ("no base name and time", traffic, #"[{"n":"intensity","u":"count","v":12}]"#),
            ("another family's base name", traffic, #"[{"bn":"urn:ngsi-ld:Streetlight:alm-tf-000001:","bt":1768158000,"n":"intensity","u":"count","v":12}]"#),
            ("not a pack", traffic, #"{"n":"intensity","v":12}"#),
            ("an empty pack", traffic, "[]"),
            ("a status that is neither online nor offline", "city/almaty/mobility/north/alm-tf-000001/status", "maybe"),
            ("a topic of no channel", "city/almaty/parking/north/alm-pk-000001/attrs", "[\(head)]"),
            ("an alarm of an unknown kind", alarm.topic, String(decoding: alarm.message, as: UTF8.self).replacingOccurrences(of: "container-fire", with: "meteor")),
        ]
        let (status, output) = try validateContract(in: dir, bad: bad)
        #expect(status == 0, "\(output)")
        let messages = try String(contentsOfFile: dir + "/good.jsonl", encoding: .utf8).split(separator: "\n").count
        #expect(output.contains("contract: \(messages) good messages valid, \(bad.count) bad payloads refused"), "\(output)")
        // The same scenario gives the same document.
        let again = try ChildProcess(["contract", dir + "/s.yaml", "--output", dir + "/again.json"])
        #expect(await again.waitForExit() == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/contract.json")) == Data(contentsOf: URL(fileURLWithPath: dir + "/again.json")))
    }
}

extension Integration.RunTests {
    /// `smartcity replay`: a recorded message file reaches a subscriber byte for byte, statuses
    /// retained; the same readings as a long table arrive as one pack per device and time with
    /// the same values; a table without its columns is refused with its line.
    @Test func aReplayPublishesTheRecordedMessages() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try gatewayScenarioYAML(duration: "2h").write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        let simulate = try ChildProcess(["simulate", dir + "/s.yaml", "--output", dir + "/m.jsonl"])
        #expect(await simulate.waitForExit() == 0, "\(simulate.output)")
        var recorded: [String] = []
        try MessageFile.read(dir + "/m.jsonl") { topic, payload, _ in recorded.append(topic + " " + String(decoding: payload, as: UTF8.self)) }
        let readings = recorded.filter { $0.contains("/attrs ") }

        var configuration = EmbeddedBroker.Configuration()
        configuration.extraLines = ["max_queued_messages 0"]
        let broker = try await EmbeddedBroker.start(configuration)
        defer { broker.stop() }
        let received = Collected()
        var options = ConnectionOptions(url: broker.url, clientID: "replay-observer")
        options.cleanSession = true
        let subscriber = try MQTTClient(options) { received.add($0.topic + " " + String(decoding: $0.payload, as: UTF8.self)) }
        try await subscriber.connect()
        _ = try await subscriber.subscribe("city/#", qos: .atLeastOnce)

        let replay = try ChildProcess(["replay", dir + "/m.jsonl", "--broker", broker.url.description, "--summary", dir + "/r.json", "--progress", "0"])
        #expect(await replay.waitForExit() == 0, "\(replay.output)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/r.json"))) as? [String: Any])
        #expect(summary["published"] as? Int == recorded.count && summary["unacknowledged"] as? Int == 0, "\(summary)")
        try await received.wait(until: { $0.filter { $0.contains("/attrs ") }.count >= readings.count })
        #expect(received.items.filter { $0.contains("/attrs ") }.sorted() == readings.sorted(), "every reading byte for byte")

        // The long table of the same readings: a pack per device and time, the same values.
        let export = try ChildProcess(["export", "readings", dir + "/m.jsonl", "--output", dir + "/m.csv"])
        #expect(await export.waitForExit() == 0)
        received.clear()
        let table = try ChildProcess(["replay", dir + "/m.csv", "--broker", broker.url.description, "--speed", "36000", "--progress", "0"])
        #expect(await table.waitForExit() == 0, "\(table.output)")
        try await received.wait(until: { $0.count >= readings.count })
        func values(_ messages: [String]) throws -> [String] {
            var out: [String] = []
            for message in messages {
                let space = message.firstIndex(of: " ")!
                let topic = String(message[..<space]), payload = Array(message[message.index(after: space)...].utf8)
                let pack = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [[String: Any]])
                let bt = pack.first?["bt"] as? Double ?? -1
                for record in pack where !["seq", "sent"].contains(record["n"] as? String) {
                    let value = record["v"] ?? record["s"] ?? record["vb"] ?? record["vs"] ?? "?"
                    out.append("\(topic) \(Int(bt)) \(record["n"] ?? "") \(value)")
                }
            }
            return out.sorted()
        }
        #expect(try values(received.items) == values(readings), "the table's packs carry the recorded values")
        try "time,device,value\n2026-01-01T00:00:00Z,x,1\n".write(toFile: dir + "/bad.csv", atomically: true, encoding: .utf8)
        let bad = try ChildProcess(["replay", dir + "/bad.csv", "--broker", broker.url.description])
        #expect(await bad.waitForExit() != 0)
        #expect(bad.output.contains("bad.csv:1: the header lacks city, domain, district, attribute"), "\(bad.output)")
        await subscriber.disconnect()
    }
}

/// Messages a subscriber got, awaited by condition: each arrival checks the waiter's condition.
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    private var waiter: (condition: ([String]) -> Bool, continuation: CheckedContinuation<Void, Never>)?

    func add(_ item: String) {
        let ready: CheckedContinuation<Void, Never>? = lock.withLock {
            list.append(item)
            guard let w = waiter, w.condition(list) else { return nil }
            waiter = nil
            return w.continuation
        }
        ready?.resume()
    }

    func clear() { lock.withLock { list.removeAll() } }
    var items: [String] { lock.withLock { list } }

    /// Returns once `condition` holds for what arrived; fails after 30 s without it.
    func wait(until condition: @escaping ([String]) -> Bool) async throws {
        let timeout = Task { [weak self] in
            try await Task.sleep(for: .seconds(30))
            let stuck = self?.lock.withLock { () -> CheckedContinuation<Void, Never>? in
                defer { self?.waiter = nil }
                return self?.waiter?.continuation
            }
            stuck?.resume()
        }
        await withCheckedContinuation { continuation in
            let done: Bool = lock.withLock {
                if condition(list) { return true }
                waiter = (condition, continuation)
                return false
            }
            if done { continuation.resume() }
        }
        timeout.cancel()
        guard condition(items) else { throw TestFailure("only \(items.count) messages arrived in 30 s") }
    }
}

extension Integration.RunTests {
    /// `summary merge`: the shards' summaries add up to the whole run's (the union of the
    /// shards is the run); a missing shard is named, one of another run is refused.
    @Test func shardSummariesMergeIntoTheWholeRun() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try gatewayScenarioYAML(duration: "6h", faults: "  - {kind: duplicate, share: 0.3, probability: 0.2}\n").write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        for shard in ["0/1", "0/3", "1/3", "2/3"] {
            let name = shard.replacingOccurrences(of: "/", with: "-")
            let simulate = try ChildProcess(["simulate", dir + "/s.yaml", "--shard", shard, "--output", dir + "/\(name).jsonl", "--summary", dir + "/\(name).json", "--progress", "0"])
            #expect(await simulate.waitForExit() == 0, "\(simulate.output)")
        }
        let merge = try ChildProcess(["summary", "merge", dir + "/0-3.json", dir + "/1-3.json", dir + "/2-3.json", "--output", dir + "/merged.json"])
        #expect(await merge.waitForExit() == 0, "\(merge.output)")
        #expect(merge.output.contains("merged 3 shards: the whole run"), "\(merge.output)")
        let whole = try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/0-1.json")))
        let merged = try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/merged.json")))
        #expect(merged.shard == "0/1")
        #expect(merged.devices == whole.devices && merged.messages == whole.messages && merged.statusMessages == whole.statusMessages)
        #expect(merged.telemetryByDomain == whole.telemetryByDomain && merged.faults == whole.faults && merged.payloadBytes == whole.payloadBytes)
        let part = try ChildProcess(["summary", "merge", dir + "/0-3.json", dir + "/2-3.json"])
        #expect(await part.waitForExit() == 0)
        #expect(part.output.contains("merged shards 0,2/3: not the whole run"), "\(part.output)")
        let twice = try ChildProcess(["summary", "merge", dir + "/0-3.json", dir + "/0-3.json"])
        #expect(await twice.waitForExit() != 0)
        #expect(twice.output.contains("shard 0/3 appears twice"), "\(twice.output)")
        try gatewayScenarioYAML(seed: 8, duration: "6h").write(toFile: dir + "/other.yaml", atomically: true, encoding: .utf8)
        let other = try ChildProcess(["simulate", dir + "/other.yaml", "--shard", "1/3", "--output", dir + "/o.jsonl", "--summary", dir + "/o.json", "--progress", "0"])
        #expect(await other.waitForExit() == 0)
        let mixed = try ChildProcess(["summary", "merge", dir + "/0-3.json", dir + "/o.json"])
        #expect(await mixed.waitForExit() != 0)
        #expect(mixed.output.contains("summary 2 is of another run"), "\(mixed.output)")
    }
}

extension Integration.RunTests {
    /// Families and indicators a scenario defines go the whole way: the contract describes
    /// their payloads (and refuses bad ones), and a run through the broker stores their
    /// indicators beside the built-in ones.
    @Test func definedFamiliesRunThroughTheBrokerAndTheContract() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try definedTypesScenarioYAML(duration: "6h").write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        let contract = try ChildProcess(["contract", dir + "/s.yaml", "--output", dir + "/contract.json"])
        #expect(await contract.waitForExit() == 0, "\(contract.output)")
        let simulate = try ChildProcess(["simulate", dir + "/s.yaml", "--output", dir + "/good.jsonl"])
        #expect(await simulate.waitForExit() == 0, "\(simulate.output)")
        let noise = "city/almaty/environment/north/alm-nm-000001/attrs"
        let base = #"{"bn":"urn:ngsi-ld:NoiseLevelObserved:alm-nm-000001:","bt":1768158000,"#
        let bad: [(String, String, String)] = [
            ("a level above its range", noise, "[" + base + #""n":"LAeq","u":"dB","v":180}]"#),
            ("a unit that is not the attribute's", noise, "[" + base + #""n":"LAeq","u":"dBA","v":58}]"#),
            ("a state the bay does not have", "city/almaty/mobility/north/alm-pk-000001/attrs",
             #"[{"bn":"urn:ngsi-ld:ParkingSpot:alm-pk-000001:","bt":1768158000,"n":"status","vs":"reserved"}]"#),
        ]
        let (status, output) = try validateContract(in: dir, bad: bad)
        #expect(status == 0, "\(output)")
        let document = try String(contentsOfFile: dir + "/contract.json", encoding: .utf8)
        #expect(document.contains("NoiseLevelObserved") && document.contains("EVChargingStation"))

        // An index definition reads the scenario's own indicators by their slugs.
        try """
            pipeline: {normalise: {method: goalposts}, aggregate: {method: arithmetic}}
            index: {code: CUR, name: Kerbside index}
            pillars:
              - code: KRB
                name: Kerbside
                indicators:
                  - {code: PARK, name: Parking occupancy, column: SC_parking_occupancy, direction: -1, goalposts: [0, 100], target: 85}
                  - {code: EVKWH, name: Charging energy, column: SC_charging_kwh_per_capita, direction: 1, goalposts: [0, 100], target: 50}
            """.write(toFile: dir + "/index.yaml", atomically: true, encoding: .utf8)
        let run = try ChildProcess(["run", dir + "/s.yaml", "--out", dir + "/out", "--progress", "0", "--index", dir + "/index.yaml"])
        #expect(await run.waitForExit() == 0, "\(run.output)")
        let index = try String(contentsOfFile: dir + "/out/index.csv", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",") }
        let kerbside = try #require(index.first?.firstIndex(of: "KRB"))
        #expect(index.count == 2 && Double(index[1][kerbside]).map { $0 > 0 && $0 < 100 } == true, "\(index)")
        let table = try String(contentsOfFile: dir + "/out/indicators.csv", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let header = try #require(table.first).map(String.init)
        let column = try #require(header.firstIndex(of: "SC_parking_occupancy"), "\(header)")
        let occupancy = try #require(Double(table[1][column]))
        #expect(occupancy > 5 && occupancy < 95)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/summary.json"))) as? [String: Any])
        let telemetry = try #require(summary["telemetry"] as? [String: Any])
        #expect(telemetry["lost"] as? Int == 0 && telemetry["invalid"] as? Int == 0, "\(telemetry)")
    }
}

/// Writes `bad` (why, topic, payload) to `dir/bad.jsonl` and runs the contract validator on
/// `dir/contract.json`, `dir/good.jsonl` and it.
func validateContract(in dir: String, bad: [(String, String, String)]) throws -> (Int32, String) {
    let lines = try bad.map { String(decoding: try JSONSerialization.data(withJSONObject: ["why": $0.0, "topic": $0.1, "payload": $0.2]), as: UTF8.self) }
    try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/bad.jsonl", atomically: true, encoding: .utf8)
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Contract/validate_contract.py").standardized.path
    return try shellStatus("python3 '\(script)' contract.json good.jsonl bad.jsonl", in: URL(fileURLWithPath: dir))
}

extension Integration.RunTests {
    /// Fleets writing flat JSON and NGSI-LD on a vendor topic layout: the contract describes
    /// every message (and refuses bad ones of each format), and a run through the broker takes
    /// every reading.
    @Test func otherPayloadFormatsAndLayoutsRunThroughTheBroker() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let yaml = gatewayScenarioYAML(duration: "6h")
            .replacingOccurrences(of: "mobility: {", with: "mobility: {payload: json, ")
            .replacingOccurrences(of: "environment: {", with: "environment: {payload: ngsi-ld, ")
            .replacingOccurrences(of: "mqtt:\n", with: "mqtt:\n  topic: \"vendor/{device}/{kind}\"\n")
        try yaml.write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        let contract = try ChildProcess(["contract", dir + "/s.yaml", "--output", dir + "/contract.json"])
        #expect(await contract.waitForExit() == 0, "\(contract.output)")
        let simulate = try ChildProcess(["simulate", dir + "/s.yaml", "--output", dir + "/good.jsonl"])
        #expect(await simulate.waitForExit() == 0, "\(simulate.output)")
        let good = try String(contentsOfFile: dir + "/good.jsonl", encoding: .utf8)
        #expect(good.contains(#""payload":{"ts":"#) && good.contains(#""type":"Property""#) && good.contains(#""payload":[{"bn""#))
        let at = #""observedAt":"2026-01-11T19:00:00Z""#
        let bad: [(String, String, String)] = [
            ("flat JSON with occupancy above its range", "vendor/alm-tf-000001/attrs", #"{"ts":1768158000000,"values":{"occupancy":1.5}}"#),
            ("flat JSON with an attribute the family lacks", "vendor/alm-tf-000001/attrs", #"{"ts":1768158000000,"values":{"colour":1}}"#),
            ("NGSI-LD with another unit code", "vendor/alm-aq-000001/attrs",
             #"{"id":"urn:ngsi-ld:AirQualityObserved:alm-aq-000001","type":"AirQualityObserved","pm25":{"type":"Property","value":40,\#(at),"unitCode":"KGM"}}"#),
            ("NGSI-LD with a bare value", "vendor/alm-aq-000001/attrs",
             #"{"id":"urn:ngsi-ld:AirQualityObserved:alm-aq-000001","type":"AirQualityObserved","pm25":40}"#),
        ]
        let (status, output) = try validateContract(in: dir, bad: bad)
        #expect(status == 0, "\(output)")
        // The long table of readings is the same as that of the SenML twin on the city scheme.
        try gatewayScenarioYAML(duration: "6h").write(toFile: dir + "/twin.yaml", atomically: true, encoding: .utf8)
        let twin = try ChildProcess(["simulate", dir + "/twin.yaml", "--output", dir + "/twin.jsonl"])
        #expect(await twin.waitForExit() == 0)
        for (messages, scenario, table) in [("good.jsonl", "s.yaml", "formats.csv"), ("twin.jsonl", "twin.yaml", "twin.csv")] {
            let export = try ChildProcess(["export", "readings", dir + "/" + messages, "--scenario", dir + "/" + scenario, "--output", dir + "/" + table])
            #expect(await export.waitForExit() == 0, "\(export.output)")
            #expect(!export.output.contains("left out"), "\(export.output)")
        }
        let rows = try ["formats.csv", "twin.csv"].map { try String(contentsOfFile: dir + "/" + $0, encoding: .utf8).split(separator: "\n").sorted() }
        #expect(rows[0].count > 1000 && rows[0] == rows[1])
        let run = try ChildProcess(["run", dir + "/s.yaml", "--out", dir + "/out", "--progress", "0"])
        #expect(await run.waitForExit() == 0, "\(run.output)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/summary.json"))) as? [String: Any])
        let telemetry = try #require(summary["telemetry"] as? [String: Any])
        #expect(telemetry["lost"] as? Int == 0 && telemetry["invalid"] as? Int == 0 && (telemetry["accepted"] as? Int ?? 0) > 1000, "\(telemetry)")
    }
}
