import Foundation

/// Statistical audit of a computed index (OECD/JRC Handbook, step 7).
public struct Audit: Sendable {
    public struct IndicatorStatistics: Sendable {
        public var code: String
        public var parent: String
        public var availability: Double
        public var mean: Double
        public var sd: Double
        public var skewness: Double
        public var kurtosis: Double
        public var treatment: TreatmentRecord
        /// Pearson correlation of the normalised indicator with its parent's score.
        public var correlationWithParent: Double
    }

    public struct NegativeCorrelation: Sendable {
        public var parent: String
        public var first: String
        public var second: String
        public var r: Double
    }

    public var indicators: [IndicatorStatistics]
    /// Cronbach's alpha of each aggregate's children.
    public var alpha: [(code: String, value: Double)]
    /// Pairs of siblings that correlate negatively: they pull their parent in opposite directions.
    public var negativeCorrelations: [NegativeCorrelation]
    /// Pearson correlations between all normalised indicators, [i][j] in framework order.
    public var indicatorCorrelations: [[Double]]

    public init(_ index: CompositeIndex) {
        let framework = index.framework
        var values: [String: [Double]] = index.scores
        for (i, node) in framework.indicators.enumerated() { values[node.code] = index.normalised[i] }
        indicators = framework.indicators.enumerated().map { i, node in
            let column = index.denominated[i]
            return IndicatorStatistics(
                code: node.code, parent: node.parent ?? "",
                availability: Double(Statistics.present(column).count) / Double(max(1, column.count)),
                mean: Statistics.mean(column), sd: Statistics.sd(column),
                skewness: Statistics.skewness(column), kurtosis: Statistics.kurtosis(column),
                treatment: index.treatment[i],
                correlationWithParent: node.parent.map { Statistics.correlation(index.normalised[i], index.scores[$0]!) } ?? .nan)
        }
        var alpha: [(String, Double)] = []
        var negatives: [NegativeCorrelation] = []
        for aggregate in framework.aggregates {
            let children = framework.children(of: aggregate.code)
            alpha.append((aggregate.code, Statistics.cronbachAlpha(children.map { values[$0.code]! })))
            for a in children.indices {
                for b in children.indices where b > a {
                    let r = Statistics.correlation(values[children[a].code]!, values[children[b].code]!)
                    if r < 0 { negatives.append(NegativeCorrelation(parent: aggregate.code, first: children[a].code, second: children[b].code, r: r)) }
                }
            }
        }
        self.alpha = alpha
        negativeCorrelations = negatives
        indicatorCorrelations = index.normalised.map { a in index.normalised.map { b in Statistics.correlation(a, b) } }
    }

    public func text() -> String {
        func f(_ v: Double, _ digits: Int = 3) -> String { v.isNaN ? "NA" : String(format: "%.\(digits)f", v) }
        func right(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
        var lines = ["indicator      parent        avail      mean        sd    skew    kurt  treatment     r(parent)"]
        for s in indicators {
            let treated = s.treatment.action == .winsorised ? "winsorised \(s.treatment.points)" : s.treatment.action.rawValue
            lines.append(s.code.padding(toLength: 14, withPad: " ", startingAt: 0) + " " +
                         s.parent.padding(toLength: 12, withPad: " ", startingAt: 0) +
                         " " + right(f(s.availability, 2), 6) + " " + right(f(s.mean, 2), 9) + " " + right(f(s.sd, 2), 9) +
                         " " + right(f(s.skewness, 2), 7) + " " + right(f(s.kurtosis, 2), 7) + "  " +
                         treated.padding(toLength: 14, withPad: " ", startingAt: 0) + f(s.correlationWithParent))
        }
        lines.append("")
        lines.append("Cronbach's alpha per aggregate:")
        for (code, value) in alpha { lines.append("  \(code): \(f(value))") }
        lines.append("")
        if negativeCorrelations.isEmpty {
            lines.append("No negatively correlated siblings.")
        } else {
            lines.append("Negatively correlated siblings (they pull their parent in opposite directions):")
            for n in negativeCorrelations { lines.append("  \(n.parent): \(n.first) ~ \(n.second) r = \(f(n.r))") }
        }
        return lines.joined(separator: "\n")
    }
}
