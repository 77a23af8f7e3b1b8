import Foundation
import MQTT
import Simulator
import Telemetry

/// A progress line every few seconds on long runs: simulated time, messages, msg/s, lag.
public struct ProgressReporter {
    let every: Double
    let scenario: Scenario
    private let clock = ContinuousClock()
    private let began: ContinuousClock.Instant
    private var last: ContinuousClock.Instant
    private var printed = false

    public init(every: Double, scenario: Scenario) {
        self.every = every
        self.scenario = scenario
        began = clock.now
        last = began
    }

    public mutating func tick(generator: Generator, lag: Double?) {
        guard var line = line("sim", messages: generator.stats.messages, simulatedTime: generator.simulatedTime) else { return }
        if let lag { line += "  lag \(fixed(lag, 2)) s" }
        print(line)
    }

    /// A line of a run that reads its messages from a file.
    mutating func tick(messages: Int, simulatedTime: Int64) {
        if let line = line("recorded", messages: messages, simulatedTime: simulatedTime) { print(line) }
    }

    /// The progress line when one is due: simulated time, share of the period, messages, rate.
    private mutating func line(_ what: String, messages: Int, simulatedTime: Int64) -> String? {
        guard every > 0 else { return nil }
        let now = clock.now
        guard (now - last).seconds >= every else { return nil }
        last = now
        printed = true
        let done = min(100, Double(simulatedTime - scenario.start) / Double(max(1, scenario.duration)) * 100)
        return "\(what) \(Timestamps.format(simulatedTime)) (\(Int(done))%)  \(messages) messages  \(Int(Double(messages) / max((now - began).seconds, 1e-9))) msg/s"
    }

    public mutating func finish() {}
}

/// A number with a fixed count of decimals.
func fixed(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }
