import ArgumentParser
import CityRun
import Foundation
import Gateway
import MQTT
import Simulator
import Telemetry

/// `smartcity bench direct`: a long simulated period straight into the gateway's ingest (the
/// path of `run --direct`), against generating the same messages alone, measured in the same run.
struct BenchDirect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "direct",
        abstract: "Simulate a long period straight into the gateway's ingest: msg/s, ratio to generation alone, and memory over the run.")

    @Option(help: "Scenario to simulate.")
    var scenario: String = "Scenarios/almaty.yaml"

    @Option(help: "Simulated period, e.g. 30d or 1y.")
    var duration: String = "30d"

    @Option(help: "Simulated period generated alone for the baseline.")
    var baseline: String = "2d"

    @Option(help: "Finest stored resolution: base, hour or day.")
    var storeWindows: Resolution = .day

    func run() async throws {
        guard let seconds = Durations.parse(duration), let baseSeconds = Durations.parse(baseline) else {
            throw ValidationError("--duration and --baseline take durations such as 30d or 1y")
        }
        var loaded = try Scenario(contentsOf: scenario)
        loaded.speed = .max

        // Baseline: the simulator alone, over the first days.
        var sample = loaded
        sample.duration = baseSeconds
        let clock = ContinuousClock()
        let generator = Generator(scenario: sample, includeStatus: true)
        let began = clock.now
        var count = 0
        while generator.next() { count += 1 }
        let generateRate = Double(count) / (clock.now - began).seconds

        loaded.duration = seconds
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bench-direct-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = GatewayConfig(scenario: loaded)
        config.store = dir + "/gateway.sqlite"
        config.lateness = 3600
        let direct = DirectRun(generator: Generator(scenario: loaded, includeStatus: true), config: config, keep: storeWindows,
                               progress: 30, scenario: loaded)
        let outcome = try direct.run()
        let rate = Double(outcome.messages) / outcome.seconds
        print("direct run of \(loaded.name), \(duration) simulated (\(Timestamps.format(loaded.start)) on), both cores:")
        print("  \(outcome.messages) messages in \(Simulate.fixed(outcome.seconds, 1)) s: \(Simulate.fixed(rate / 1e6, 3)) M msg/s")
        print("  generation alone (\(baseline), one core): \(Simulate.fixed(generateRate / 1e6, 3)) M msg/s; ratio \(Simulate.fixed(rate / generateRate, 2))")
        print("  accepted \(outcome.counters.accepted), windows \(outcome.counters.windowsEmitted), indicator values \(outcome.counters.indicatorsEmitted)")
        print("  heap (MB) at simulated " + outcome.heap.map { "\(Int(($0.fraction * 100).rounded())) %: \(Simulate.fixed(Double($0.bytes) / 1_048_576, 1))" }.joined(separator: ", "))
    }
}
