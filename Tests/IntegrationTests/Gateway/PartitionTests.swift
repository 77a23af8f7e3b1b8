import EmbeddedBroker
import Foundation
@testable import Gateway
import Logging
import PostgresStore
import Simulator
import Telemetry
import Testing
import TestSupport

/// The gateway test city with four districts, so three partitions each own one or two.
func partitionScenarioYAML(duration: String) -> String {
    gatewayScenarioYAML(duration: duration).replacingOccurrences(
        of: "      - {id: south, share: 1}", with: "      - {id: south, share: 1}\n      - {id: east, share: 1}\n      - {id: west, share: 1}")
}

extension Integration {
    /// Gateways that split a city by district over a shared PostgreSQL store give the windows,
    /// indicators and index of one gateway, also when one of them is killed and restarted;
    /// a partition or client id already held is refused.
    @Suite(.serialized, .timeLimit(.minutes(10))) struct PartitionTests {
        func directory() throws -> String {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smartcity-partition-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            return dir
        }

        /// The partition (1-based) whose districts hold the message's device.
        static func owner(_ topic: String, _ facts: CityFacts, of count: Int) -> Int {
            let district = String(topic.split(separator: "/")[3])
            return (1...count).first { Partition(index: $0, count: count)!.owns(district: district, of: facts) }!
        }

        static func sameWindow(_ a: WindowPartial, _ b: WindowPartial) -> Bool {
            a.count == b.count && abs(a.sum - b.sum) <= 1e-9 * max(1, abs(a.sum)) && a.min == b.min && a.max == b.max
                && a.firstValue == b.firstValue && a.lastValue == b.lastValue && abs(a.increment - b.increment) <= 1e-9 * max(1, abs(a.increment))
        }

        /// Windows of the store against the reference's: the same keys and partials.
        static func windowMismatches(_ stored: [WindowRecord], _ reference: [WindowRecord]) -> [String] {
            let want = finalWindows(reference), got = finalWindows(stored)
            var out: [String] = []
            if got.count != want.count { out.append("\(got.count) windows stored, \(want.count) expected") }
            for (key, w) in want {
                guard let g = got[key] else { out.append("missing \(key)"); continue }
                if !sameWindow(w.partial, g.partial) { out.append("\(key): \(w.partial) vs \(g.partial)") }
            }
            return out
        }

        /// Every indicator value of the store against the reference's newest values.
        static func indicatorMismatches(_ store: any TelemetryStore, _ reference: [IndicatorValue], codes: [String]) throws -> [String] {
            var want: [String: IndicatorValue] = [:]
            for v in reference {
                let key = "\(v.city)|\(v.code)|\(v.resolution)|\(v.start)"
                if let old = want[key], old.revision > v.revision { continue }
                want[key] = v
            }
            var got: [String: Double] = [:]
            for code in codes {
                for resolution in Resolution.allCases {
                    for row in try store.indicatorSeries(city: "almaty", code: code, resolution: resolution, from: nil, to: nil) {
                        got["\(row.city)|\(row.code)|\(resolution)|\(row.start)"] = row.value
                    }
                }
            }
            var out: [String] = []
            if got.count != want.count { out.append("\(got.count) indicator values stored, \(want.count) expected") }
            for (key, v) in want {
                guard let g = got[key] else { out.append("missing \(key)"); continue }
                if abs(g - v.value) > 1e-9 * max(1, abs(v.value)) { out.append("\(key): \(g) vs \(v.value)") }
            }
            return out
        }

        /// Two and three partitions fed what their subscriptions would bring, the second of
        /// three crashing halfway and coming back from its checkpoint and journal: the store
        /// holds the windows and indicators one aggregator computes from all the messages.
        @Test func partitionsMergeToTheWindowsAndIndicatorsOfOneGateway() throws {
            let server = try PostgresServer()
            defer { server.stop() }
            let dir = try directory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let s = try Scenario(yaml: partitionScenarioYAML(duration: "12h"), file: "partition-test.yaml")
            let facts = s.cities[0].facts
            let messages = simulated(s)
            let (reference, windows, values) = try aggregated(messages, gatewayConfig(s))
            let codes = reference.indicators.map(\.code)

            for n in [2, 3] {
                try PostgresStore.empty(url: server.url)
                func config(_ k: Int) -> GatewayConfig {
                    var c = gatewayConfig(s)
                    c.store = server.url
                    c.partition = Partition(index: k, count: n)
                    c.journal = dir + "/journal-\(k)of\(n)"
                    c.clientID = "gateway-\(k)of\(n)"
                    c.httpPort = nil
                    c.statusInterval = 0
                    c.publishIndicators = false
                    return c
                }
                func open(_ k: Int) throws -> GatewayService {
                    let c = config(k)
                    return try GatewayService(config: c, store: try PostgresStore(url: server.url, local: c.journalPath + ".checkpoints.sqlite"),
                                              logger: Logger(label: "test"))
                }
                var services = try (1...n).map(open)
                var checkedWatermark = false
                // With two: partition 2 lags half the run behind (its messages held back).
                var held: [SimMessage] = []
                let mid = messages.count / 2
                func merged() throws -> [IndicatorRow] {
                    try services[0].store.indicatorSeries(city: "almaty", code: codes[0], resolution: .base, from: nil, to: nil)
                }
                for (i, m) in messages.enumerated() {
                    if i == mid {
                        if n == 2 {
                            // Partition 2 is live but has not passed any window: nothing is merged.
                            for service in services.reversed() { try service.flush(checkpoint: true) }
                            #expect(try merged().isEmpty, "merged before a live partition passed the windows")
                            for h in held { services[1].receive(topic: h.topicString, payload: h.payload) }
                            for service in services.reversed() { try service.flush(checkpoint: true) }
                        }
                        // Merged: what every live partition has passed, and only that.
                        let clocks = try (services[0].store as! PostgresStore).partitions(count: n).compactMap { $0.report.clocks["almaty"] }
                        let rows = try merged()
                        #expect(!rows.isEmpty && rows.allSatisfy { $0.end <= clocks.min()! }, "merged beyond the slowest partition")
                        checkedWatermark = true
                        if n == 3 {
                            // Partition 2 crashes: what it took is in its journal (as before every
                            // acknowledgement), its state in the last checkpoint.
                            try services[1].journal.flush()
                            services.remove(at: 1)
                            services.insert(try open(2), at: 1)
                            #expect(services[1].replayed > 0, "the restart replays its journal")
                            // The broker's redelivery of what it had not seen acknowledged: counted once.
                            for m in messages[(i - 200)..<i] where Self.owner(m.topicString, facts, of: n) == 2 {
                                services[1].receive(topic: m.topicString, payload: m.payload)
                            }
                        }
                    }
                    let k = Self.owner(m.topicString, facts, of: n)
                    if n == 2, k == 2, i < mid {
                        held.append(m)
                        continue
                    }
                    services[k - 1].receive(topic: m.topicString, payload: m.payload)
                    if i % 250 == 249 { for service in services.reversed() { try service.flush(checkpoint: true) } }
                }
                #expect(checkedWatermark)
                for service in services { try service.flush(checkpoint: true, provisional: true) }
                let store = services[0].store
                let merger = IndicatorMerger(store: store as! PostgresStore, config: config(1), partitions: n, definitions: reference.indicators)
                try merger.step(final: true)
                let accepted = services.reduce(Int64(0)) { $0 + $1.counters().0.accepted }
                #expect(accepted == reference.counters.accepted, "\(n) partitions: every reading once")
                let w = Self.windowMismatches(try store.windows(city: nil, resolution: nil), windows)
                #expect(w.isEmpty, "\(n) partitions: \(w.prefix(5))")
                let v = try Self.indicatorMismatches(store, values, codes: codes)
                #expect(v.isEmpty, "\(n) partitions: \(v.prefix(5))")
            }
        }
    
        /// Three gateway processes on a broker, each with its partition; the second is killed
        /// mid-stream and started again. A fourth instance for a partition already held, one
        /// on a journal in use, one with another partition's client id and one that splits the
        /// store another number of ways are refused. `gateway merge` then gives the windows and
        /// indicators of one aggregator over every message.
        @Test func gatewayProcessesShareTheCityAndOneKilledComesBack() async throws {
            let server = try PostgresServer()
            defer { server.stop() }
            let dir = try directory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let yaml = partitionScenarioYAML(duration: "1d")
            try yaml.write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
            let s = try Scenario(yaml: yaml, file: dir + "/s.yaml")
            let facts = s.cities[0].facts
            let messages = simulated(s)
            let expected = (1...3).map { k in messages.filter { $0.kind == .telemetry && Self.owner($0.topicString, facts, of: 3) == k }.count }
            try PostgresStore.empty(url: server.url)
            let broker = try await EmbeddedBroker.start()
            defer { broker.stop() }
            func arguments(_ partition: String, journal: String, clientID: String? = nil) -> [String] {
                ["gateway", "serve", "--broker", "mqtt://127.0.0.1:\(broker.port)", "--store", server.url, "--scenario", dir + "/s.yaml",
                 "--partition", partition, "--journal", dir + "/" + journal, "--lateness", "3d", "--no-http", "--no-publish",
                 "--status-interval", "0.05", "--checkpoint-interval", "0.2"] + (clientID.map { ["--client-id", $0] } ?? [])
            }
            func refused(_ args: [String], saying text: String) async throws {
                let process = try ChildProcess(args)
                #expect(await process.waitForExit() != 0)
                #expect(process.output.contains(text), "\(process.output)")
            }
            var gateways: [Int: ChildProcess] = [:]
            for k in [1, 3] {
                gateways[k] = try ChildProcess(arguments("\(k)/3", journal: "journal-\(k)"))
                _ = try await gateways[k]!.waitForLine { $0.contains("subscribed to") }
            }
            try await refused(arguments("2/3", journal: "journal-2", clientID: "smartcity-gateway-p1of3"),
                              saying: "client id 'smartcity-gateway-p1of3' is used by partition 1/3")
            gateways[2] = try ChildProcess(arguments("2/3", journal: "journal-2"))
            _ = try await gateways[2]!.waitForLine { $0.contains("subscribed to") }
            try await refused(arguments("2/3", journal: "journal-twin"), saying: "partition 2/3 is held by")
            try await refused(arguments("2/3", journal: "journal-2"), saying: "in use by another gateway process")
            try await refused(arguments("1/2", journal: "journal-halves"), saying: "split 3 ways")

            let publisher = try Publisher(generator: Generator(scenario: s), broker: broker.url)
            try await publisher.connect()
            let box = Unchecked(publisher)
            let publishing = Task { try await box.value.run { _ in } }
            // Partition 2 is killed well into the stream and started again on its journal.
            let before = try await gateways[2]!.waitForLine { (statusValue($0, "accepted") ?? 0) >= expected[1] / 4 }
            gateways[2]!.signal(SIGKILL)
            #expect(await gateways[2]!.waitForExit() != 0)
            #expect((statusValue(before, "accepted") ?? 0) < expected[1], "killed mid-stream")
            gateways[2] = try ChildProcess(arguments("2/3", journal: "journal-2"))
            let outcome = try await publishing.value
            #expect(outcome.unacknowledged == 0)
            await publisher.close()
            for k in 1...3 {
                _ = try await gateways[k]!.waitForLine(timeout: 120) { statusValue($0, "accepted") == expected[k - 1] }
                gateways[k]!.signal(SIGTERM)
            }
            for k in 1...3 { #expect(await gateways[k]!.waitForExit() == 0) }
            let merge = try ChildProcess(["gateway", "merge", "--partitions", "3", "--store", server.url, "--scenario", dir + "/s.yaml", "--lateness", "3d"])
            #expect(await merge.waitForExit() == 0, "\(merge.output)")

            let (reference, windows, values) = try aggregated(messages, gatewayConfig(s, lateness: 3 * 86_400))
            #expect(reference.counters.accepted == Int64(expected.reduce(0, +)))
            let store = try PostgresStore(url: server.url, local: nil, definitions: [])
            let w = Self.windowMismatches(try store.windows(city: nil, resolution: nil), windows)
            #expect(w.isEmpty, "\(w.prefix(5))")
            let v = try Self.indicatorMismatches(store, values, codes: reference.indicators.map(\.code))
            #expect(v.isEmpty, "\(v.prefix(5))")
        }
    
        /// The main job through the broker with three gateways gives the indicator table and
        /// the index of the run with one.
        @Test func aRunWithThreeGatewaysGivesTheIndexOfOne() async throws {
            let server = try PostgresServer()
            defer { server.stop() }
            let dir = try directory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try partitionScenarioYAML(duration: "1d").write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
            let alone = try ChildProcess(["run", dir + "/s.yaml", "--gateways", "2", "--out", dir + "/x", "--progress", "0"])
            #expect(await alone.waitForExit() != 0)
            #expect(alone.output.contains("needs a store every instance shares"), "\(alone.output)")
            for (out, extra) in [("one", [String]()), ("three", ["--gateways", "3", "--store", server.url])] {
                let run = try ChildProcess(["run", dir + "/s.yaml", "--out", dir + "/" + out, "--progress", "0"] + extra)
                #expect(await run.waitForExit() == 0, "\(run.output)")
                if out == "three" { #expect(run.output.contains("merged"), "\(run.output)") }
            }
            func table(_ out: String) throws -> [[String]] {
                try String(contentsOfFile: dir + "/\(out)/indicators.csv", encoding: .utf8).split(separator: "\n")
                    .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            }
            let one = try table("one"), three = try table("three")
            #expect(one.first == three.first && one.count == three.count && one.count == 2)
            for (a, b) in zip(three[1].dropFirst(2), one[1].dropFirst(2)) {
                let x = Double(a) ?? .nan, y = Double(b) ?? .nan
                #expect(abs(x - y) <= 1e-9 * max(1, abs(y)), "\(a) vs \(b)")
            }
            #expect(try String(contentsOfFile: dir + "/three/index.csv", encoding: .utf8) == String(contentsOfFile: dir + "/one/index.csv", encoding: .utf8))
        }
    }
}
