import ArgumentParser
import CityRun
import Foundation
import Simulator

/// `smartcity calibrate`: the simulated city's figures against the published ones.
struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulate a sample of days across the scenario's year and compare the city's indicators with its published figures; fails when one is outside its tolerance.")

    @Argument(help: "Scenario file.")
    var scenario: String = "Scenarios/almaty.yaml"

    @Option(help: "Reference table of the city's published figures (value, tolerance, year, source each).")
    var reference: String = "Config/reference/almaty.yaml"

    @Option(help: "Days sampled in each month (spread over it: weekdays and weekends, the heating season and summer).")
    var daysPerMonth: Int = 2

    @Option(help: "Master seed (overrides the scenario).")
    var seed: UInt64?

    @Option(help: "Write the comparison as CSV to this file.")
    var output: String?

    @Option(help: "Write every sampled day's value of each indicator as CSV to this file.")
    var daily: String?

    func run() throws {
        guard (1...31).contains(daysPerMonth) else { throw ValidationError("--days-per-month \(daysPerMonth): give 1 to 31") }
        var loaded = try Scenario(contentsOf: scenario)
        if let seed { loaded.seed = seed }
        var calibration = try Calibration(scenario: loaded, reference: try ReferenceTable(contentsOf: reference))
        calibration.daysPerMonth = daysPerMonth
        calibration.say = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        let outcome = try calibration.run()
        print("\(calibration.reference.city): \(outcome.days.count) sampled days (\(daysPerMonth) a month) in \(String(format: "%.0f", outcome.seconds)) s, against \(reference)")
        print(outcome.table)
        if let output {
            try outcome.csv().write(toFile: output, atomically: true, encoding: .utf8)
            print("calibrate: wrote \(output)")
        }
        if let daily {
            try outcome.dailyCSV().write(toFile: daily, atomically: true, encoding: .utf8)
            print("calibrate: wrote \(daily)")
        }
        if !outcome.passed {
            let outside = outcome.rows.filter { !$0.inside }
            throw RunFailure("\(outside.count) of \(outcome.rows.count) figures outside their tolerance: \(outside.map(\.figure.id).joined(separator: ", "))")
        }
    }
}
