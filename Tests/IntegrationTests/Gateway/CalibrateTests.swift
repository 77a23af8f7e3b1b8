import CityRun
import Foundation
import Simulator
import Testing
import TestSupport

extension Integration {
    /// `smartcity calibrate`: the simulated city's sampled year against a reference table.
    @Suite(.serialized, .timeLimit(.minutes(10))) struct CalibrateTests {
        func directory() throws -> String {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smartcity-calibrate-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            return dir
        }

        static func figure(_ id: String, _ indicator: String, months: String = "", value: Double, tolerance: String, source: String = "a test report") -> String {
            """
              - id: \(id)
                indicator: \(indicator)
            \(months.isEmpty ? "" : "    months: \(months)\n")    value: \(value)
                tolerance: "\(tolerance)"
                year: 2024
                source: \(source)

            """
        }

        /// One day sampled in each month of the scenario's year: an annual figure is the mean of
        /// the twelve daily values, a figure of some months the mean of theirs; the command
        /// gives the library's numbers, and a figure outside its tolerance fails it by name.
        @Test func theSampleIsTheCitysDaysAndAFigureOutsideFails() async throws {
            let dir = try directory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let yaml = gatewayScenarioYAML(duration: "1d")
            try yaml.write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
            // What the calibration computes, from the library: one day in January and one in July.
            var calibration = try Calibration(scenario: try Scenario(yaml: yaml, file: "s.yaml"),
                                              reference: try ReferenceTable(yaml: "city: almaty\nfigures:\n" + Self.figure("pm", "ISO37120:8.1", value: 50, tolerance: "90%"), file: "r.yaml"))
            calibration.daysPerMonth = 1
            calibration.say = { _ in }
            let days = calibration.sampleDays()
            #expect(days.count == 12 && days.map(\.month) == Array(1...12) && days[0].label == "2026-01-16", "\(days.map(\.label))")
            let outcome = try calibration.run()
            let annual = try #require(outcome.rows.first?.simulated)
            #expect(outcome.rows[0].days == 12 && annual > 0)

            // The command with a table the city meets and one it does not.
            let pm = outcome.rows[0].simulated!
            try ("city: almaty\nfigures:\n" + Self.figure("pm-annual", "ISO37120:8.1", value: pm * 1.05, tolerance: "10%")
                + Self.figure("water-use", "ISO37120:23.3", months: "[6, 7, 8]", value: 1, tolerance: "0.5"))
                .write(toFile: dir + "/r.yaml", atomically: true, encoding: .utf8)
            let run = try ChildProcess(["calibrate", dir + "/s.yaml", "--reference", dir + "/r.yaml", "--days-per-month", "1", "--output", dir + "/c.csv"])
            #expect(await run.waitForExit() != 0)
            #expect(run.output.contains("1 of 2 figures outside their tolerance: water-use"), "\(run.output)")
            let csv = try String(contentsOfFile: dir + "/c.csv", encoding: .utf8).split(separator: "\n")
            #expect(csv.count == 3 && csv[1].hasPrefix("pm-annual,ISO37120:8.1,") && csv[1].contains(",true,12,") && csv[2].contains(",false,3,"), "\(csv)")
            let value = try #require(Double(csv[1].split(separator: ",")[3]))
            #expect(abs(value - pm) <= 1e-9 * pm, "the command's sample is the library's: \(value) vs \(pm)")
        }

        /// A figure without a source, with no tolerance or of an indicator the gateway does not
        /// compute is refused before anything runs, naming the field.
        @Test func aFigureWithoutSourceOrToleranceIsRefused() async throws {
            let dir = try directory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try gatewayScenarioYAML(duration: "1d").write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
            let cases: [(String, String)] = [
                (Self.figure("pm", "ISO37120:8.1", value: 20, tolerance: "10%", source: "\"\""), "figures[0].source: the source is empty"),
                (Self.figure("pm", "ISO37120:8.1", value: 20, tolerance: "10%").replacingOccurrences(of: "    source: a test report\n", with: ""),
                 "figures[0]: the field 'source' is missing"),
                (Self.figure("pm", "ISO37120:8.1", value: 20, tolerance: "tight"), "figures[0].tolerance: 'tight' is no tolerance"),
                (Self.figure("pm", "ISO37120:8.1", months: "[13]", value: 20, tolerance: "10%"), "figures[0].months: months are 1 (January) to 12"),
                (Self.figure("pm", "ISO99999:1", value: 20, tolerance: "10%"), "figure 'pm': the gateway computes no indicator 'ISO99999:1'"),
            ]
            for (figure, message) in cases {
                try ("city: almaty\nfigures:\n" + figure).write(toFile: dir + "/r.yaml", atomically: true, encoding: .utf8)
                let run = try ChildProcess(["calibrate", dir + "/s.yaml", "--reference", dir + "/r.yaml"])
                #expect(await run.waitForExit() != 0)
                #expect(run.output.contains(message) && !run.output.contains("sampled days"), "\(message): \(run.output)")
            }
        }
    }
}
