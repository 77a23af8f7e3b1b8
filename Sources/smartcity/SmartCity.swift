import ArgumentParser
import CityRun
import CPlatform
import Foundation
import MQTT
import Simulator

@main
struct SmartCity: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smartcity",
        abstract: "Smart-city IoT sensor simulator, telemetry gateway and index engine.",
        discussion: """
            Simulated city devices publish over MQTT to a gateway that aggregates readings into
            ISO 37120/37122 indicators; an index engine turns indicators into a composite
            smart-city index. Without --broker, commands start a private mosquitto broker.
            """,
        subcommands: [Run.self, Simulate.self, Calibrate.self, GatewayCommand.self, IndexCommand.self, Score.self, Export.self, Replay.self, Contract.self, SummaryCommand.self, Bench.self, Validate.self]
    )

    static func main() async {
        // Progress lines must show up at once even when stdout is a pipe or a file.
        csys_line_buffer_stdout()
        // Simulated fleets open thousands of connections, and the broker the tool starts
        // inherits the limit: take the hard limit on open files from the start.
        _ = Publisher.fileLimit()
        LogSetup.bootstrap()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as MQTTError {
            exit(withError: RunFailure(error.description + RunFailure.hint(error)))
        } catch {
            exit(withError: error)
        }
    }
}
