import ArgumentParser
import CityRun
import Foundation
import MQTT
import EmbeddedBroker
import Simulator
import Telemetry

/// Options every command that runs a scenario shares.
struct ScenarioOptions: ParsableArguments {
    @Argument(help: "Scenario file.")
    var scenario: String = "Scenarios/almaty.yaml"

    @Option(help: "Simulated length, e.g. 6h, 1d, 1w (overrides the scenario).")
    var duration: String?

    @Option(help: "Simulated seconds per wall second, or max (overrides the scenario).")
    var speed: String?

    @Option(help: "Master seed (overrides the scenario).")
    var seed: UInt64?

    @Option(help: "Simulated start, ISO 8601 with offset, e.g. 2025-07-01T00:00:00+05:00 (overrides the scenario; a past period is a backfill).")
    var start: String?

    @Option(help: "Run part i of n of the fleet, e.g. 0/4 (devices are split by id; the union of all parts is the whole run).")
    var shard: String = "0/1"

    @Option(help: "Start of every MQTT client id, sim-{device} by default (overrides the scenario's mqtt.client-prefix); two simulators on one broker need different ones.")
    var clientPrefix: String?

    @Option(help: "New MQTT connections per second at the start, e.g. 500/s (overrides the scenario's mqtt.connect-rate).")
    var connectRate: String?

    func load() throws -> (Scenario, Shard) {
        var loaded = try Scenario(contentsOf: scenario)
        if let connectRate {
            guard let rate = MQTTSettings.rate(parsing: connectRate) else {
                throw ValidationError("--connect-rate '\(connectRate)' is not a connection rate; write new connections per second above 0, e.g. 500/s")
            }
            loaded.mqtt.connectRate = rate
        }
        if let duration {
            guard let seconds = Durations.parse(duration), seconds > 0 else {
                throw ValidationError("--duration: \(Durations.problem(duration) ?? "'\(duration)' must be longer than 0 s")")
            }
            loaded.duration = seconds
        }
        if let speed {
            guard let value = Scenario.Speed(parsing: speed) else {
                throw ValidationError("--speed '\(speed)' is not a speed; write max or a factor like 60")
            }
            loaded.speed = value
        }
        if let seed { loaded.seed = seed }
        if let clientPrefix {
            guard !clientPrefix.isEmpty, clientPrefix.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }) else {
                throw ValidationError("--client-prefix '\(clientPrefix)' must be lower-case letters, digits and '-', e.g. sim-b")
            }
            loaded.mqtt.clientPrefix = clientPrefix
        }
        if let start {
            guard let value = Timestamps.parse(start) else {
                throw ValidationError("--start '\(start)' is not a time; write it like 2025-07-01T00:00:00+05:00")
            }
            loaded.start = value
        }
        guard let part = Shard(parsing: shard) else {
            throw ValidationError("--shard '\(shard)' must be i/n with 0 <= i < n, e.g. 0/4")
        }
        return (loaded, part)
    }
}

/// `smartcity simulate`: runs a scenario's devices and writes their messages to a file or
/// publishes them to a broker.
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a scenario's devices: write their messages to a file (--output) or publish them (--broker).")

    @OptionGroup var options: ScenarioOptions

    @Option(help: "Write the messages to this file ('-' for standard output) instead of publishing them.")
    var output: String?

    @Option(help: "File format: jsonl (send time, topic, QoS, retain, payload per line) or senml (payloads only).")
    var format: String = "jsonl"

    @Option(help: "Broker URL (mqtt://host:port, mqtts://host:8883); default: the scenario's, else a private embedded mosquitto.")
    var broker: String?

    @OptionGroup var credentials: BrokerCredentials

    @Option(help: "QoS 0, 1 or 2 (overrides the scenario).")
    var qos: Int?

    @Flag(help: "Leave out the online/offline status messages.")
    var noStatus = false

    @Option(help: "Also write the run summary as JSON to this file.")
    var summary: String?

    @Option(help: "Also write the ground truth to this file: every fault episode and city event, one row each (CSV for .csv, else JSON Lines).")
    var labels: String?

    @Option(help: "Seconds between progress lines (0: none).")
    var progress: Double = 2

    func validate() throws {
        guard MessageFile.Format(rawValue: format) != nil else {
            throw ValidationError("--format must be jsonl or senml, got '\(format)'")
        }
        if let qos, !(0...2).contains(qos) { throw ValidationError("--qos must be 0, 1 or 2, got \(qos)") }
        if output != nil, broker != nil { throw ValidationError("use either --output (a file) or --broker (publish), not both") }
    }

    func run() async throws {
        var (scenario, shard) = try options.load()
        try credentials.apply(to: &scenario.mqtt)
        if let qos { scenario.mqtt.qos = qos }
        let clock = ContinuousClock()
        let began = clock.now
        let generator = Generator(scenario: scenario, shard: shard, includeStatus: !noStatus)
        let labelSink = try labels.map { try LabelSink(path: $0, generator: generator) }
        var report = ProgressReporter(every: progress, scenario: scenario)
        var result: RunSummary
        if let output {
            let file = try MessageFile(path: output, format: MessageFile.Format(rawValue: format)!, qos: scenario.mqtt.qos)
            while generator.next() {
                try file.write(generator.message)
                if file.written & 0xFFF == 0 { report.tick(generator: generator, lag: nil) }
            }
            try file.close()
            result = RunSummary(scenario: scenario, shard: shard, stats: generator.stats, wallSeconds: (clock.now - began).seconds)
        } else {
            let (url, embedded) = try await brokerFor(broker ?? scenario.mqtt.broker)
            let publisher = try Publisher(generator: generator, broker: url)
            if let embedded {
                // The private broker takes a file per connection, and a few of its own.
                let files = publisher.connectionCount + 256
                let allowed = embedded.allowOpenFiles(files)
                if allowed < files {
                    throw ValidationError("the private broker may open \(allowed) files, too few for \(publisher.connectionCount) connections; run as root, raise the hard limit (ulimit -Hn \(files)) or use --broker")
                }
            }
            publisher.onBrokerEvent = { print("simulate: \($0)") }
            let connecting = try await publisher.connect()
            print("simulate: \(publisher.connectionCount) connections in \(Self.fixed(connecting.seconds, 2)) s (\(Int(Double(publisher.connectionCount) / max(connecting.seconds, 1e-3)))/s)")
            let outcome = try await publisher.run { lag in report.tick(generator: generator, lag: lag) }
            await publisher.close()
            result = RunSummary(scenario: scenario, shard: shard, stats: generator.stats, wallSeconds: (clock.now - began).seconds)
            result.maximumLagSeconds = outcome.maximumLag
            result.unacknowledged = outcome.unacknowledged
            result.refusedByBroker = outcome.refusedByBroker
            result.takenOver = outcome.takenOver
            result.connections = publisher.connectionCount
            result.connectSeconds = connecting.seconds
            if scenario.load != nil { result.leftOutByLoadProfile = outcome.leftOut }
            embedded?.stop()
        }
        report.finish()
        if let labelSink {
            let count = try labelSink.close(generator: generator)
            print("labels: \(count) fault episodes and events in \(labelSink.path)")
        }
        Self.printSummary(result)
        if let summary { try result.json().write(toFile: summary, atomically: true, encoding: .utf8) }
    }

    static func printSummary(_ summary: RunSummary) {
        print("scenario \(summary.scenario) (hash \(summary.scenarioHash)), seed \(summary.seed), shard \(summary.shard)")
        print("simulated \(summary.start) to \(summary.end) at speed \(summary.speed): \(summary.devices) devices")
        let domains = summary.telemetryByDomain.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("messages: \(summary.messages) (\(domains); status \(summary.statusMessages)), \(summary.payloadBytes) payload bytes")
        if !summary.faults.isEmpty {
            print("faults: " + summary.faults.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        var line = "wall time \(Self.fixed(summary.wallSeconds, 2)) s, \(Int(summary.messagesPerSecond)) msg/s"
        if let lag = summary.maximumLagSeconds { line += ", maximum scheduler lag \(Self.fixed(lag, 3)) s" }
        if let open = summary.unacknowledged { line += ", unacknowledged at the end \(open)" }
        if let left = summary.leftOutByLoadProfile { line += ", readings left out by the load profile \(left)" }
        print(line)
        if let refused = summary.refusedByBroker, !refused.isEmpty {
            print("refused by the broker (MQTT 5 PUBACK): " + refused.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                  + "; check its ACL and limits")
        }
        if let taken = summary.takenOver, taken > 0 {
            print("connections the broker closed again right after accepting them: \(taken); another client probably uses the same client ids (use --client-prefix)")
        }
    }

    static func fixed(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }
}
