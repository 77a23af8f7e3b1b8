import ArgumentParser

/// A subcommand that is part of the tool's plan but not in this build yet: it says so and
/// fails, rather than pretending to work.
protocol PlannedCommand: ParsableCommand {}

extension PlannedCommand {
    func run() throws {
        throw ValidationError("'smartcity \(Self.configuration.commandName ?? "")' is not available in this build yet; see README.md for the subcommands that are")
    }
}

struct Run: PlannedCommand {
    static let configuration = CommandConfiguration(
        abstract: "(planned) Simulate a city, aggregate it through the gateway, compute the index and write a report.")
    @Argument(help: "Scenario file.") var scenario: String?
}

