import Foundation

/// A computed composite index: every stage's data, the aggregate scores and the ranking.
///
/// ```swift
/// let framework = try Framework(meta: CSVTable(contentsOf: "iMeta.csv"))
/// let data = try Dataset(data: CSVTable(contentsOf: "iData.csv"), framework: framework)
/// let index = try CompositeIndex(data: data, framework: framework, pipeline: Pipeline(contentsOf: "pipeline.yaml"))
/// print(index.units[0], index.scores[framework.root.code]![0], index.ranks[0])
/// ```
public struct CompositeIndex: Sendable {
    public let framework: Framework
    public let pipeline: Pipeline
    /// Units kept by screening, in data order.
    public let units: [String]
    /// Availability of every unit before imputation (what the raw data covers).
    public let availability: [String: Double]
    /// Indicator values [indicator][unit] after each stage.
    public let raw: [[Double]]
    public let denominated: [[Double]]
    public let imputed: [[Double]]
    public let treated: [[Double]]
    public let normalised: [[Double]]
    public let treatment: [TreatmentRecord]
    /// Scores of every aggregate by code, per unit.
    public let scores: [String: [Double]]
    /// Rank of the root score, 1 = best; ties share the lowest rank number.
    public let ranks: [Double]

    public init(data input: Dataset, framework: Framework, pipeline: Pipeline, weights: [String: Double]? = nil) throws(IndexError) {
        self.framework = framework
        self.pipeline = pipeline
        var data = input
        raw = data.values
        if pipeline.denominate { try Denominate.apply(&data, framework: framework) }
        denominated = data.values
        availability = Dictionary(uniqueKeysWithValues: zip(data.units, Screen.availability(data)))
        try Impute.apply(&data, method: pipeline.impute)
        // Screening sees the data as the stages before it left it: after imputation.
        let available = Screen.availability(data)
        let kept = Screen.keep(available, minimum: pipeline.minAvailability)
        guard !kept.isEmpty else {
            throw IndexError("screen: no unit has data availability of at least \(pipeline.minAvailability); lower screen.min-availability")
        }
        if kept.count < data.units.count { data = data.selecting(units: kept) }
        units = data.units
        imputed = data.values

        var treatedValues = data.values
        var records = [TreatmentRecord](repeating: TreatmentRecord(action: .none, points: 0), count: data.values.count)
        if let treatment = pipeline.treat {
            for i in treatedValues.indices {
                (treatedValues[i], records[i]) = Treat.apply(treatedValues[i], treatment)
            }
        }
        treated = treatedValues
        treatment = records

        var normalisedValues: [[Double]] = []
        for (i, node) in framework.indicators.enumerated() {
            normalisedValues.append(try Normalise.apply(treatedValues[i], node: node, method: pipeline.normalise))
        }
        normalised = normalisedValues

        var values: [String: [Double]] = [:]
        for (i, node) in framework.indicators.enumerated() { values[node.code] = normalisedValues[i] }
        var scores: [String: [Double]] = [:]
        for aggregate in framework.aggregates {
            let children = framework.children(of: aggregate.code)
            let childValues = children.map { values[$0.code]! }
            let childWeights = children.map { weights?[$0.code] ?? $0.weight }
            let score = try Aggregate.apply(children: childValues, weights: childWeights, method: pipeline.aggregate,
                                            parent: aggregate.code, units: data.units)
            values[aggregate.code] = score
            scores[aggregate.code] = score
        }
        self.scores = scores
        ranks = Statistics.rank(scores[framework.root.code]!, descending: true)
    }

    /// The index (root) scores, per unit.
    public var index: [Double] { scores[framework.root.code]! }

    /// The result table: uCode, one column per aggregate (by level), Rank.
    public func csv() -> String {
        let columns = framework.aggregates.map(\.code)
        var lines = [(["uCode"] + columns + ["Rank"]).joined(separator: ",")]
        for (u, unit) in units.enumerated() {
            let cells = columns.map { format(scores[$0]![u]) }
            lines.append(([unit] + cells + [ranks[u].isNaN ? "" : String(Int(ranks[u]))]).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func format(_ value: Double) -> String {
        value.isNaN ? "" : String(format: "%.10g", value)
    }
}
