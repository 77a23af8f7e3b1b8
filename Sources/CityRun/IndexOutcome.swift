import IndexEngine
import SmartCityIndex

/// The index part of summary.json.
public struct IndexOutcome: Encodable, Sendable {
    public struct Pillar: Encodable, Sendable {
        public var code: String
        public var name: String
    }
    public struct City: Encodable, Sendable {
        public var city: String
        public var score: Double?
        public var rank: Int?
        public var pillars: [String: Double]
        /// Normalised 0-100 scores of the indicators.
        public var indicators: [String: Double]
        /// Share of the index's score, and of each pillar's, from telemetry-derived indicators
        /// (the rest comes from static profile values).
        public var telemetryShare: Double?
        public var telemetrySharePillars: [String: Double]
        public var stage: String
        public var stageReasons: [String]
        public var sdgsCovered: [String]
        public var indicatorsAtTarget: Int
        public var indicatorsMapped: Int
    }
    public var code: String
    public var name: String
    public var pillars: [Pillar]
    public var cities: [City]

    init(_ result: SmartCityResult) {
        let d = result.definition
        code = d.indexCode
        name = d.indexName
        pillars = d.pillars.map { Pillar(code: $0.code, name: $0.name) }
        cities = result.index.units.enumerated().map { u, city in
            let stage = result.stages.first { $0.city == city }
            var indicators: [String: Double] = [:]
            for (i, indicator) in d.indicators.enumerated() where !result.index.normalised[i][u].isNaN {
                indicators[indicator.code] = result.index.normalised[i][u]
            }
            let share = result.telemetryShare(city: city)
            return City(city: city, score: result.score(d.indexCode, city: city), rank: result.rank(city: city),
                        pillars: Dictionary(uniqueKeysWithValues: d.pillars.compactMap { p in result.score(p.code, city: city).map { (p.code, $0) } }),
                        indicators: indicators, telemetryShare: share.index, telemetrySharePillars: share.pillars, stage: stage?.stage ?? "", stageReasons: stage?.reasons ?? [],
                        sdgsCovered: stage?.sdgsCovered ?? [], indicatorsAtTarget: stage?.indicatorsAtTarget ?? 0,
                        indicatorsMapped: stage?.indicatorsMapped ?? 0)
        }
    }
}
