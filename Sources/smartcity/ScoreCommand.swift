import ArgumentParser
import CityRun
import Foundation
import Gateway
import Simulator
import Telemetry

/// `smartcity score`: a store's alarms against a labels file.
struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a gateway store's alarms against the ground truth (simulate --labels, or run's labels.csv): precision, recall, F1 and detection delay per kind.")

    @Option(help: "SQLite store the gateway wrote.")
    var store: String

    @Option(help: "Labels file (CSV with its header, or JSON Lines).")
    var labels: String

    @Option(help: "How long after an episode's end an alarm still answers it, e.g. 15m.")
    var tolerance: String = "15m"

    @Flag(help: "Print the scores as JSON.")
    var json = false

    func run() throws {
        guard let seconds = Durations.parse(tolerance), seconds >= 0 else {
            throw ValidationError("--tolerance: \(Durations.problem(tolerance) ?? "'\(tolerance)' is not a duration")")
        }
        let truth = try GroundTruthLabel.read(path: labels)
        let alarms = try GatewayConfig.readStore(store).alarms(activeOnly: false, city: nil, kind: nil)
        let scores = AlarmScore.score(alarms: alarms, labels: truth, tolerance: seconds)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(scores), as: UTF8.self))
        } else {
            print("\(alarms.count) alarms against \(truth.count) labels (raised between an episode's start and its end + \(tolerance)):")
            for score in scores { print("  " + score.line) }
        }
    }
}
