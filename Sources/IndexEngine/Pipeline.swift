import Foundation
import YAMLReader

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
        do { try self.init(field: YAMLField.document(contentsOf: path, what: "pipeline file", empty: "")) } catch let error as ConfigError {
            // An empty file is the default pipeline.
            if error.message.isEmpty { self.init() } else { throw IndexError(error.description) }
        } catch { throw error as! IndexError }
    }

    /// Parses the pipeline file. Unknown keys and values are errors naming the place and the
    /// allowed ones.
    public init(yaml: String, source: String = "pipeline") throws(IndexError) {
        guard yaml.contains(where: { !$0.isWhitespace }) else {
            self.init()
            return
        }
        do { try self.init(field: YAMLField.document(yaml: yaml, file: source)) } catch let error as ConfigError {
            throw IndexError(error.description)
        } catch { throw error as! IndexError }
    }

    /// Reads a pipeline from a field of a larger file (the index definition's `pipeline:`).
    public init(field: YAMLField) throws {
        self.init()
        let stages = ["denominate", "impute", "screen", "treat", "normalise", "aggregate"]
        let root = try field.mapping(allowed: stages)
        func method(_ map: YAMLMapping, _ allowed: [String]) throws -> String {
            let field = try map.required("method")
            let value = try field.string()
            guard allowed.contains(value) else { throw field.error("'\(value)' is not a method here; allowed: \(allowed.joined(separator: " | "))") }
            return value
        }
        if let value = root["denominate"] { denominate = try value.bool() }
        if let field = root["impute"] {
            let map = try field.mapping(allowed: ["method", "group"])
            let kind = try method(map, ["none", "mean", "median", "group-mean", "group-median"])
            let group = try map["group"]?.string()
            if kind.hasPrefix("group"), group == nil {
                throw field.error("'impute.group' is needed for \(kind); name a group column of the data, like EurAsia_group")
            }
            switch kind {
            case "mean": impute = .mean
            case "median": impute = .median
            case "group-mean": impute = .groupMean(group!)
            case "group-median": impute = .groupMedian(group!)
            default: impute = .none
            }
        }
        if let field = root["screen"] {
            minAvailability = try field.mapping(allowed: ["min-availability"])["min-availability"]?.double(in: 0...1) ?? 0
        }
        if let field = root["treat"] {
            let map = try field.mapping(allowed: ["method", "winmax", "skewness", "kurtosis", "fallback"])
            if try method(map, ["none", "winsorise"]) == "winsorise" {
                var treatment = Treatment()
                treatment.winmax = try map["winmax"]?.int(in: 0...1000) ?? 5
                treatment.skewness = try map["skewness"]?.double() ?? 2
                treatment.kurtosis = try map["kurtosis"]?.double() ?? 3.5
                if let fallback = map["fallback"] {
                    let text = try fallback.string()
                    guard let value = Treatment.Fallback(rawValue: text) else {
                        throw fallback.error("'\(text)' is not a fallback; allowed: none | log-ct")
                    }
                    treatment.fallback = value
                }
                treat = treatment
            }
        }
        if let field = root["normalise"] {
            let map = try field.mapping(allowed: ["method", "range"])
            switch try method(map, Normalisation.names) {
            case "minmax":
                var range = [0.0, 100.0]
                if let raw = map["range"] {
                    let values = try raw.doubles()
                    guard values.count == 2, values[0] < values[1] else { throw raw.error("must be two increasing numbers like [0, 100]") }
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
        if let field = root["aggregate"] {
            aggregate = Aggregation(rawValue: try method(try field.mapping(allowed: ["method"]), Aggregation.allCases.map(\.rawValue)))!
        }
    }
}
