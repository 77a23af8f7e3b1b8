import EmbeddedBroker
import Foundation
@testable import Gateway
import MQTT
import Simulator
import Telemetry
import Testing
import TestSupport

extension Integration {
    /// The paths that do not run the simulator next to the gateway: two simulator processes
    /// one after the other into one gateway, and a run from a recorded message file.
    @Suite(.serialized, .timeLimit(.minutes(10))) struct ContinuationTests {
        func directory() throws -> String {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smartcity-continue-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            return dir
        }

        /// A simulator stopped after half a day and a second one continuing the period into the
        /// same gateway (its devices number their messages from 1 again): every reading of
        /// both is accepted, none taken for a duplicate, and the windows are those of the whole
        /// day aggregated at once.
        @Test func aSecondSimulatorContinuingThePeriodIsAcceptedWhole() async throws {
            let dir = try directory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let yaml = gatewayScenarioYAML(duration: "1d")
            try yaml.write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
            let day = try Scenario(yaml: yaml, file: dir + "/s.yaml")
            var first = day, second = day
            first.duration = day.duration / 2
            second.start = day.start + first.duration
            second.duration = day.duration - first.duration
            let halves = [simulated(first, status: false), simulated(second, status: false)]
            let expected = halves[0].count + halves[1].count

            let broker = try await EmbeddedBroker.start()
            defer { broker.stop() }
            let gateway = try ChildProcess(["gateway", "serve", "--broker", broker.url.description, "--store", dir + "/gateway.sqlite",
                                            "--journal", dir + "/journal", "--scenario", dir + "/s.yaml", "--lateness", "3d",
                                            "--no-http", "--no-publish", "--status-interval", "0.05", "--checkpoint-interval", "0.2"])
            _ = try await gateway.waitForLine { $0.contains("subscribed to") }
            for (k, half) in [first, second].enumerated() {
                let simulate = try ChildProcess(["simulate", dir + "/s.yaml", "--broker", broker.url.description, "--no-status", "--progress", "0",
                                                 "--start", Timestamps.format(half.start), "--duration", "\(half.duration)s"])
                #expect(await simulate.waitForExit() == 0, "\(simulate.output)")
                let before = halves[..<(k + 1)].map(\.count).reduce(0, +)
                _ = try await gateway.waitForLine(timeout: 120) { statusValue($0, "accepted") == before }
            }
            gateway.signal(SIGTERM)
            #expect(await gateway.waitForExit() == 0)
            let last = gateway.output.split(separator: "\n").last { $0.contains(" accepted ") }.map(String.init) ?? ""
            #expect(statusValue(last, "accepted") == expected && statusValue(last, "dup") == 0, "\(last)")

            let (_, windows, _) = try aggregated(halves[0] + halves[1], gatewayConfig(day, lateness: 3 * 86_400))
            let w = PartitionTests.windowMismatches(try SQLiteStore(path: dir + "/gateway.sqlite").windows(city: nil, resolution: nil), windows)
            #expect(w.isEmpty, "\(w.prefix(5))")
        }

        /// `simulate --output` and then `run --recording` of the file give the indicator table,
        /// index, windows and balance of `run --direct`; a file that is not a recording is
        /// refused with its line.
        @Test func aRecordingGivesTheNumbersOfTheDirectRun() async throws {
            let dir = try directory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try gatewayScenarioYAML(duration: "1d", faults: pathFaults).write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
            let record = try ChildProcess(["simulate", dir + "/s.yaml", "--output", dir + "/messages.jsonl", "--progress", "0"])
            #expect(await record.waitForExit() == 0, "\(record.output)")
            for (out, extra) in [("direct", ["--direct"]), ("recording", ["--recording", dir + "/messages.jsonl"])] {
                let run = try ChildProcess(["run", dir + "/s.yaml", "--out", dir + "/" + out, "--progress", "0"] + extra)
                #expect(await run.waitForExit() == 0, "\(out): \(run.output)")
            }
            let direct = try PathTests.table(dir + "/direct/indicators.csv")
            let mismatches = PathTests.tableMismatches(try PathTests.table(dir + "/recording/indicators.csv"), direct), differing = mismatches.count
            #expect(direct.count == 2 && differing == 0, "\(mismatches.prefix(5))")
            #expect(try String(contentsOfFile: dir + "/recording/index.csv", encoding: .utf8) == String(contentsOfFile: dir + "/direct/index.csv", encoding: .utf8))
            let w = PartitionTests.windowMismatches(try SQLiteStore(path: dir + "/recording/gateway.sqlite").windows(city: nil, resolution: nil),
                                                    try SQLiteStore(path: dir + "/direct/gateway.sqlite").windows(city: nil, resolution: nil))
            #expect(w.isEmpty, "\(w.prefix(5))")
            let want = try PathTests.json(dir + "/direct/summary.json"), got = try PathTests.json(dir + "/recording/summary.json")
            #expect(got["balance"] as? NSDictionary == want["balance"] as? NSDictionary, "\(got["balance"] ?? "-")")
            #expect((got["path"] as? String)?.hasPrefix("recording") == true)

            try "{\"at\":1,\"topic\":\"city/x\"}\nnot json\n".write(toFile: dir + "/bad.jsonl", atomically: true, encoding: .utf8)
            let bad = try ChildProcess(["run", dir + "/s.yaml", "--out", dir + "/bad", "--progress", "0", "--recording", dir + "/bad.jsonl"])
            #expect(await bad.waitForExit() != 0)
            #expect(bad.output.contains("bad.jsonl:1"), "\(bad.output)")
        }
    }
}
