import ArgumentParser
import Foundation
import Simulator

/// `smartcity summary merge`: the summaries of a run's shards (`simulate --shard i/n
/// --summary FILE` on several machines) as one balance.
struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "summary", abstract: "Work with run summaries.", subcommands: [Merge.self])

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add up the summaries of a run's shards (simulate --shard i/n --summary FILE) into one: messages, per domain, faults, rates, lag, connections.")

        @Argument(help: "Summary files, one per shard.")
        var files: [String]

        @Option(help: "Also write the merged summary as JSON to this file.")
        var output: String?

        func run() throws {
            guard !files.isEmpty else { throw ValidationError("name the shards' summary files") }
            var parts: [RunSummary] = []
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("\(file): cannot read; check the path") }
                do { parts.append(try JSONDecoder().decode(RunSummary.self, from: data)) } catch {
                    throw ValidationError("\(file): not a summary of 'smartcity simulate --summary' (\(error))")
                }
            }
            let merged = try RunSummary.merge(parts)
            Simulate.printSummary(merged)
            let whole = merged.shard == Shard.whole.description
            print(whole ? "merged \(parts.count) shards: the whole run" : "merged shards \(merged.shard): not the whole run")
            if let output { try merged.json().write(toFile: output, atomically: true, encoding: .utf8) }
        }
    }
}
