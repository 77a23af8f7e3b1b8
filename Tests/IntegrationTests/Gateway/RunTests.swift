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

extension Integration {
@Suite(.serialized, .timeLimit(.minutes(5))) struct RunTests {
    func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// `smartcity run` through its private broker ends with every message received, and its
    /// indicator table equals the one the gateway computes offline from the same simulated file.
    @Test func aRunLosesNothingAndMatchesTheOfflineIndicators() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try gatewayScenarioYAML(duration: "1d", faults: "  - {kind: duplicate, share: 0.3, probability: 0.2}\n")
            .write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        let run = try ChildProcess(["run", dir + "/s.yaml", "--out", dir + "/out", "--lateness", "2d", "--progress", "0"])
        #expect(await run.waitForExit() == 0, "\(run.output)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/summary.json"))) as? [String: Any])
        let telemetry = try #require(summary["telemetry"] as? [String: Any])
        let simulation = try #require(summary["simulation"] as? [String: Any])
        #expect(telemetry["lost"] as? Int == 0)
        #expect(telemetry["allArrived"] as? Bool == true)
        let readings = (simulation["messages"] as? Int ?? 0) - (simulation["statusMessages"] as? Int ?? 0)
        let counted = ["accepted", "duplicates", "invalid", "tooLate"].map { telemetry[$0] as? Int ?? 0 }.reduce(0, +)
        #expect(counted == readings)
        #expect((telemetry["duplicates"] as? Int ?? 0) > 0)
        let latency = try #require(summary["latency"] as? [String: Any])
        let p50 = latency["p50Ms"] as? Double ?? -1, p99 = latency["p99Ms"] as? Double ?? -1
        #expect(latency["samples"] as? Int == readings, "every message is timed (a device's copy too, a broker's redelivery not)")
        #expect(p50 >= 0 && p99 >= p50 && (latency["maxMs"] as? Double ?? -1) >= p99)
        // The delivery time series: per interval and domain, and the whole fleet's ("all")
        // rates add up to what was sent and received; nothing is lost at the end.
        let series = try String(contentsOfFile: dir + "/out/latency.csv", encoding: .utf8).split(separator: "\n")
        #expect(series.first == "interval,time,elapsed_s,domain,offered_per_s,delivered_per_s,p50_ms,p90_ms,p99_ms,p99_9_ms,max_ms,lost_so_far")
        let all = series.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }.filter { $0[3] == "all" }
        #expect(all.count > 1 && all.map { Int($0[0])! } == Array(0..<all.count), "one row per interval, none left out")
        #expect(Int(all.map { Double($0[4])! }.reduce(0, +).rounded()) == readings, "offered: every reading handed to the broker")
        #expect(Int(all.map { Double($0[5])! }.reduce(0, +).rounded()) == readings, "delivered: each once")
        #expect(all.last?.last == "0")
        #expect(all.contains { !$0[6].isEmpty && Double($0[6])! <= Double($0[8])! && Double($0[8])! <= Double($0[10])! })
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/latency.json"))) as? [String: Any])
        #expect(json["intervalSeconds"] as? Double == 1 && (json["rows"] as? [Any])?.count == series.count - 1)
        #expect(simulation["scenarioHash"] as? String != nil && simulation["seed"] as? Int == 7)
        // The index: one row per city with pillars, index, rank and stage, also in the summary.
        let index = try String(contentsOfFile: dir + "/out/index.csv", encoding: .utf8).split(separator: "\n")
        #expect(index.first == "uCode,ECO,GOV,LIV,SAF,MOB,ENV,UTL,DIG,SCI,Rank,Stage")
        #expect(index.dropFirst().first?.hasPrefix("almaty,") == true)
        #expect(index.dropFirst().first?.hasSuffix(",1,implementer") == true, "no governance steps in the test profile")
        let cities = (summary["index"] as? [String: Any])?["cities"] as? [[String: Any]]
        #expect((cities?.first?["score"] as? Double ?? -1) > 0)

        // The ground truth: labels.csv, the same rows as simulate --labels writes.
        let labels = try String(contentsOfFile: dir + "/out/labels.csv", encoding: .utf8).split(separator: "\n")
        #expect(labels.first == Substring(GroundTruthLabel.csvHeader))
        #expect(labels.count - 1 == summary["labels"] as? Int && labels.count > 1, "\(labels.count)")
        #expect(labels.filter { $0.contains(",duplicate,fault,") }.count > 0)

        // Offline: the same scenario written to a file, aggregated without a broker.
        let simulate = try ChildProcess(["simulate", dir + "/s.yaml", "--output", dir + "/messages.jsonl", "--labels", dir + "/labels.csv"])
        #expect(await simulate.waitForExit() == 0)
        let simulated = try String(contentsOfFile: dir + "/labels.csv", encoding: .utf8).split(separator: "\n")
        #expect(simulated.sorted() == labels.sorted(), "run and simulate label the same episodes")
        let replay = try ChildProcess(["gateway", "replay", dir + "/messages.jsonl", "--scenario", dir + "/s.yaml",
                                       "--store", dir + "/offline.sqlite", "--lateness", "2d"])
        #expect(await replay.waitForExit() == 0, "\(replay.output)")
        let online = try table(dir + "/out/indicators.csv")
        let offline = try table(try SQLiteStore(path: dir + "/offline.sqlite").indicatorTable(resolution: .day), text: true)
        #expect(online.keys.sorted() == offline.keys.sorted())
        #expect(online.count > 10)
        for (column, value) in offline {
            let other = online[column] ?? .nan
            #expect(abs(value - other) <= 1e-9 * max(1, abs(value)), "\(column): offline \(value), run \(other)")
        }
        // The report: well-formed, with every table and chart.
        let html = try Data(contentsOf: URL(fileURLWithPath: dir + "/out/report.html"))
        let parser = XMLParser(data: Data(String(decoding: html, as: UTF8.self).replacingOccurrences(of: "<!DOCTYPE html>", with: "").utf8))
        #expect(parser.parse(), "report.html is not well-formed: \(parser.parserError.map { "\($0)" } ?? "")")
        let text = String(decoding: html, as: UTF8.self)
        for section in ["id=\"ranking\"", "id=\"profiles\"", "id=\"series\"", "id=\"health\"", "id=\"alarms\"", "id=\"delivery\"", "id=\"sdg\"", "id=\"indicators\""] {
            #expect(text.contains(section), "\(section) missing")
        }
        #expect(text.components(separatedBy: "<svg").count - 1 == 1 + 1 + 4 + 1 + 2, "one rank bar, the pillar chart, four line charts, the alarm timeline, rates and latency")
        #expect(text.contains("<polyline"), "the time series have lines")
        #expect(!text.contains("http://") && !text.contains("https://") && !text.contains("<script"), "self-contained")

        // And the index computed offline from those readings equals the run's.
        let scenario = try Scenario(contentsOf: dir + "/s.yaml")
        let definitionPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../Config/index/smart-city.yaml").standardized.path
        var table = try SQLiteStore(path: dir + "/offline.sqlite").indicatorMeans(resolution: .day)
        for city in scenario.cities { table[city.id, default: [:]].merge(city.profileIndicators) { $1 } }
        let result = try SmartCityDefinition(contentsOf: definitionPath).evaluate(cities: ["almaty"], table: table, governance: [:])
        let offlineIndex = try #require(result.score("SCI", city: "almaty"))
        let runIndex = try #require(cities?.first?["score"] as? Double)
        #expect(abs(offlineIndex - runIndex) <= 1e-9 * offlineIndex, "offline \(offlineIndex), run \(runIndex)")
    }

    @Test func anUnreachableBrokerFailsFastAndClearly() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try gatewayScenarioYAML(duration: "1h").write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        let started = Date()
        let run = try ChildProcess(["run", dir + "/s.yaml", "--broker", "mqtt://127.0.0.1:1", "--out", dir + "/out"])
        #expect(await run.waitForExit() != 0)
        #expect(Date().timeIntervalSince(started) < 15)
        #expect(run.output.contains("cannot reach the broker at mqtt://127.0.0.1:1"), "\(run.output)")
    }

    /// The almaty row of an indicator table as column -> value.
    func table(_ pathOrText: String, text: Bool = false) throws -> [String: Double] {
        let content = text ? pathOrText : try String(contentsOfFile: pathOrText, encoding: .utf8)
        let lines = content.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first, let row = lines.dropFirst().first(where: { $0.first == "almaty" }) else { return [:] }
        var out: [String: Double] = [:]
        for (i, name) in header.enumerated().dropFirst(2) where i < row.count { out[name] = Double(row[i]) }
        return out
    }
}
}

extension Integration.RunTests {
    /// Ctrl-C mid-run: the run stops publishing (or, direct, simulating), still aggregates what
    /// was sent and writes a summary whose balance adds up.
    @Test(arguments: [false, true])
    func anInterruptedRunLeavesAConsistentSummary(direct: Bool) async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try gatewayScenarioYAML(duration: direct ? "10y" : "60d").write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        let run = try ChildProcess(["run", dir + "/s.yaml", "--out", dir + "/out", "--progress", "0.2"] + (direct ? ["--direct"] : []))
        _ = try await run.waitForLine { $0.hasPrefix("sim ") }
        run.signal(SIGINT)
        #expect(await run.waitForExit() == 0, "\(run.output)")
        #expect(run.output.contains("run: interrupted"))
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/summary.json"))) as? [String: Any])
        #expect(summary["interrupted"] as? Bool == true)
        let telemetry = try #require(summary["telemetry"] as? [String: Any])
        let simulation = try #require(summary["simulation"] as? [String: Any])
        #expect(telemetry["lost"] as? Int == 0)
        let until = summary["simulatedUntil"] as? String ?? ""
        let end = simulation["end"] as? String ?? ""
        #expect(!until.isEmpty && until < end, "stopped at \(until), before the scenario's end \(end)")
        #expect((telemetry["sent"] as? Int ?? 0) > 0)
        let readings = (simulation["messages"] as? Int ?? 0) - (simulation["statusMessages"] as? Int ?? 0)
        let counted = ["accepted", "duplicates", "invalid", "tooLate"].map { telemetry[$0] as? Int ?? 0 }.reduce(0, +)
        #expect(counted == readings, "every reading sent is accounted for")
        #expect(FileManager.default.fileExists(atPath: dir + "/out/index.csv"))
        #expect(summary["path"] as? String == (direct ? "direct" : "broker"))
    }

    /// A city's facts have one source: a gateway configuration that lists a city of the
    /// scenario with other facts is refused, naming both files and the fix.
    @Test func aConfigurationThatContradictsTheScenarioIsRefused() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try gatewayScenarioYAML().write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        try "cities:\n  - {id: almaty, population: 5, area-km2: 1}\n".write(toFile: dir + "/gw.yaml", atomically: true, encoding: .utf8)
        try "".write(toFile: dir + "/empty.jsonl", atomically: true, encoding: .utf8)
        let replay = try ChildProcess(["gateway", "replay", dir + "/empty.jsonl", "--config", dir + "/gw.yaml", "--scenario", dir + "/s.yaml",
                                       "--store", dir + "/g.sqlite"])
        #expect(await replay.waitForExit() != 0)
        #expect(replay.output.contains("city 'almaty' is listed in \(dir)/gw.yaml and in \(dir)/s.yaml with different facts"), "\(replay.output)")
        #expect(replay.output.contains("remove it from the configuration's 'cities'"))
    }
}

extension Integration.RunTests {
    /// The broker dies mid-run and stays down: the run says so, gives it up after
    /// --broker-outage, writes every output marked interrupted with the balance so far, and
    /// exits with an error, within seconds instead of hanging.
    @Test func aBrokerThatDiesEndsTheRunPromptlyWithItsOutputs() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try gatewayScenarioYAML(duration: "60d").write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        let broker = try await EmbeddedBroker.start()
        let run = try ChildProcess(["run", dir + "/s.yaml", "--broker", broker.url.description, "--out", dir + "/out",
                                    "--progress", "0.2", "--broker-outage", "3s"])
        _ = try await run.waitForLine { $0.hasPrefix("sim ") }
        broker.stop()
        let began = ContinuousClock.now
        _ = try await run.waitForLine(timeout: 30) { $0.contains("lost the broker") }
        #expect(await run.waitForExit() != 0, "\(run.output)")
        #expect(ContinuousClock.now - began < .seconds(30), "it ended within seconds of the outage limit")
        #expect(run.output.contains("gave the broker up after 3"))
        #expect(run.output.contains("stayed unreachable for 3s"))
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/summary.json"))) as? [String: Any])
        #expect(summary["interrupted"] as? Bool == true && summary["brokerLost"] as? Bool == true)
        let telemetry = try #require(summary["telemetry"] as? [String: Any])
        #expect((telemetry["received"] as? Int ?? 0) > 0 && (telemetry["sent"] as? Int ?? 0) >= (telemetry["received"] as? Int ?? 0))
        // The delivery series ends with what never arrived counted as lost.
        let series = try String(contentsOfFile: dir + "/out/latency.csv", encoding: .utf8).split(separator: "\n")
        let last = try #require(series.last { $0.split(separator: ",")[3] == "all" }?.split(separator: ","))
        let offered = series.dropFirst().filter { $0.split(separator: ",")[3] == "all" }.map { Double($0.split(separator: ",", omittingEmptySubsequences: false)[4])! }.reduce(0, +)
        let delivered = series.dropFirst().filter { $0.split(separator: ",")[3] == "all" }.map { Double($0.split(separator: ",", omittingEmptySubsequences: false)[5])! }.reduce(0, +)
        #expect(Int(last.last!) == Int((offered - delivered).rounded()), "\(last)")
        for file in ["report.html", "index.csv", "indicators.csv"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/out/" + file), "\(file)")
        }
    }
}

extension Integration.RunTests {
    /// The broker is stopped mid-run (it writes its persistence file) and started again on the
    /// same port: devices and gateway reconnect, the gateway's persistent session gets what
    /// was queued for it, and the run finishes with every reading accounted for, none lost.
    @Test func aBrokerRestartedMidRunLosesNothing() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try gatewayScenarioYAML(duration: "12d").write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        let broker = try await EmbeddedBroker.start(.init(persistence: true))
        defer { broker.stop() }
        let run = try ChildProcess(["run", dir + "/s.yaml", "--broker", broker.url.description, "--out", dir + "/out",
                                    "--progress", "0.2", "--broker-outage", "60s"])
        _ = try await run.waitForLine { $0.hasPrefix("sim ") }
        broker.stop()
        _ = try await run.waitForLine(timeout: 30) { $0.contains("lost the broker") }
        try await broker.restart()
        #expect(await run.waitForExit() == 0, "\(run.output)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/summary.json"))) as? [String: Any])
        #expect(summary["interrupted"] as? Bool != true)
        let telemetry = try #require(summary["telemetry"] as? [String: Any])
        let simulation = try #require(summary["simulation"] as? [String: Any])
        #expect(telemetry["lost"] as? Int == 0, "\(telemetry)")
        let readings = (simulation["messages"] as? Int ?? 0) - (simulation["statusMessages"] as? Int ?? 0)
        // A scenario without faults: every reading arrives once as itself (redeliveries are
        // duplicates on top), taken or, after the outage, too late.
        let unique = (telemetry["accepted"] as? Int ?? 0) + (telemetry["tooLate"] as? Int ?? 0)
        #expect(unique == readings, "every reading once: \(telemetry)")
        #expect(telemetry["invalid"] as? Int == 0)
        #expect(telemetry["refused"] as? Int == 0, "readings are held while the broker is away, not dropped")
        // No duplicate fault: the duplicates are copies made across the outage, by the broker
        // or by the devices' sessions (whose copy may come after its original was delivered
        // from the broker's queue, on the new connection: at most what they re-sent).
        let duplicates = telemetry["duplicates"] as? Int ?? -1, redeliveries = telemetry["redeliveries"] as? Int ?? -1
        #expect(redeliveries >= 0 && redeliveries <= duplicates, "\(telemetry)")
        #expect(duplicates - redeliveries <= telemetry["resentByDevices"] as? Int ?? -1, "\(telemetry)")
    }

    /// `run` against a broker with TLS and passwords: the CA, user name and password file
    /// given as options reach both the devices and the gateway; without the CA the error names
    /// the option that fixes it; the password never shows in the outputs.
    @Test func aTLSBrokerWithPasswordsTakesTheCredentialOptions() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let folder = URL(fileURLWithPath: dir)
        try makeCertificates(in: folder)
        try shell("mosquitto_passwd -b -c passwords city s3cret-pass 2>&1 && printf 's3cret-pass\\n' > pw", in: folder)
        let broker = try await EmbeddedBroker.start(.init(extraLines: [
            "cafile \(dir)/ca.crt", "certfile \(dir)/server.crt", "keyfile \(dir)/server.key",
            "allow_anonymous false", "password_file \(dir)/passwords",
        ]))
        defer { broker.stop() }
        try gatewayScenarioYAML(duration: "2h").write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        let url = "mqtts://127.0.0.1:\(broker.port)"
        let run = try ChildProcess(["run", dir + "/s.yaml", "--broker", url, "--out", dir + "/out", "--progress", "0",
                                    "--ca-file", dir + "/ca.crt", "--username", "city", "--password-file", dir + "/pw"])
        #expect(await run.waitForExit() == 0, "\(run.output)")
        let summary = try String(contentsOfFile: dir + "/out/summary.json", encoding: .utf8)
        #expect(summary.contains("\"lost\" : 0") && summary.contains("\"allArrived\" : true"), "\(summary.prefix(400))")
        #expect(!summary.contains("s3cret") && !run.output.contains("s3cret"), "the password stays out of the outputs")

        let noCA = try ChildProcess(["run", dir + "/s.yaml", "--broker", url, "--out", dir + "/out2", "--progress", "0",
                                     "--username", "city", "--password-file", dir + "/pw"])
        #expect(await noCA.waitForExit() != 0)
        #expect(noCA.output.contains("--ca-file"), "\(noCA.output)")
        let wrongPassword = try ChildProcess(["run", dir + "/s.yaml", "--broker", url, "--out", dir + "/out3", "--progress", "0",
                                              "--ca-file", dir + "/ca.crt", "--username", "city", "--password-file", dir + "/s.yaml"])
        #expect(await wrongPassword.waitForExit() != 0)
        #expect(wrongPassword.output.contains("--password-file"), "\(wrongPassword.output)")
    }
}

extension Integration.RunTests {
    /// A broker whose ACL refuses one domain's publishes (MQTT 5 PUBACK "Not authorized"): the
    /// readings it refused are counted as such, not as lost, and the run does not wait for
    /// them to arrive (it used to wait for a quiet spell and call them lost).
    @Test func readingsTheBrokerRefusesAreNeitherLostNorAwaited() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Everything may be read; everything but lighting written.
        try (["topic read city/#"] + ["mobility", "waste", "water", "environment", "indicators"].map { "topic readwrite city/+/\($0)/#" })
            .joined(separator: "\n").write(toFile: dir + "/acl", atomically: true, encoding: .utf8)
        let broker = try await EmbeddedBroker.start(.init(extraLines: ["acl_file \(dir)/acl"]))
        defer { broker.stop() }
        try gatewayScenarioYAML(duration: "1d").replacingOccurrences(of: "  qos: 1", with: "  qos: 1\n  protocol: \"5\"")
            .write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        let began = ContinuousClock.now
        let run = try ChildProcess(["run", dir + "/s.yaml", "--broker", broker.url.description, "--out", dir + "/out", "--progress", "0"])
        #expect(await run.waitForExit() == 0, "\(run.output)")
        #expect(ContinuousClock.now - began < .seconds(25), "no wait for readings that will never come")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/summary.json"))) as? [String: Any])
        let telemetry = try #require(summary["telemetry"] as? [String: Any])
        let simulation = try #require(summary["simulation"] as? [String: Any])
        let byDomain = try #require(simulation["telemetryByDomain"] as? [String: Int])
        #expect(telemetry["readingsRefusedByBroker"] as? Int == byDomain["lighting"], "\(telemetry)")
        #expect(telemetry["lost"] as? Int == 0 && telemetry["allArrived"] as? Bool == true, "\(telemetry)")
        #expect(run.output.contains("readings refused by the broker"))
    }
}
