import Foundation
import IndexEngine
import YAMLReader

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

        /// True for indicators measured from telemetry (gateway columns), false for the static
        /// values of the city profile (`profile.*`).
        public var fromTelemetry: Bool { !column.hasPrefix("profile.") }

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
        do { try self.init(field: YAMLField.document(contentsOf: path, what: "index definition")) } catch let error as ConfigError {
            throw IndexError(error.description)
        } catch { throw error as! IndexError }
    }

    public init(yaml: String, source: String) throws(IndexError) {
        do { try self.init(field: YAMLField.document(yaml: yaml, file: source)) } catch let error as ConfigError {
            throw IndexError(error.description)
        } catch { throw error as! IndexError }
    }

    private init(field: YAMLField) throws {
        let root = try field.mapping(allowed: ["pipeline", "index", "pillars", "stages"])
        pipeline = try root["pipeline"].map { try Pipeline(field: $0) } ?? Pipeline(normalise: .goalposts)
        let index = try root["index"]?.mapping(allowed: ["code", "name"])
        indexCode = try index?["code"]?.string() ?? "Index"
        indexName = try index?["name"]?.string() ?? indexCode
        let pillarList = try root.required("pillars").list()
        guard !pillarList.isEmpty else { throw try root.required("pillars").error("expected a list of pillars, each with code, name and indicators") }
        var pillars: [Pillar] = []
        var seen = Set<String>()
        for pillarField in pillarList {
            let pillar = try pillarField.mapping(allowed: ["code", "name", "indicators"])
            let code = try pillar.required("code").string()
            let list = try pillar.required("indicators").list()
            guard !list.isEmpty else { throw try pillar.required("indicators").error("pillar \(code) needs at least one indicator") }
            var indicators: [Indicator] = []
            for itemField in list {
                let item = try itemField.mapping(allowed: ["code", "name", "column", "direction", "goalposts", "target", "sdg"])
                let codeField = try item.required("code")
                let icode = try codeField.string()
                guard seen.insert(icode).inserted else { throw codeField.error("'\(icode)' appears twice") }
                let directionField = try item.required("direction")
                let direction = try directionField.double()
                guard direction == 1 || direction == -1 else { throw directionField.error("must be 1 (higher is better) or -1") }
                let goalField = try item.required("goalposts")
                let goals = try goalField.doubles()
                guard goals.count == 2, goals[0] < goals[1] else { throw goalField.error("expected [low, high] with low < high on the raw scale") }
                indicators.append(Indicator(code: icode, name: try item["name"]?.string() ?? icode, column: try item.required("column").string(),
                                            direction: direction, goalLow: goals[0], goalHigh: goals[1], target: try item["target"]?.double(),
                                            sdg: try item["sdg"]?.string(), pillar: code))
            }
            pillars.append(Pillar(code: code, name: try pillar["name"]?.string() ?? code, indicators: indicators))
        }
        self.pillars = pillars
        var stages: [Stage] = []
        for stageField in try root["stages"]?.list() ?? [] {
            let stage = try stageField.mapping(allowed: ["name", "governance-steps", "sdgs-covered", "share-at-target"])
            stages.append(Stage(name: try stage.required("name").string(), governanceSteps: try stage["governance-steps"]?.int(in: 0...1000),
                                sdgsCovered: try stage["sdgs-covered"]?.int(in: 0...17), shareAtTarget: try stage["share-at-target"]?.double(in: 0...1)))
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

    /// The share of each pillar's score, and of the index's, that comes from telemetry-derived
    /// indicators rather than static profile values: a pillar's points split by its scored
    /// indicators (equal weights, missing ones left out), the index's by its pillars' points.
    public func telemetryShare(city: String) -> (index: Double?, pillars: [String: Double]) {
        guard let u = index.units.firstIndex(of: city) else { return (nil, [:]) }
        let indicators = definition.indicators
        var pillars: [String: Double] = [:]
        var telemetryPoints = 0.0, allPoints = 0.0
        for pillar in definition.pillars {
            var telemetry = 0.0, all = 0.0, scored = 0
            for (i, indicator) in indicators.enumerated() where indicator.pillar == pillar.code {
                let score = index.normalised[i][u]
                guard !score.isNaN else { continue }
                scored += 1
                all += score
                if indicator.fromTelemetry { telemetry += score }
            }
            guard scored > 0 else { continue }
            if all > 0 { pillars[pillar.code] = telemetry / all }
            telemetryPoints += telemetry / Double(scored)
            allPoints += all / Double(scored)
        }
        return (allPoints > 0 ? telemetryPoints / allPoints : nil, pillars)
    }

    public func rank(city: String) -> Int? {
        guard let u = index.units.firstIndex(of: city), !index.ranks[u].isNaN else { return nil }
        return Int(index.ranks[u])
    }
}
