import Foundation
import IndexEngine
import SmartCityIndex
import Testing

@Suite final class SmartCityIndexTests {
    var shipped: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Config/index/smart-city.yaml").standardized.path
    }

    @Test func theShippedDefinitionHasEightPillarsWithGoalpostsAndSDGs() throws {
        let d = try SmartCityDefinition(contentsOf: shipped)
        #expect(d.pillars.count == 8)
        #expect(d.pipeline.normalise == .goalposts)
        #expect(d.indicators.allSatisfy { $0.goalLow < $0.goalHigh && $0.target != nil && $0.sdg != nil })
        #expect(d.pillars.allSatisfy { !$0.indicators.isEmpty })
        let pm25 = try #require(d.indicators.first { $0.column == "ISO37120_8_1" })
        #expect(pm25.goalLow == 5, "WHO 2021 guideline")
        #expect(pm25.direction == -1)
        _ = try d.framework()
    }

    let definition = """
        pipeline: {normalise: {method: goalposts}, aggregate: {method: arithmetic}}
        index: {code: SCI, name: Test index}
        pillars:
          - code: ENV
            indicators:
              - {code: PM25, column: pm25, direction: -1, goalposts: [5, 35], target: 10, sdg: "11.6.2"}
              - {code: NO2, column: no2, direction: -1, goalposts: [10, 40], target: 20, sdg: "3.9.1"}
          - code: DIG
            indicators:
              - {code: BB, column: bb, direction: 1, goalposts: [0, 100], target: 100, sdg: "9.c"}
        stages:
          - {name: sprinter, governance-steps: 5, sdgs-covered: 3, share-at-target: 0.6}
          - {name: advancer, governance-steps: 3, share-at-target: 0.3}
          - {name: implementer}
        """

    /// One city alone gets scores from the goalposts, not from other cities.
    @Test func oneCityIsScoredOnFixedGoalposts() throws {
        let d = try SmartCityDefinition(yaml: definition, source: "test.yaml")
        let result = try d.evaluate(cities: ["almaty"], table: ["almaty": ["pm25": 20, "no2": 40, "bb": 86]], governance: ["almaty": 3])
        #expect(abs((try #require(result.score("ENV", city: "almaty"))) - ((50 + 0) / 2)) <= 1e-9, "PM2.5 20 is half-way, NO2 40 is at the low goalpost")
        #expect(abs((try #require(result.score("DIG", city: "almaty"))) - 86) <= 1e-9)
        #expect(abs((try #require(result.score("SCI", city: "almaty"))) - ((25 + 86) / 2)) <= 1e-9)
        #expect(result.rank(city: "almaty") == 1)
        // Beyond the goalposts the score is clamped.
        let clean = try d.evaluate(cities: ["x"], table: ["x": ["pm25": 2, "no2": 80, "bb": 100]], governance: [:])
        #expect(abs((try #require(clean.score("ENV", city: "x"))) - 50) <= 1e-9)
    }

    @Test func stagesFollowTheRuleAndSayWhy() throws {
        let d = try SmartCityDefinition(yaml: definition, source: "test.yaml")
        let table: [String: [String: Double]] = [
            "leader": ["pm25": 8, "no2": 15, "bb": 100],   // all three at target
            "middle": ["pm25": 30, "no2": 15, "bb": 90],   // one of three
            "starter": ["pm25": 8, "no2": 15, "bb": 100],  // at target, but little governance
        ]
        let result = try d.evaluate(cities: ["leader", "middle", "starter"], table: table,
                                    governance: ["leader": 6, "middle": 3, "starter": 1])
        let stages = Dictionary(uniqueKeysWithValues: result.stages.map { ($0.city, $0) })
        #expect(stages["leader"]?.stage == "sprinter")
        #expect(stages["leader"]?.sdgsCovered == (["3", "9", "11"]))
        #expect(stages["middle"]?.stage == "advancer")
        #expect(stages["middle"]?.indicatorsAtTarget == 1)
        #expect(stages["middle"]?.reasons.first?.contains("governance steps 3 < 5") ?? false, "\(stages["middle"]?.reasons ?? [])")
        #expect(stages["starter"]?.stage == "implementer")
        #expect(stages["starter"]?.reasons.contains { $0.contains("not advancer: governance steps 1 < 3") } ?? false)
        #expect(result.csv().contains("leader,"))
        #expect(result.csv().hasPrefix("uCode,ENV,DIG,SCI,Rank,Stage\n"))
    }

    @Test func definitionErrorsNameThePlace() {
        func error(_ yaml: String) -> String {
            do { _ = try SmartCityDefinition(yaml: yaml, source: "d.yaml"); return "no error" } catch { return "\(error)" }
        }
        let base = "pillars:\n  - code: ENV\n    indicators:\n      - "
        #expect(error(base + "{code: A, column: a, direction: 2, goalposts: [0, 1]}").contains("d.yaml:4:41: pillars[0].indicators[0].direction: must be 1"), "\(error(base + "{code: A, column: a, direction: 2, goalposts: [0, 1]}"))")
        #expect(error(base + "{code: A, column: a, direction: 1, goalposts: [5, 1]}").contains("pillars[0].indicators[0].goalposts: expected [low, high]"))
        #expect(error(base + "{code: A, column: a, direction: 1, goalposts: [0, 1], weight: 2}").contains("pillars[0].indicators[0].weight: unknown field 'weight'"))
        #expect(error("pillar: []").contains("unknown field 'pillar' (did you mean 'pillars'?)"))
        #expect(error("pillars: []\npipeline: {normalise: {method: goalpost}}").contains("d.yaml:2:32: pipeline.normalise.method: 'goalpost' is not a method"), "\(error("pillars: []\npipeline: {normalise: {method: goalpost}}"))")
    }
}
