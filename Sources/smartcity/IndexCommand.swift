import ArgumentParser
import Foundation
import IndexEngine

/// `smartcity index`: a composite index from a data table and a metadata tree.
struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Compute a composite index (scores per aggregate and rank) from indicator tables.",
        discussion: """
            Tables follow COINr's iData/iMeta layout. Example (COINr's ASEM example):
              smartcity index --data ASEM_iData.csv --meta ASEM_iMeta.csv --pipeline Config/index/coinr-default.yaml
            """)

    enum Format: String, ExpressibleByArgument { case csv, json }

    @Option(help: "Units x indicators table (uCode, groups, denominators, indicators).")
    var data: String

    @Option(help: "Metadata table: Level, iCode, Direction, Weight, Parent, Type, ...")
    var meta: String

    @Option(help: "Pipeline file (YAML); default: min-max [0, 100] and arithmetic means only.")
    var pipeline: String?

    @Option(help: "Output file; default: standard output.")
    var out: String?

    @Option(help: "csv: scores and rank; json: the same plus every stage.")
    var format: Format = .csv

    @Flag(help: "Print the statistical audit (to standard error when the table goes to standard output).")
    var audit = false

    @Option(help: "Monte Carlo replications over the construction choices (0: none).")
    var uncertainty = 0

    @Flag(help: "With --uncertainty: also first-order and total Sobol indices of each choice.")
    var sensitivity = false

    @Option(help: "Seed for --uncertainty and --sensitivity.")
    var seed: UInt64 = 1

    @Option(help: "With --uncertainty: weights vary by up to this share either way.")
    var weightShare = 0.25

    func validate() throws {
        guard uncertainty >= 0 else { throw ValidationError("--uncertainty must be 0 or more, got \(uncertainty)") }
        guard !sensitivity || uncertainty > 0 else { throw ValidationError("--sensitivity needs --uncertainty N (N replications)") }
        guard (0..<1).contains(weightShare) else { throw ValidationError("--weight-share must be in [0, 1), got \(weightShare)") }
    }

    func run() throws {
        do {
            let framework = try Framework(meta: CSVTable(contentsOf: meta))
            let dataset = try Dataset(data: CSVTable(contentsOf: data), framework: framework)
            let settings = try pipeline.map { path throws(IndexError) in try Pipeline(contentsOf: path) } ?? Pipeline()
            let index = try CompositeIndex(data: dataset, framework: framework, pipeline: settings)
            var analysis: UncertaintyAnalysis?
            if uncertainty > 0 {
                analysis = try UncertaintyAnalysis(
                    data: dataset, framework: framework, pipeline: settings,
                    options: .init(replications: uncertainty, seed: seed, weightShare: weightShare), sensitivity: sensitivity)
            }
            let audited = audit ? Audit(index) : nil
            let output = format == .csv ? index.csv() : try json(index, analysis, audited)
            var report = ""
            if let audited, format == .csv { report += audited.text() + "\n" }
            if let analysis, format == .csv { report += uncertaintyText(analysis) }
            if let out {
                try output.write(toFile: out, atomically: true, encoding: .utf8)
                print(report, terminator: "")
            } else {
                print(output, terminator: "")
                FileHandle.standardError.write(Data(report.utf8))
            }
        } catch let error as IndexError {
            throw ValidationError(error.message)
        }
    }

    private func uncertaintyText(_ analysis: UncertaintyAnalysis) -> String {
        var lines = ["", "Rank uncertainty over \(uncertainty) replications (seed \(seed)):", "uCode  nominal  median  p05   p95"]
        for unit in analysis.ranks.sorted(by: { $0.nominal < $1.nominal }) {
            lines.append(unit.unit.padding(toLength: 6, withPad: " ", startingAt: 0) +
                         String(format: " %7.0f %7.1f %5.1f %5.1f", unit.nominal, unit.median, unit.p05, unit.p95))
        }
        if let sobol = analysis.sensitivity {
            lines.append("")
            lines.append("Sobol indices on the mean absolute rank shift:")
            for s in sobol {
                lines.append(s.factor.padding(toLength: 14, withPad: " ", startingAt: 0) + String(format: " first-order %6.3f  total %6.3f", s.firstOrder, s.total))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func json(_ index: CompositeIndex, _ analysis: UncertaintyAnalysis?, _ audit: Audit?) throws -> String {
        func clean(_ v: Double) -> Any { v.isNaN ? NSNull() : v }
        func stage(_ values: [[Double]]) -> [String: Any] {
            Dictionary(uniqueKeysWithValues: index.framework.indicators.enumerated().map { i, node in
                (node.code, Dictionary(uniqueKeysWithValues: index.units.indices.map { u in
                    (index.units[u], clean(values[i].count == index.units.count ? values[i][u] : .nan))
                }))
            })
        }
        var object: [String: Any] = [
            "units": index.units.enumerated().map { u, code in
                var row: [String: Any] = ["uCode": code, "Rank": clean(index.ranks[u])]
                for aggregate in index.framework.aggregates { row[aggregate.code] = clean(index.scores[aggregate.code]![u]) }
                return row
            },
            "stages": [
                "imputed": stage(index.imputed), "treated": stage(index.treated), "normalised": stage(index.normalised),
            ],
            "treatment": Dictionary(uniqueKeysWithValues: index.framework.indicators.enumerated().map { i, node in
                (node.code, ["action": index.treatment[i].action.rawValue, "points": index.treatment[i].points])
            }),
            "availability": index.availability,
        ]
        if let audit {
            let codes = index.framework.indicators.map(\.code)
            object["audit"] = [
                "indicators": audit.indicators.map {
                    ["code": $0.code, "parent": $0.parent, "availability": clean($0.availability), "mean": clean($0.mean),
                     "sd": clean($0.sd), "skewness": clean($0.skewness), "kurtosis": clean($0.kurtosis),
                     "treatment": $0.treatment.action.rawValue, "correlationWithParent": clean($0.correlationWithParent)] as [String: Any]
                },
                "cronbachAlpha": Dictionary(uniqueKeysWithValues: audit.alpha.map { ($0.code, clean($0.value)) }),
                "negativeCorrelations": audit.negativeCorrelations.map { ["parent": $0.parent, "first": $0.first, "second": $0.second, "r": $0.r] as [String: Any] },
                "correlations": Dictionary(uniqueKeysWithValues: codes.enumerated().map { i, code in
                    (code, Dictionary(uniqueKeysWithValues: codes.enumerated().map { j, other in (other, clean(audit.indicatorCorrelations[i][j])) }))
                }),
            ] as [String: Any]
        }
        if let analysis {
            object["uncertainty"] = analysis.ranks.map {
                ["uCode": $0.unit, "nominal": clean($0.nominal), "median": clean($0.median), "p05": clean($0.p05), "p95": clean($0.p95)]
            }
            if let sobol = analysis.sensitivity {
                object["sensitivity"] = sobol.map { ["factor": $0.factor, "firstOrder": $0.firstOrder, "total": $0.total] }
            }
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
