import Foundation

/// Combines children into their parent, unit by unit; a missing child is dropped and the
/// remaining weights renormalised.
enum Aggregate {
    static func apply(children: [[Double]], weights: [Double], method: Pipeline.Aggregation, parent: String,
                      units: [String]) throws(IndexError) -> [Double] {
        let n = children.first?.count ?? 0
        if method == .copeland { return copeland(children: children, weights: weights, units: n) }
        var result = [Double](repeating: .nan, count: n)
        for u in 0..<n {
            var total = 0.0, weightSum = 0.0
            for (c, child) in children.enumerated() where !child[u].isNaN && weights[c] > 0 {
                let v = child[u], w = weights[c]
                switch method {
                case .arithmetic:
                    total += w * v
                case .geometric:
                    guard v > 0 else {
                        throw IndexError("aggregate geometric: '\(parent)' has a child value \(v) <= 0 for unit '\(units[u])'; geometric means need positive inputs, so normalise to a positive range such as minmax [1, 100]")
                    }
                    total += w * log(v)
                case .harmonic:
                    guard v > 0 else {
                        throw IndexError("aggregate harmonic: '\(parent)' has a child value \(v) <= 0 for unit '\(units[u])'; harmonic means need positive inputs, so normalise to a positive range such as minmax [1, 100]")
                    }
                    total += w / v
                case .copeland:
                    break
                }
                weightSum += w
            }
            guard weightSum > 0 else { continue }
            switch method {
            case .arithmetic: result[u] = total / weightSum
            case .geometric: result[u] = exp(total / weightSum)
            case .harmonic: result[u] = weightSum / total
            case .copeland: break
            }
        }
        return result
    }

    /// Copeland score: for every other unit, +1 if the weighted majority of children favours this
    /// unit, -1 if it favours the other, 0 on a tie.
    static func copeland(children: [[Double]], weights: [Double], units n: Int) -> [Double] {
        var scores = [Double](repeating: 0, count: n)
        for a in 0..<n {
            for b in 0..<n where b != a {
                var balance = 0.0
                for (c, child) in children.enumerated() where !child[a].isNaN && !child[b].isNaN {
                    if child[a] > child[b] { balance += weights[c] } else if child[a] < child[b] { balance -= weights[c] }
                }
                scores[a] += balance > 0 ? 1 : (balance < 0 ? -1 : 0)
            }
        }
        return scores
    }
}
