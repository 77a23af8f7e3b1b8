/// Brings indicators onto a common scale, after multiplying by their direction so that
/// higher is always better.
enum Normalise {
    static func apply(_ column: [Double], node: Framework.Node, method: Pipeline.Normalisation) throws(IndexError) -> [Double] {
        let x = column.map { $0 * node.direction }
        let present = Statistics.present(x)
        guard let low = present.min(), let high = present.max() else { return x }
        switch method {
        case .minmax(let a, let b):
            guard high > low else { return x.map { $0.isNaN ? .nan : (a + b) / 2 } }
            return x.map { ($0 - low) / (high - low) * (b - a) + a }
        case .zscore:
            let m = Statistics.mean(x), s = Statistics.sd(x)
            guard s > 0 else { return x.map { $0.isNaN ? .nan : 0 } }
            return x.map { ($0 - m) / s }
        case .goalposts:
            guard let gLow = node.goalLow, let gHigh = node.goalHigh, gHigh > gLow else {
                throw IndexError("normalise goalposts: indicator '\(node.code)' needs GoalLow < GoalHigh in the metadata")
            }
            return column.map { raw in
                guard !raw.isNaN else { return .nan }
                let share = node.direction > 0 ? (raw - gLow) / (gHigh - gLow) : (gHigh - raw) / (gHigh - gLow)
                return min(1, max(0, share)) * 100
            }
        case .prank:
            let n = Double(present.count)
            guard n > 1 else { return x.map { $0.isNaN ? .nan : 0 } }
            return Statistics.rank(x, descending: false).map { ($0 - 1) / (n - 1) }
        case .rank:
            return Statistics.rank(x, descending: false)
        case .distToTarget:
            guard let target = node.target else {
                throw IndexError("normalise dist-to-target: indicator '\(node.code)' needs a Target in the metadata")
            }
            let t = target * node.direction
            guard t > low else { return x.map { $0.isNaN ? .nan : 100 } }
            return x.map { min(1, ($0 - low) / (t - low)) * 100 }
        case .distToMax:
            // Share of the best unit's value: x / max for "higher is better", min / x for "lower".
            let best = node.direction > 0 ? high : -high  // max of the raw column, or its min when flipped
            return column.map { raw in
                guard !raw.isNaN else { return .nan }
                if node.direction > 0 { return best == 0 ? .nan : raw / best * 100 }
                return raw == 0 ? 100 : best / raw * 100
            }
        }
    }
}
