import Foundation

/// How one indicator's outliers were treated.
public struct TreatmentRecord: Sendable, Equatable {
    public enum Action: String, Sendable { case none, winsorised, logCT = "log-ct", failed }
    public var action: Action
    /// Points winsorised (0 for none and log-ct).
    public var points: Int
}

/// Outlier treatment as COINr does it: an indicator passes when |skewness| < limit or
/// kurtosis < limit. Until it passes, and at most `winmax` times, the most extreme value(s) on
/// the skewed side take the next value inwards; if it still fails, log(x - min + 0.01 (max - min))
/// of the untreated values replaces it.
enum Treat {
    static func passes(_ x: [Double], _ t: Pipeline.Treatment) -> Bool {
        let skew = Statistics.skewness(x), kurt = Statistics.kurtosis(x)
        if skew.isNaN || kurt.isNaN { return true }
        return abs(skew) < t.skewness || kurt < t.kurtosis
    }

    static func apply(_ column: [Double], _ t: Pipeline.Treatment) -> ([Double], TreatmentRecord) {
        if passes(column, t) { return (column, TreatmentRecord(action: .none, points: 0)) }
        var x = column
        var points = 0
        for _ in 0..<t.winmax {
            if passes(x, t) { break }
            let present = Statistics.present(x)
            if Statistics.skewness(x) >= 0 {
                let top = present.max()!
                guard let next = present.filter({ $0 < top }).max() else { break }
                for u in x.indices where x[u] == top { x[u] = next; points += 1 }
            } else {
                let bottom = present.min()!
                guard let next = present.filter({ $0 > bottom }).min() else { break }
                for u in x.indices where x[u] == bottom { x[u] = next; points += 1 }
            }
        }
        if passes(x, t) { return (x, TreatmentRecord(action: .winsorised, points: points)) }
        guard t.fallback == .logCT else { return (x, TreatmentRecord(action: .failed, points: points)) }
        let present = Statistics.present(column)
        let low = present.min()!, high = present.max()!
        let logged = column.map { $0.isNaN ? Double.nan : log($0 - low + 0.01 * (high - low)) }
        return (logged, TreatmentRecord(action: .logCT, points: 0))
    }
}
