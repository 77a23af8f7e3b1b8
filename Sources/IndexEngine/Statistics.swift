/// Descriptive statistics that skip missing values (NaN).
public enum Statistics {
    public static func present(_ x: [Double]) -> [Double] { x.filter { !$0.isNaN } }

    public static func mean(_ x: [Double]) -> Double {
        var sum = 0.0, n = 0
        for v in x where !v.isNaN { sum += v; n += 1 }
        return n == 0 ? .nan : sum / Double(n)
    }

    public static func median(_ x: [Double]) -> Double {
        let v = present(x).sorted()
        guard !v.isEmpty else { return .nan }
        return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
    }

    /// Sample standard deviation (n - 1).
    public static func sd(_ x: [Double]) -> Double {
        let v = present(x)
        guard v.count > 1 else { return .nan }
        let m = v.reduce(0, +) / Double(v.count)
        return (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)).squareRoot()
    }

    private static func moments(_ v: [Double]) -> (n: Double, m2: Double, m3: Double, m4: Double) {
        let n = Double(v.count)
        let m = v.reduce(0, +) / n
        var m2 = 0.0, m3 = 0.0, m4 = 0.0
        for x in v {
            let d = x - m, d2 = d * d
            m2 += d2; m3 += d2 * d; m4 += d2 * d2
        }
        return (n, m2 / n, m3 / n, m4 / n)
    }

    /// Sample skewness with the small-sample correction ("type 2", as Excel's SKEW).
    public static func skewness(_ x: [Double]) -> Double {
        let v = present(x)
        guard v.count > 2 else { return .nan }
        let (n, m2, m3, _) = moments(v)
        guard m2 > 0 else { return 0 }
        let g1 = m3 / pow15(m2)
        return g1 * (n * (n - 1)).squareRoot() / (n - 2)
    }

    /// Sample excess kurtosis with the small-sample correction ("type 2", as Excel's KURT).
    public static func kurtosis(_ x: [Double]) -> Double {
        let v = present(x)
        guard v.count > 3 else { return .nan }
        let (n, m2, _, m4) = moments(v)
        guard m2 > 0 else { return 0 }
        let g2 = m4 / (m2 * m2) - 3
        return ((n + 1) * g2 + 6) * (n - 1) / ((n - 2) * (n - 3))
    }

    private static func pow15(_ x: Double) -> Double { x * x.squareRoot() }

    /// Pearson correlation over the units where both values are present.
    public static func correlation(_ a: [Double], _ b: [Double]) -> Double {
        var xs: [Double] = [], ys: [Double] = []
        for i in a.indices where !a[i].isNaN && !b[i].isNaN { xs.append(a[i]); ys.append(b[i]) }
        guard xs.count > 2 else { return .nan }
        let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in xs.indices {
            sxy += (xs[i] - mx) * (ys[i] - my)
            sxx += (xs[i] - mx) * (xs[i] - mx)
            syy += (ys[i] - my) * (ys[i] - my)
        }
        guard sxx > 0, syy > 0 else { return .nan }
        return sxy / (sxx * syy).squareRoot()
    }

    /// Cronbach's alpha of the columns (items) over units with every item present.
    public static func cronbachAlpha(_ columns: [[Double]]) -> Double {
        let k = Double(columns.count)
        guard columns.count > 1, let n = columns.first?.count else { return .nan }
        let complete = (0..<n).filter { u in columns.allSatisfy { !$0[u].isNaN } }
        guard complete.count > 2 else { return .nan }
        func variance(_ v: [Double]) -> Double { let s = sd(v); return s * s }
        let itemVariances = columns.map { column in variance(complete.map { column[$0] }) }.reduce(0, +)
        let totals = complete.map { u in columns.reduce(0) { $0 + $1[u] } }
        let total = variance(totals)
        guard total > 0 else { return .nan }
        return k / (k - 1) * (1 - itemVariances / total)
    }

    /// Ranks with ties at the lowest rank number; `descending` ranks the largest value 1.
    /// Missing values get NaN.
    public static func rank(_ x: [Double], descending: Bool) -> [Double] {
        let order = x.indices.filter { !x[$0].isNaN }.sorted { descending ? x[$0] > x[$1] : x[$0] < x[$1] }
        var ranks = [Double](repeating: .nan, count: x.count)
        var position = 0
        while position < order.count {
            var end = position
            while end + 1 < order.count, x[order[end + 1]] == x[order[position]] { end += 1 }
            for i in position...end { ranks[order[i]] = Double(position + 1) }
            position = end + 1
        }
        return ranks
    }
}
