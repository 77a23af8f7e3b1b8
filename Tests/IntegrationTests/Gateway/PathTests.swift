import EmbeddedBroker
import Foundation
import MQTT
@testable import Gateway
import PostgresStore
import Simulator
import Testing
import TestSupport

/// Faults that hold readings back and cut connections: reboots and a reconnect storm of the
/// stations (their own connections), delayed water readings and duplicated copies.
let pathFaults = """
      - {kind: reboot, family: environment, share: 0.5, magnitude: 90}
      - {kind: reconnect-storm, family: environment, share: 0.5, start: 12h, duration: 1h, magnitude: 30}
      - {kind: duplicate, share: 0.1, probability: 0.05}
      - {kind: delayed, family: water, share: 0.2, probability: 0.2, magnitude: 600}

    """

extension Integration {
    /// The same scenario and seed give the same numbers on every path: through the broker at
    /// full speed and at a real-time multiple, with one gateway or three, and direct. Where a
    /// broker drops readings, the difference is exactly those readings.
    @Suite(.serialized, .timeLimit(.minutes(10))) struct PathTests {
        func directory() throws -> String {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smartcity-paths-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            return dir
        }

        static func json(_ path: String) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        }

        /// The cities x indicators table of a run: header and one row per city.
        static func table(_ path: String) throws -> [[String]] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
                .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        }

        static func tableMismatches(_ got: [[String]], _ want: [[String]]) -> [String] {
            guard got.count == want.count, got.first == want.first else { return ["tables differ in shape: \(got.first ?? []) vs \(want.first ?? [])"] }
            var out: [String] = []
            for (g, w) in zip(got.dropFirst(), want.dropFirst()) {
                for (column, (a, b)) in zip(want[0], zip(g, w)) where a != b {
                    guard let x = Double(a), let y = Double(b), abs(x - y) <= 1e-9 * max(1, abs(y)) else {
                        out.append("\(column): \(a) vs \(b)")
                        continue
                    }
                }
            }
            return out
        }

        /// A run through the broker at full speed, at a real-time multiple and with three
        /// gateways on a PostgreSQL store, and the direct run, of a day with faults: the same
        /// windows, indicator table and index to 1e-9, every reading delivered once, and the
        /// same balance.
        @Test func everyPathGivesTheNumbersOfTheDirectRun() async throws {
            let server = try PostgresServer()
            defer { server.stop() }
            let dir = try directory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try partitionScenarioYAML(duration: "1d").appending("faults:\n" + pathFaults).write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
            let runs: [(String, [String])] = [
                ("direct", ["--direct"]), ("max", []), ("fast", ["--speed", "20000"]),
                ("three", ["--gateways", "3", "--store", server.url]),
            ]
            for (out, extra) in runs {
                let run = try ChildProcess(["run", dir + "/s.yaml", "--out", dir + "/" + out, "--progress", "0"] + extra)
                #expect(await run.waitForExit() == 0, "\(out): \(run.output)")
            }
            let direct = try Self.table(dir + "/direct/indicators.csv")
            #expect(direct.count == 2 && direct[0].count > 20)
            let reference = try SQLiteStore(path: dir + "/direct/gateway.sqlite").windows(city: nil, resolution: nil)
            let balance = try #require(Self.json(dir + "/direct/summary.json")["balance"] as? [String: Any])
            let readings = try #require(balance["readings"] as? [String: Any])
            #expect(readings["lost"] as? Int == 0 && readings["tooLate"] as? Int == 0, "\(readings)")
            #expect((readings["copies"] as? Int ?? 0) > 0 && readings["copiesDelivered"] as? Int == readings["copies"] as? Int, "\(readings)")
            for (out, _) in runs.dropFirst() {
                let mismatches = Self.tableMismatches(try Self.table(dir + "/\(out)/indicators.csv"), direct), differing = mismatches.count
                #expect(differing == 0, "\(out): \(mismatches.prefix(5))")
                #expect(try String(contentsOfFile: dir + "/\(out)/index.csv", encoding: .utf8) == String(contentsOfFile: dir + "/direct/index.csv", encoding: .utf8), "\(out)")
                let store: any TelemetryStore = out == "three" ? try PostgresStore(url: server.url, local: nil, definitions: [])
                    : try SQLiteStore(path: dir + "/\(out)/gateway.sqlite")
                let w = PartitionTests.windowMismatches(try store.windows(city: nil, resolution: nil), reference), wrong = w.count
                #expect(wrong == 0, "\(out): \(w.prefix(5))")
                let other = try #require(Self.json(dir + "/\(out)/summary.json")["balance"] as? [String: Any])
                let r = try #require(other["readings"] as? [String: Any]), s = try #require(other["statuses"] as? [String: Any])
                for key in ["generated", "sent", "delivered", "accepted", "copies", "copiesDelivered", "duplicates", "lost", "tooLate", "invalid"] {
                    #expect(r[key] as? Int == readings[key] as? Int, "\(out) readings.\(key): \(r[key] ?? "-") vs \(readings[key] ?? "-")")
                }
                // Through the broker, the cut links' statuses are the broker's last wills.
                #expect((s["wills"] as? Int ?? 0) > 0 && s["lost"] as? Int == 0, "\(out): \(s)")
                #expect(other["received"] as? Int == balance["received"] as? Int, "\(out): received \(other["received"] ?? "-")")
            }
        }

        /// A broker whose ACL refuses the lighting fleet's publishes: the run's windows are
        /// those of the direct path's input without those messages, and the balance counts
        /// each refused reading as refused, none as lost.
        @Test func theReadingsABrokerRefusesAreTheWholeDifference() async throws {
            let dir = try directory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try (["topic read city/#"] + ["mobility", "waste", "water", "environment", "indicators"].map { "topic readwrite city/+/\($0)/#" })
                .joined(separator: "\n").write(toFile: dir + "/acl", atomically: true, encoding: .utf8)
            let broker = try await EmbeddedBroker.start(.init(extraLines: ["acl_file \(dir)/acl"]))
            defer { broker.stop() }
            let yaml = gatewayScenarioYAML(duration: "12h", faults: pathFaults).replacingOccurrences(of: "  qos: 1", with: "  qos: 1\n  protocol: \"5\"")
            try yaml.write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
            let run = try ChildProcess(["run", dir + "/s.yaml", "--broker", broker.url.description, "--out", dir + "/out", "--progress", "0"])
            #expect(await run.waitForExit() == 0, "\(run.output)")
            let balance = try #require(Self.json(dir + "/out/summary.json")["balance"] as? [String: Any])
            let readings = try #require(balance["readings"] as? [String: Any])

            let scenario = try Scenario(yaml: yaml, file: "s.yaml")
            let all = simulated(scenario)
            let kept = all.filter { !$0.topicString.contains("/lighting/") }
            let lighting = all.filter { $0.topicString.contains("/lighting/") && $0.kind == .telemetry }
            #expect(!lighting.isEmpty)
            #expect(readings["refusedByBroker"] as? Int == lighting.count && readings["lost"] as? Int == 0, "\(readings)")
            let (_, windows, _) = try aggregated(kept, gatewayConfig(scenario))
            let w = PartitionTests.windowMismatches(try SQLiteStore(path: dir + "/out/gateway.sqlite").windows(city: nil, resolution: nil), windows), wrong = w.count
            #expect(wrong == 0, "\(w.prefix(5))")
        }

        /// Too short a lateness for the scenario's faults and drift is refused before the run
        /// starts, with the numbers.
        @Test func aLatenessThatWouldDropReadingsIsRefused() async throws {
            let dir = try directory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try gatewayScenarioYAML(duration: "1h", faults: pathFaults).write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
            let run = try ChildProcess(["run", dir + "/s.yaml", "--out", dir + "/out", "--lateness", "10m", "--progress", "0"])
            #expect(await run.waitForExit() != 0)
            #expect(run.output.contains("longest fault delay of 601 s") && run.output.contains("allow at least 901 s"), "\(run.output)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/out/summary.json"))
            let direct = try ChildProcess(["run", dir + "/s.yaml", "--direct", "--out", dir + "/out", "--lateness", "5m", "--progress", "0"])
            #expect(await direct.waitForExit() != 0)
            #expect(direct.output.contains("allow at least 601 s"), "\(direct.output)")
        }
    }
}
