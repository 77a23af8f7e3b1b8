import ArgumentParser

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure throughput and latency against baselines run in the same process.",
        subcommands: [BenchMQTT.self, BenchIndex.self, BenchSim.self, BenchGateway.self]
    )
}
