import IndexEngine
import Foundation
import Testing

/// Small hand-computed examples: three units, two indicators, one index.
@Suite final class PipelineMethodTests {
    // a: higher is better; b: lower is better (direction -1).
    let metaText = """
        Level,iCode,iName,Direction,Weight,Unit,Target,Denominator,Parent,Type,GoalLow,GoalHigh
        1,a,A,1,1,,8,,Index,Indicator,0,10
        1,b,B,-1,3,,2,,Index,Indicator,0,20
        2,Index,Index,1,1,,,,,Aggregate,,
        """
    let dataText = """
        uCode,a,b
        X,2,10
        Y,4,5
        Z,8,20
        """

    func compute(_ pipeline: Pipeline) throws -> CompositeIndex {
        let framework = try Framework(meta: CSVTable(name: "meta", text: metaText))
        let data = try Dataset(data: CSVTable(name: "data", text: dataText), framework: framework)
        return try CompositeIndex(data: data, framework: framework, pipeline: pipeline)
    }

    func assertClose(_ a: [Double], _ b: [Double], _ message: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.count == b.count, "\(message)", sourceLocation: sourceLocation)
        for (x, y) in zip(a, b) { #expect(abs(x - y) <= 1e-9, "\(message): \(x) vs \(y)", sourceLocation: sourceLocation) }
    }

    @Test func minMaxFlipsDirectionAndWeightsTheMean() throws {
        let index = try compute(Pipeline())
        // a: (2,4,8) -> 0, 33.33, 100; b: -(10,5,20) -> 66.67, 100, 0
        assertClose(index.normalised[0], [0, 100.0 / 3, 100])
        assertClose(index.normalised[1], [200.0 / 3, 100, 0])
        // weights 1 and 3
        assertClose(index.index, [(0 + 3 * 200.0 / 3) / 4, (100.0 / 3 + 300) / 4, 100.0 / 4])
        #expect(index.ranks == ([2, 1, 3]))
    }

    @Test func zScoreUsesSampleStandardDeviation() throws {
        let index = try compute(Pipeline(normalise: .zscore))
        let sd = ((pow(2 - 14.0 / 3, 2) + pow(4 - 14.0 / 3, 2) + pow(8 - 14.0 / 3, 2)) / 2).squareRoot()
        assertClose(index.normalised[0], [2, 4, 8].map { ($0 - 14.0 / 3) / sd })
    }

    @Test func goalpostsClampToTheGoals() throws {
        let index = try compute(Pipeline(normalise: .goalposts))
        assertClose(index.normalised[0], [20, 40, 80])
        // lower is better: (20 - x) / 20
        assertClose(index.normalised[1], [50, 75, 0])
    }

    @Test func percentRankAndRank() throws {
        assertClose(try compute(Pipeline(normalise: .prank)).normalised[1], [0.5, 1, 0])
        assertClose(try compute(Pipeline(normalise: .rank)).normalised[0], [1, 2, 3])
    }

    @Test func distanceToTargetAndToMax() throws {
        // a: target 8, min 2 -> (x - 2) / 6, capped at 1
        assertClose(try compute(Pipeline(normalise: .distToTarget)).normalised[0], [0, 100.0 / 3, 100])
        let toMax = try compute(Pipeline(normalise: .distToMax))
        assertClose(toMax.normalised[0], [25, 50, 100])
        assertClose(toMax.normalised[1], [50, 100, 25])
    }

    @Test func geometricHarmonicAndCopeland() throws {
        let geometric = try compute(Pipeline(normalise: .minmax(low: 1, high: 100), aggregate: .geometric))
        let a = geometric.normalised[0], b = geometric.normalised[1]
        assertClose(geometric.index, (0..<3).map { exp((log(a[$0]) + 3 * log(b[$0])) / 4) })
        let harmonic = try compute(Pipeline(normalise: .minmax(low: 1, high: 100), aggregate: .harmonic))
        assertClose(harmonic.index, (0..<3).map { 4 / (1 / a[$0] + 3 / b[$0]) })
        // Copeland: b (weight 3) decides every pair: Y > X > Z.
        assertClose(try compute(Pipeline(aggregate: .copeland)).index, [0, 2, -2])
    }

    @Test func geometricNeedsPositiveInputsAndSaysSo() {
        do { _ = try compute(Pipeline(aggregate: .geometric)); Issue.record("expected an error") } catch {
            #expect("\(error)".contains("positive"), "\(error)")
        }
    }

    @Test func equalWeightsGiveThePlainMean() throws {
        let framework = try Framework(meta: CSVTable(name: "meta", text: metaText.replacingOccurrences(of: ",-1,3,", with: ",-1,1,")))
        let data = try Dataset(data: CSVTable(name: "data", text: dataText), framework: framework)
        let index = try CompositeIndex(data: data, framework: framework, pipeline: Pipeline())
        assertClose(index.index, (0..<3).map { (index.normalised[0][$0] + index.normalised[1][$0]) / 2 })
    }

    @Test func missingValuesAreSkippedWithWeightsRenormalised() throws {
        let framework = try Framework(meta: CSVTable(name: "meta", text: metaText))
        let data = try Dataset(data: CSVTable(name: "data", text: "uCode,a,b\nX,2,\nY,4,5\nZ,8,20\n"), framework: framework)
        let index = try CompositeIndex(data: data, framework: framework, pipeline: Pipeline())
        #expect(abs(index.index[0] - index.normalised[0][0]) <= 1e-9)
    }

    @Test func imputationFillsFromTheGroup() throws {
        let meta = metaText + "\n0,region,Region,,,,,,,Group,,"
        let framework = try Framework(meta: CSVTable(name: "meta", text: meta))
        let data = try Dataset(data: CSVTable(name: "data", text: "uCode,region,a,b\nX,n,2,\nY,n,4,5\nZ,s,8,20\nW,n,6,9\n"), framework: framework)
        let index = try CompositeIndex(data: data, framework: framework, pipeline: Pipeline(impute: .groupMean("region")))
        #expect(index.imputed[1][0] == 7)
        let median = try CompositeIndex(data: data, framework: framework, pipeline: Pipeline(impute: .median))
        #expect(median.imputed[1][0] == 9)
    }

    @Test func screeningDropsSparseUnits() throws {
        let framework = try Framework(meta: CSVTable(name: "meta", text: metaText))
        let data = try Dataset(data: CSVTable(name: "data", text: "uCode,a,b\nX,2,\nY,4,5\nZ,8,20\n"), framework: framework)
        let index = try CompositeIndex(data: data, framework: framework, pipeline: Pipeline(minAvailability: 0.9))
        #expect(index.units == (["Y", "Z"]))
    }

    @Test func treatmentOnlyTouchesIndicatorsThatFailTheTest() throws {
        var rows = ["uCode,a,b"]
        for i in 0..<30 { rows.append("U\(i),\(i),\(i % 7)") }
        rows.append("OUT,1000,3")
        let framework = try Framework(meta: CSVTable(name: "meta", text: metaText))
        let data = try Dataset(data: CSVTable(name: "data", text: rows.joined(separator: "\n")), framework: framework)
        let index = try CompositeIndex(data: data, framework: framework, pipeline: Pipeline(treat: .init()))
        #expect(index.treatment[0].action == .winsorised)
        #expect(index.treatment[0].points == 1)
        #expect(index.treated[0].max() == 29)
        #expect(index.treatment[1].action == .none)
        #expect(index.treated[1] == index.imputed[1])
    }

    @Test func normalisedValuesStayInRangeAndDirectionFlipsOrder() throws {
        let index = try compute(Pipeline())
        for column in index.normalised { #expect(column.allSatisfy { (0...100).contains($0) }) }
        // b's raw order is Y < X < Z, so its normalised order is reversed.
        #expect(index.normalised[1][1] > index.normalised[1][0])
        #expect(index.normalised[1][0] > index.normalised[1][2])
    }

    @Test func pipelineFileRejectsUnknownKeysAndValues() throws {
        do { _ = try Pipeline(yaml: "normalize: {method: minmax}"); Issue.record("expected an error") } catch { #expect("\(error)".contains("'normalize'") && "\(error)".contains("normalise")) }
        do { _ = try Pipeline(yaml: "aggregate: {method: median}"); Issue.record("expected an error") } catch { #expect("\(error)".contains("arithmetic | geometric | harmonic | copeland"), "\(error)") }
        do { _ = try Pipeline(yaml: "impute: {method: group-mean}"); Issue.record("expected an error") } catch { #expect("\(error)".contains("impute.group"), "\(error)") }
        do { _ = try Pipeline(yaml: "treat: {method: winsorise, fallback: sqrt}"); Issue.record("expected an error") } catch { #expect("\(error)".contains("none | log-ct"), "\(error)") }
        #expect((try Pipeline(yaml: "")) == Pipeline())
    }
}
