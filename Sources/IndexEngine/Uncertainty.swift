/// Monte Carlo uncertainty and Sobol sensitivity of the ranking to the construction choices.
public struct UncertaintyAnalysis: Sendable {
    public struct Options: Sendable {
        public var replications: Int
        public var seed: UInt64
        /// Each weight is multiplied by a uniform draw from [1 - share, 1 + share].
        public var weightShare: Double
        /// Normalisations to choose from; both must give positive values so that geometric
        /// aggregation stays defined.
        public var normalisations: [Pipeline.Normalisation]
        public var aggregations: [Pipeline.Aggregation]
        /// Also vary whether imputation and outlier treatment run.
        public var toggleImputation: Bool
        public var toggleTreatment: Bool

        public init(replications: Int, seed: UInt64 = 1, weightShare: Double = 0.25,
                    normalisations: [Pipeline.Normalisation] = [.minmax(low: 1, high: 100), .rank],
                    aggregations: [Pipeline.Aggregation] = [.arithmetic, .geometric],
                    toggleImputation: Bool = true, toggleTreatment: Bool = true) {
            self.replications = replications
            self.seed = seed
            self.weightShare = weightShare
            self.normalisations = normalisations
            self.aggregations = aggregations
            self.toggleImputation = toggleImputation
            self.toggleTreatment = toggleTreatment
        }
    }

    public struct UnitRanks: Sendable, Equatable {
        public var unit: String
        public var nominal: Double
        public var median: Double
        public var p05: Double
        public var p95: Double
    }

    public struct SobolIndex: Sendable, Equatable {
        public var factor: String
        public var firstOrder: Double
        public var total: Double
    }

    public static let factors = ["normalisation", "aggregation", "weights", "imputation", "treatment"]

    public var ranks: [UnitRanks]
    public var sensitivity: [SobolIndex]?

    /// Runs `options.replications` replications (and, with `sensitivity`, a Saltelli design of
    /// replications x (factors + 2) evaluations). The same seed gives the same result.
    public init(data: Dataset, framework: Framework, pipeline: Pipeline, options: Options, sensitivity: Bool = false) throws(IndexError) {
        let nominal = try CompositeIndex(data: data, framework: framework, pipeline: pipeline)
        let evaluator = Evaluator(data: data, framework: framework, pipeline: pipeline, options: options, nominal: nominal)
        var rng = SplitMix64(seed: options.seed)
        var samples: [[Double]] = []
        for _ in 0..<options.replications {
            let point = (0..<Self.factors.count).map { _ in rng.unit() }
            samples.append(try evaluator.ranks(at: point))
        }
        ranks = nominal.units.indices.map { u in
            let values = samples.map { $0[u] }.filter { !$0.isNaN }.sorted()
            func quantile(_ q: Double) -> Double {
                guard !values.isEmpty else { return .nan }
                let position = q * Double(values.count - 1)
                let low = Int(position.rounded(.down)), high = Int(position.rounded(.up))
                return values[low] + (values[high] - values[low]) * (position - Double(low))
            }
            return UnitRanks(unit: nominal.units[u], nominal: nominal.ranks[u], median: quantile(0.5), p05: quantile(0.05), p95: quantile(0.95))
        }
        guard sensitivity else { self.sensitivity = nil; return }

        // Saltelli design with Saltelli (2010) first-order and Jansen total-effect estimators,
        // on the mean absolute rank shift from the nominal ranking.
        let k = Self.factors.count
        let a = (0..<options.replications).map { _ in (0..<k).map { _ in rng.unit() } }
        let b = (0..<options.replications).map { _ in (0..<k).map { _ in rng.unit() } }
        let yA = try a.map { point throws(IndexError) in try evaluator.shift(at: point) }
        let yB = try b.map { point throws(IndexError) in try evaluator.shift(at: point) }
        let all = yA + yB
        let mean = all.reduce(0, +) / Double(all.count)
        let variance = all.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(all.count)
        var indices: [SobolIndex] = []
        for i in 0..<k {
            var first = 0.0, total = 0.0
            for j in a.indices {
                var mixed = a[j]
                mixed[i] = b[j][i]
                let yAB = try evaluator.shift(at: mixed)
                first += yB[j] * (yAB - yA[j])
                total += (yA[j] - yAB) * (yA[j] - yAB)
            }
            let n = Double(a.count)
            indices.append(SobolIndex(factor: Self.factors[i],
                                      firstOrder: variance > 0 ? first / n / variance : 0,
                                      total: variance > 0 ? total / (2 * n) / variance : 0))
        }
        self.sensitivity = indices
    }

    /// Maps a point of the unit hypercube to one set of construction choices.
    private struct Evaluator {
        let data: Dataset
        let framework: Framework
        let pipeline: Pipeline
        let options: Options
        let nominal: CompositeIndex

        func choose<T>(_ u: Double, _ options: [T]) -> T { options[min(options.count - 1, Int(u * Double(options.count)))] }

        func index(at point: [Double]) throws(IndexError) -> CompositeIndex {
            var variant = pipeline
            variant.normalise = choose(point[0], options.normalisations)
            variant.aggregate = choose(point[1], options.aggregations)
            if options.toggleImputation, point[3] >= 0.5 { variant.impute = .none }
            if options.toggleTreatment, point[4] >= 0.5 { variant.treat = nil }
            // The weight factor's value seeds the weight draw, so one factor moves all weights.
            var weightRNG = SplitMix64(seed: UInt64(point[2] * Double(UInt32.max)) &+ options.seed)
            var weights: [String: Double] = [:]
            for node in framework.indicators + framework.aggregates {
                weights[node.code] = node.weight * (1 + options.weightShare * (2 * weightRNG.unit() - 1))
            }
            return try CompositeIndex(data: data, framework: framework, pipeline: variant, weights: weights)
        }

        /// Ranks of the nominal units (a unit screened out in this variant gets NaN).
        func ranks(at point: [Double]) throws(IndexError) -> [Double] {
            let variant = try index(at: point)
            let position = Dictionary(uniqueKeysWithValues: variant.units.enumerated().map { ($1, $0) })
            return nominal.units.map { unit in position[unit].map { variant.ranks[$0] } ?? .nan }
        }

        func shift(at point: [Double]) throws(IndexError) -> Double {
            let r = try ranks(at: point)
            var sum = 0.0, n = 0
            for u in r.indices where !r[u].isNaN { sum += abs(r[u] - nominal.ranks[u]); n += 1 }
            return n == 0 ? 0 : sum / Double(n)
        }
    }
}

/// A small, fast, seedable generator (Steele, Lea, Flood 2014), so analyses repeat exactly.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
