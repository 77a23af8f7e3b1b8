import Foundation
import Yams

/// The construction choices of a composite index, in the order the stages run
/// (OECD/JRC Handbook): denominate, impute, screen, treat, normalise, aggregate.
public struct Pipeline: Sendable, Equatable {
    public enum Imputation: Sendable, Equatable {
        case none, mean, median
        case groupMean(String), groupMedian(String)
    }

    public struct Treatment: Sendable, Equatable {
        public enum Fallback: String, Sendable, Equatable { case none, logCT = "log-ct" }
        public var winmax = 5
        public var skewness = 2.0
        public var kurtosis = 3.5
        public var fallback = Fallback.logCT
        public init(winmax: Int = 5, skewness: Double = 2, kurtosis: Double = 3.5, fallback: Fallback = .logCT) {
            self.winmax = winmax
            self.skewness = skewness
            self.kurtosis = kurtosis
            self.fallback = fallback
        }
    }

    public enum Normalisation: Sendable, Equatable {
        case minmax(low: Double, high: Double)
        case zscore
        case goalposts
        case prank
        case rank
        case distToTarget
        case distToMax

        public static let names = ["minmax", "zscore", "goalposts", "prank", "rank", "dist-to-target", "dist-to-max"]
    }

    public enum Aggregation: String, Sendable, Equatable, CaseIterable {
        case arithmetic, geometric, harmonic, copeland
    }

    public var denominate = false
    public var impute = Imputation.none
    public var minAvailability = 0.0
    public var treat: Treatment?
    public var normalise = Normalisation.minmax(low: 0, high: 100)
    public var aggregate = Aggregation.arithmetic

    public init(denominate: Bool = false, impute: Imputation = .none, minAvailability: Double = 0,
                treat: Treatment? = nil, normalise: Normalisation = .minmax(low: 0, high: 100),
                aggregate: Aggregation = .arithmetic) {
        self.denominate = denominate
        self.impute = impute
        self.minAvailability = minAvailability
        self.treat = treat
        self.normalise = normalise
        self.aggregate = aggregate
    }

    public init(contentsOf path: String) throws(IndexError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw IndexError("\(path): cannot read the pipeline file; check the path")
        }
        try self.init(yaml: String(decoding: data, as: UTF8.self), source: path)
    }

    /// Parses the pipeline file. Unknown keys and values are errors naming the allowed ones.
    public init(yaml: String, source: String = "pipeline") throws(IndexError) {
        let node: Any?
        do { node = try Yams.load(yaml: yaml) } catch { throw IndexError("\(source): not valid YAML: \(error)") }
        guard let root = (node ?? [String: Any]()) as? [String: Any] else {
            throw IndexError("\(source): the pipeline must be a mapping of stage names to settings")
        }
        let stages = ["denominate", "impute", "screen", "treat", "normalise", "aggregate"]
        for key in root.keys where !stages.contains(key) {
            throw IndexError("\(source): unknown key '\(key)'; allowed: \(stages.joined(separator: ", "))")
        }
        func mapping(_ key: String, _ allowed: [String]) throws(IndexError) -> [String: Any]? {
            guard let value = root[key] else { return nil }
            guard let map = value as? [String: Any] else { throw IndexError("\(source): '\(key)' must be a mapping like {method: ...}") }
            for inner in map.keys where !allowed.contains(inner) {
                throw IndexError("\(source): unknown key '\(key).\(inner)'; allowed: \(allowed.joined(separator: ", "))")
            }
            return map
        }
        func number(_ map: [String: Any], _ key: String, _ path: String, default value: Double) throws(IndexError) -> Double {
            guard let raw = map[key] else { return value }
            if let n = raw as? Double { return n }
            if let n = raw as? Int { return Double(n) }
            throw IndexError("\(source): '\(path).\(key)' must be a number, got '\(raw)'")
        }
        func method(_ map: [String: Any], _ path: String, _ allowed: [String]) throws(IndexError) -> String {
            guard let value = map["method"] as? String else {
                throw IndexError("\(source): '\(path).method' is missing; allowed: \(allowed.joined(separator: " | "))")
            }
            guard allowed.contains(value) else {
                throw IndexError("\(source): '\(path).method' is '\(value)'; allowed: \(allowed.joined(separator: " | "))")
            }
            return value
        }

        if let value = root["denominate"] {
            guard let flag = value as? Bool else { throw IndexError("\(source): 'denominate' must be true or false, got '\(value)'") }
            denominate = flag
        }
        if let map = try mapping("impute", ["method", "group"]) {
            let kind = try method(map, "impute", ["none", "mean", "median", "group-mean", "group-median"])
            let group = map["group"] as? String
            if kind.hasPrefix("group"), group == nil {
                throw IndexError("\(source): 'impute.group' is needed for \(kind); name a group column of the data, like EurAsia_group")
            }
            switch kind {
            case "mean": impute = .mean
            case "median": impute = .median
            case "group-mean": impute = .groupMean(group!)
            case "group-median": impute = .groupMedian(group!)
            default: impute = .none
            }
        }
        if let map = try mapping("screen", ["min-availability"]) {
            minAvailability = try number(map, "min-availability", "screen", default: 0)
            guard (0...1).contains(minAvailability) else {
                throw IndexError("\(source): 'screen.min-availability' must be between 0 and 1, got \(minAvailability)")
            }
        }
        if let map = try mapping("treat", ["method", "winmax", "skewness", "kurtosis", "fallback"]) {
            if try method(map, "treat", ["none", "winsorise"]) == "winsorise" {
                var treatment = Treatment()
                treatment.winmax = Int(try number(map, "winmax", "treat", default: 5))
                treatment.skewness = try number(map, "skewness", "treat", default: 2)
                treatment.kurtosis = try number(map, "kurtosis", "treat", default: 3.5)
                if let fallback = map["fallback"] {
                    guard let text = fallback as? String, let value = Treatment.Fallback(rawValue: text) else {
                        throw IndexError("\(source): 'treat.fallback' is '\(fallback)'; allowed: none | log-ct")
                    }
                    treatment.fallback = value
                }
                treat = treatment
            }
        }
        if let map = try mapping("normalise", ["method", "range"]) {
            switch try method(map, "normalise", Normalisation.names) {
            case "minmax":
                var range = [0.0, 100.0]
                if let raw = map["range"] {
                    let values = (raw as? [Any])?.compactMap { ($0 as? Double) ?? ($0 as? Int).map(Double.init) }
                    guard let values, values.count == 2, values[0] < values[1] else {
                        throw IndexError("\(source): 'normalise.range' must be two increasing numbers like [0, 100]")
                    }
                    range = values
                }
                normalise = .minmax(low: range[0], high: range[1])
            case "zscore": normalise = .zscore
            case "goalposts": normalise = .goalposts
            case "prank": normalise = .prank
            case "rank": normalise = .rank
            case "dist-to-target": normalise = .distToTarget
            default: normalise = .distToMax
            }
        }
        if let map = try mapping("aggregate", ["method"]) {
            aggregate = Aggregation(rawValue: try method(map, "aggregate", Aggregation.allCases.map(\.rawValue)))!
        }
    }
}
