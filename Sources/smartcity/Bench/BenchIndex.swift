import ArgumentParser
import MQTT
import Foundation
import IndexEngine

/// `smartcity bench index`: the default pipeline on a synthetic units x indicators table, and
/// uncertainty replications of it, against a baseline in the same run: one pass of min-max
/// normalisation and a plain mean over the same matrix, the least any index must do.
struct BenchIndex: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Time the default index pipeline and its uncertainty analysis against a bare min-max + mean pass.")

    @Option(help: "Units (rows).") var units = 50
    @Option(help: "Indicators (columns), in pillars of 5.") var indicators = 50
    @Option(help: "Pipeline runs to time.") var runs = 200
    @Option(help: "Uncertainty replications to time.") var replications = 1000
    @Option(help: "Pipeline file.") var pipeline = "Config/index/coinr-default.yaml"

    func run() throws {
        do {
            let (framework, data) = try synthetic()
            let settings = try Pipeline(contentsOf: pipeline)
            let clock = ContinuousClock()
            var checksum = 0.0
            let baseline = clock.measure {
                for _ in 0..<runs { checksum += bare(data) }
            } / runs
            let full = try clock.measure {
                for _ in 0..<runs { checksum += try CompositeIndex(data: data, framework: framework, pipeline: settings).index[0] }
            } / runs
            let uncertainty = try clock.measure {
                let analysis = try UncertaintyAnalysis(data: data, framework: framework, pipeline: settings,
                                                       options: .init(replications: replications, seed: 1))
                checksum += analysis.ranks[0].median
            }
            func ms(_ d: Duration) -> String { String(format: "%.3f ms", d.seconds * 1000) }
            print("bench index: \(units) units x \(indicators) indicators, pipeline \(pipeline)")
            print("baseline (min-max + mean, one pass): \(ms(baseline)) per run")
            print("full pipeline:                       \(ms(full)) per run  (\(String(format: "%.1f", full / baseline))x baseline)")
            print("\(replications) uncertainty replications:      \(ms(uncertainty))  (\(String(format: "%.0f", uncertainty / baseline))x baseline)")
            if checksum.isNaN { print("(checksum NaN)") }
        } catch let error as IndexError {
            throw ValidationError(error.message)
        }
    }

    private func synthetic() throws -> (Framework, Dataset) {
        var rng = SplitMix64(seed: 42)
        let pillars = (indicators + 4) / 5
        var indicatorNodes: [Framework.Node] = []
        for i in 0..<indicators {
            indicatorNodes.append(.init(code: "i\(i)", level: 1, direction: i % 4 == 0 ? -1 : 1, parent: "p\(i / 5)"))
        }
        var aggregates = (0..<pillars).map { p in
            Framework.Node(code: "p\(p)", level: 2, parent: "Index")
        }
        aggregates.append(.init(code: "Index", level: 3, parent: nil))
        let framework = try Framework(indicators: indicatorNodes, aggregates: aggregates)
        // Log-normal columns (skewed, as real indicators are) with 2 % missing.
        let values = (0..<indicators).map { _ in
            (0..<units).map { _ -> Double in
                if rng.unit() < 0.02 { return .nan }
                let z = (-2 * log(max(rng.unit(), 1e-12))).squareRoot() * cos(2 * .pi * rng.unit())
                return exp(z)
            }
        }
        let data = Dataset(units: (0..<units).map { "u\($0)" }, indicators: indicatorNodes.map(\.code), values: values,
                           groups: ["EurAsia_group": (0..<units).map { $0 % 2 == 0 ? "Europe" : "Asia" }])
        return (framework, data)
    }

    private func bare(_ data: Dataset) -> Double {
        var total = [Double](repeating: 0, count: data.units.count)
        for column in data.values {
            var low = Double.infinity, high = -Double.infinity
            for v in column where !v.isNaN { low = min(low, v); high = max(high, v) }
            for (u, v) in column.enumerated() where !v.isNaN { total[u] += (v - low) / (high - low) * 100 }
        }
        return total.reduce(0, +) / Double(total.count * data.values.count)
    }
}
