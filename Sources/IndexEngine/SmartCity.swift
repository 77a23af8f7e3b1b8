import Foundation
import Yams

/// The smart-city index definition (`Config/index/smart-city.yaml`): pillars of indicators with
/// goalposts, targets and SDG targets, the pipeline, and the SDG progress-stage rule.
public struct SmartCityDefinition: Sendable {
    public struct Indicator: Sendable, Equatable {
        public var code: String
        public var name: String
        /// Column of the data table (a gateway indicator slug or `profile.*`).
        public var column: String
        public var direction: Double
        public var goalLow: Double
        public var goalHigh: Double
        public var target: Double?
        public var sdg: String?
        public var pillar: String

        /// Whether a raw value is at or beyond the target, in the indicator's direction.
        public func atTarget(_ value: Double) -> Bool? {
            guard let target, !value.isNaN else { return nil }
            return direction > 0 ? value >= target : value <= target
        }
    }

    public struct Pillar: Sendable, Equatable {
        public var code: String
        public var name: String
        public var indicators: [Indicator]
    }

    /// A stage and the minimum a city must reach for it (nil: no condition).
    public struct Stage: Sendable, Equatable {
        public var name: String
        public var governanceSteps: Int?
        public var sdgsCovered: Int?
        public var shareAtTarget: Double?
    }

    public var pipeline: Pipeline
    public var indexCode: String
    public var indexName: String
    public var pillars: [Pillar]
    public var stages: [Stage]

    public var indicators: [Indicator] { pillars.flatMap(\.indicators) }

    public init(contentsOf path: String) throws(IndexError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw IndexError("\(path): cannot read the index definition; check the path")
        }
        try self.init(yaml: String(decoding: data, as: UTF8.self), source: path)
    }

    public init(yaml: String, source: String) throws(IndexError) {
        let loaded: Any?
        do { loaded = try Yams.load(yaml: yaml) } catch { throw IndexError("\(source): not valid YAML: \(error)") }
        guard let root = loaded as? [String: Any] else { throw IndexError("\(source): expected a mapping with pipeline, index, pillars, stages") }
        for key in root.keys where !["pipeline", "index", "pillars", "stages"].contains(key) {
            throw IndexError("\(source): unknown key '\(key)'; allowed: pipeline, index, pillars, stages")
        }
        if let p = root["pipeline"] {
            let text: String
            do { text = try Yams.dump(object: p) } catch { throw IndexError("\(source): pipeline: \(error)") }
            pipeline = try Pipeline(yaml: text, source: "\(source): pipeline")
        } else {
            pipeline = Pipeline(normalise: .goalposts)
        }
        let index = root["index"] as? [String: Any] ?? [:]
        indexCode = index["code"] as? String ?? "Index"
        indexName = index["name"] as? String ?? indexCode
        guard let pillarList = root["pillars"] as? [[String: Any]], !pillarList.isEmpty else {
            throw IndexError("\(source): pillars: expected a list of pillars, each with code, name and indicators")
        }
        func number(_ v: Any?) -> Double? { (v as? Double) ?? (v as? Int).map(Double.init) }
        var pillars: [Pillar] = []
        var seen = Set<String>()
        for (p, pillar) in pillarList.enumerated() {
            let at = "pillars[\(p)]"
            guard let code = pillar["code"] as? String else { throw IndexError("\(source): \(at).code: every pillar needs a code") }
            guard let list = pillar["indicators"] as? [[String: Any]], !list.isEmpty else {
                throw IndexError("\(source): \(at).indicators: pillar \(code) needs at least one indicator")
            }
            var indicators: [Indicator] = []
            for (i, item) in list.enumerated() {
                let path = "\(at).indicators[\(i)]"
                for key in item.keys where !["code", "name", "column", "direction", "goalposts", "target", "sdg"].contains(key) {
                    throw IndexError("\(source): \(path).\(key): unknown key; allowed: code, name, column, direction, goalposts, target, sdg")
                }
                guard let icode = item["code"] as? String, let column = item["column"] as? String else {
                    throw IndexError("\(source): \(path): an indicator needs a code and a column")
                }
                guard seen.insert(icode).inserted else { throw IndexError("\(source): \(path).code: '\(icode)' appears twice") }
                guard let direction = number(item["direction"]), direction == 1 || direction == -1 else {
                    throw IndexError("\(source): \(path).direction: must be 1 (higher is better) or -1")
                }
                guard let goals = item["goalposts"] as? [Any], goals.count == 2, let low = number(goals[0]), let high = number(goals[1]), low < high else {
                    throw IndexError("\(source): \(path).goalposts: expected [low, high] with low < high on the raw scale")
                }
                indicators.append(Indicator(code: icode, name: item["name"] as? String ?? icode, column: column, direction: direction,
                                            goalLow: low, goalHigh: high, target: number(item["target"]),
                                            sdg: (item["sdg"] as? String) ?? number(item["sdg"]).map { String($0) }, pillar: code))
            }
            pillars.append(Pillar(code: code, name: pillar["name"] as? String ?? code, indicators: indicators))
        }
        self.pillars = pillars
        var stages: [Stage] = []
        for (s, stage) in (root["stages"] as? [[String: Any]] ?? []).enumerated() {
            guard let name = stage["name"] as? String else { throw IndexError("\(source): stages[\(s)].name: every stage needs a name") }
            for key in stage.keys where !["name", "governance-steps", "sdgs-covered", "share-at-target"].contains(key) {
                throw IndexError("\(source): stages[\(s)].\(key): unknown key; allowed: name, governance-steps, sdgs-covered, share-at-target")
            }
            stages.append(Stage(name: name, governanceSteps: stage["governance-steps"] as? Int, sdgsCovered: stage["sdgs-covered"] as? Int,
                                shareAtTarget: number(stage["share-at-target"])))
        }
        self.stages = stages
    }

    /// The index tree: indicators with their goalposts, pillars, the index.
    public func framework() throws(IndexError) -> Framework {
        let nodes = indicators.map {
            Framework.Node(code: $0.code, name: $0.name, level: 1, direction: $0.direction, parent: $0.pillar, goalLow: $0.goalLow, goalHigh: $0.goalHigh)
        }
        let aggregates = pillars.map { Framework.Node(code: $0.code, name: $0.name, level: 2, parent: indexCode) }
            + [Framework.Node(code: indexCode, name: indexName, level: 3, parent: nil)]
        return try Framework(indicators: nodes, aggregates: aggregates)
    }

    /// Computes the index and each city's SDG stage. `table[city][column]` holds the raw
    /// values (missing = not measured); `governance[city]` the governance steps taken.
    public func evaluate(cities: [String], names: [String: String] = [:], table: [String: [String: Double]],
                         governance: [String: Int]) throws(IndexError) -> SmartCityResult {
        let framework = try framework()
        let values = indicators.map { indicator in cities.map { table[$0]?[indicator.column] ?? .nan } }
        let dataset = Dataset(units: cities, indicators: indicators.map(\.code), values: values, unitNames: cities.map { names[$0] ?? $0 })
        let index = try CompositeIndex(data: dataset, framework: framework, pipeline: pipeline)
        var results: [StageResult] = []
        for (u, city) in cities.enumerated() {
            var mapped = 0, reached = 0
            var goals = Set<String>()
            for (i, indicator) in indicators.enumerated() {
                guard let sdg = indicator.sdg, let at = indicator.atTarget(values[i][u]) else { continue }
                mapped += 1
                if at { reached += 1 }
                goals.insert(String(sdg.split(separator: ".").first ?? Substring(sdg)))
            }
            let share = mapped > 0 ? Double(reached) / Double(mapped) : 0
            let steps = governance[city] ?? 0
            var chosen = stages.last?.name ?? "unclassified"
            var reasons: [String] = []
            for stage in stages {
                var missing: [String] = []
                if let g = stage.governanceSteps, steps < g { missing.append("governance steps \(steps) < \(g)") }
                if let c = stage.sdgsCovered, goals.count < c { missing.append("SDGs covered \(goals.count) < \(c)") }
                if let s = stage.shareAtTarget, share < s { missing.append("indicators at target \(Int((share * 100).rounded())) % < \(Int((s * 100).rounded())) %") }
                if missing.isEmpty {
                    chosen = stage.name
                    reasons.append("meets every condition of \(stage.name)")
                    break
                }
                reasons.append("not \(stage.name): " + missing.joined(separator: ", "))
            }
            results.append(StageResult(city: city, stage: chosen, governanceSteps: steps, sdgsCovered: goals.sorted { (Int($0) ?? 0) < (Int($1) ?? 0) },
                                      indicatorsAtTarget: reached, indicatorsMapped: mapped, reasons: reasons))
        }
        return SmartCityResult(definition: self, index: index, stages: results, dataset: dataset)
    }
}

public struct StageResult: Sendable, Codable, Equatable {
    public var city: String
    public var stage: String
    public var governanceSteps: Int
    public var sdgsCovered: [String]
    public var indicatorsAtTarget: Int
    public var indicatorsMapped: Int
    public var reasons: [String]
}

public struct SmartCityResult: Sendable {
    public var definition: SmartCityDefinition
    public var index: CompositeIndex
    public var stages: [StageResult]
    public var dataset: Dataset

    /// 5-95 % rank intervals per city when every weight varies by +-`weightShare` (Monte Carlo,
    /// seeded): how firm each rank is.
    public func rankIntervals(replications: Int = 500, seed: UInt64 = 1, weightShare: Double = 0.25) throws(IndexError) -> [String: (Double, Double)] {
        guard index.units.count > 1 else { return Dictionary(uniqueKeysWithValues: index.units.map { ($0, (1.0, 1.0)) }) }
        let options = UncertaintyAnalysis.Options(replications: replications, seed: seed, weightShare: weightShare,
                                                  normalisations: [definition.pipeline.normalise], aggregations: [definition.pipeline.aggregate],
                                                  toggleImputation: false, toggleTreatment: false)
        let analysis = try UncertaintyAnalysis(data: dataset, framework: try definition.framework(), pipeline: definition.pipeline, options: options)
        return Dictionary(uniqueKeysWithValues: analysis.ranks.map { ($0.unit, ($0.p05, $0.p95)) })
    }

    /// uCode, one column per pillar, the index, Rank, Stage.
    public func csv() -> String {
        let columns = definition.pillars.map(\.code) + [definition.indexCode]
        var lines = [(["uCode"] + columns + ["Rank", "Stage"]).joined(separator: ",")]
        for (u, unit) in index.units.enumerated() {
            let cells = columns.map { code in index.scores[code].map { $0[u].isNaN ? "" : String(format: "%.4f", $0[u]) } ?? "" }
            let rank = index.ranks[u].isNaN ? "" : String(Int(index.ranks[u]))
            lines.append(([unit] + cells + [rank, stages.first { $0.city == unit }?.stage ?? ""]).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public func score(_ code: String, city: String) -> Double? {
        guard let u = index.units.firstIndex(of: city), let s = index.scores[code]?[u], !s.isNaN else { return nil }
        return s
    }

    public func rank(city: String) -> Int? {
        guard let u = index.units.firstIndex(of: city), !index.ranks[u].isNaN else { return nil }
        return Int(index.ranks[u])
    }
}
