import Foundation
@testable import Gateway
import MQTT
import EmbeddedBroker
import Simulator
import Telemetry
import Testing
import TestSupport

extension Integration {
@Suite(.serialized, .timeLimit(.minutes(5))) struct DurabilityTests {
    /// The gateway is killed with SIGKILL mid-stream and restarted; with the broker's persistent
    /// session and its journal it ends with exactly the aggregates of an uninterrupted run.
    @Test func aGatewayKilledMidStreamEndsWithTheSameAggregates() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-kill-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let yaml = gatewayScenarioYAML(duration: "2d", faults: """
              - {kind: delayed, share: 0.2, probability: 0.1, magnitude: 1800}
              - {kind: reboot, share: 0.2, family: water}
            """)
        let scenarioPath = directory + "/scenario.yaml"
        try yaml.write(toFile: scenarioPath, atomically: true, encoding: .utf8)
        let scenario = try Scenario(yaml: yaml, file: scenarioPath)
        let messages = simulated(scenario)
        let expected = messages.filter { $0.kind == .telemetry }.count

        let broker = try await EmbeddedBroker.start()
        defer { broker.stop() }
        let arguments = ["gateway", "serve", "--broker", "mqtt://127.0.0.1:\(broker.port)", "--store", directory + "/gateway.sqlite",
                         "--scenario", scenarioPath, "--lateness", "3d", "--client-id", "gateway-under-test",
                         "--no-http", "--no-publish", "--status-interval", "0.05", "--checkpoint-interval", "0.2"]
        var gateway = try ChildProcess(arguments)
        _ = try await gateway.waitForLine { $0.contains("subscribed to") }

        let publisher = try Publisher(generator: Generator(scenario: scenario), broker: broker.url)
        try await publisher.connect()
        let box = Unchecked(publisher)
        let publishing = Task { try await box.value.run { _ in } }

        // Kill it once it is well into the stream, then start it again.
        let before = try await gateway.waitForLine { (statusValue($0, "accepted") ?? 0) >= expected / 4 }
        gateway.signal(SIGKILL)
        #expect(await gateway.waitForExit() != 0)
        let killedAt = statusValue(before, "accepted") ?? 0
        #expect(killedAt < expected, "killed mid-stream")

        gateway = try ChildProcess(arguments)
        let outcome = try await publishing.value
        #expect(outcome.unacknowledged == 0)
        await publisher.close()
        _ = try await gateway.waitForLine(timeout: 120) { statusValue($0, "accepted") == expected }
        gateway.signal(SIGTERM)
        #expect(await gateway.waitForExit() == 0)
        let last = gateway.output.split(separator: "\n").last { $0.contains(" accepted ") }.map(String.init) ?? ""
        #expect(statusValue(last, "accepted") == expected, "every reading counted once: \(last)")
        #expect(statusValue(last, "invalid") == 0)

        // The same messages aggregated in one go, without a broker.
        let reference = try Aggregator(config: gatewayConfig(scenario, lateness: 3 * 86_400))
        for m in messages { reference.ingest(m) }
        reference.emitOpenWindows()
        let want = finalWindows(reference.pending.windows)
        let got = finalWindows(try SQLiteStore(path: directory + "/gateway.sqlite").windows(city: nil, resolution: nil))
        #expect(got.count == want.count)
        var mismatches: [String] = []
        for (key, w) in want {
            guard let g = got[key] else { mismatches.append("missing \(key)"); continue }
            let a = w.partial, b = g.partial
            let same = a.count == b.count && abs(a.sum - b.sum) <= 1e-9 * max(1, abs(a.sum)) && a.min == b.min && a.max == b.max
                && a.firstValue == b.firstValue && a.lastValue == b.lastValue && abs(a.increment - b.increment) <= 1e-6 * max(1, abs(a.increment))
            if !same { mismatches.append("\(key): \(a) vs \(b)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }
}
}

/// Hands a value that is used by one task at a time to another task.
struct Unchecked<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
