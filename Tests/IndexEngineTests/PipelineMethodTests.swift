import IndexEngine
import XCTest

/// Small hand-computed examples: three units, two indicators, one index.
final class PipelineMethodTests: XCTestCase {
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

    func assertClose(_ a: [Double], _ b: [Double], _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, message, file: file, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-9, message, file: file, line: line) }
    }

    func testMinMaxFlipsDirectionAndWeightsTheMean() throws {
        let index = try compute(Pipeline())
        // a: (2,4,8) -> 0, 33.33, 100; b: -(10,5,20) -> 66.67, 100, 0
        assertClose(index.normalised[0], [0, 100.0 / 3, 100])
        assertClose(index.normalised[1], [200.0 / 3, 100, 0])
        // weights 1 and 3
        assertClose(index.index, [(0 + 3 * 200.0 / 3) / 4, (100.0 / 3 + 300) / 4, 100.0 / 4])
        XCTAssertEqual(index.ranks, [2, 1, 3])
    }

    func testZScoreUsesSampleStandardDeviation() throws {
        let index = try compute(Pipeline(normalise: .zscore))
        let sd = ((pow(2 - 14.0 / 3, 2) + pow(4 - 14.0 / 3, 2) + pow(8 - 14.0 / 3, 2)) / 2).squareRoot()
        assertClose(index.normalised[0], [2, 4, 8].map { ($0 - 14.0 / 3) / sd })
    }

    func testGoalpostsClampToTheGoals() throws {
        let index = try compute(Pipeline(normalise: .goalposts))
        assertClose(index.normalised[0], [20, 40, 80])
        // lower is better: (20 - x) / 20
        assertClose(index.normalised[1], [50, 75, 0])
    }

    func testPercentRankAndRank() throws {
        assertClose(try compute(Pipeline(normalise: .prank)).normalised[1], [0.5, 1, 0])
        assertClose(try compute(Pipeline(normalise: .rank)).normalised[0], [1, 2, 3])
    }

    func testDistanceToTargetAndToMax() throws {
        // a: target 8, min 2 -> (x - 2) / 6, capped at 1
        assertClose(try compute(Pipeline(normalise: .distToTarget)).normalised[0], [0, 100.0 / 3, 100])
        let toMax = try compute(Pipeline(normalise: .distToMax))
        assertClose(toMax.normalised[0], [25, 50, 100])
        assertClose(toMax.normalised[1], [50, 100, 25])
    }

    func testGeometricHarmonicAndCopeland() throws {
        let geometric = try compute(Pipeline(normalise: .minmax(low: 1, high: 100), aggregate: .geometric))
        let a = geometric.normalised[0], b = geometric.normalised[1]
        assertClose(geometric.index, (0..<3).map { exp((log(a[$0]) + 3 * log(b[$0])) / 4) })
        let harmonic = try compute(Pipeline(normalise: .minmax(low: 1, high: 100), aggregate: .harmonic))
        assertClose(harmonic.index, (0..<3).map { 4 / (1 / a[$0] + 3 / b[$0]) })
        // Copeland: b (weight 3) decides every pair: Y > X > Z.
        assertClose(try compute(Pipeline(aggregate: .copeland)).index, [0, 2, -2])
    }

    func testGeometricNeedsPositiveInputsAndSaysSo() {
        XCTAssertThrowsError(try compute(Pipeline(aggregate: .geometric))) { error in
            XCTAssertTrue("\(error)".contains("positive"), "\(error)")
        }
    }

    func testEqualWeightsGiveThePlainMean() throws {
        let framework = try Framework(meta: CSVTable(name: "meta", text: metaText.replacingOccurrences(of: ",-1,3,", with: ",-1,1,")))
        let data = try Dataset(data: CSVTable(name: "data", text: dataText), framework: framework)
        let index = try CompositeIndex(data: data, framework: framework, pipeline: Pipeline())
        assertClose(index.index, (0..<3).map { (index.normalised[0][$0] + index.normalised[1][$0]) / 2 })
    }

    func testMissingValuesAreSkippedWithWeightsRenormalised() throws {
        let framework = try Framework(meta: CSVTable(name: "meta", text: metaText))
        let data = try Dataset(data: CSVTable(name: "data", text: "uCode,a,b\nX,2,\nY,4,5\nZ,8,20\n"), framework: framework)
        let index = try CompositeIndex(data: data, framework: framework, pipeline: Pipeline())
        XCTAssertEqual(index.index[0], index.normalised[0][0], accuracy: 1e-9)
    }

    func testImputationFillsFromTheGroup() throws {
        let meta = metaText + "\n0,region,Region,,,,,,,Group,,"
        let framework = try Framework(meta: CSVTable(name: "meta", text: meta))
        let data = try Dataset(data: CSVTable(name: "data", text: "uCode,region,a,b\nX,n,2,\nY,n,4,5\nZ,s,8,20\nW,n,6,9\n"), framework: framework)
        let index = try CompositeIndex(data: data, framework: framework, pipeline: Pipeline(impute: .groupMean("region")))
        XCTAssertEqual(index.imputed[1][0], 7)
        let median = try CompositeIndex(data: data, framework: framework, pipeline: Pipeline(impute: .median))
        XCTAssertEqual(median.imputed[1][0], 9)
    }

    func testScreeningDropsSparseUnits() throws {
        let framework = try Framework(meta: CSVTable(name: "meta", text: metaText))
        let data = try Dataset(data: CSVTable(name: "data", text: "uCode,a,b\nX,2,\nY,4,5\nZ,8,20\n"), framework: framework)
        let index = try CompositeIndex(data: data, framework: framework, pipeline: Pipeline(minAvailability: 0.9))
        XCTAssertEqual(index.units, ["Y", "Z"])
    }

    func testTreatmentOnlyTouchesIndicatorsThatFailTheTest() throws {
        var rows = ["uCode,a,b"]
        for i in 0..<30 { rows.append("U\(i),\(i),\(i % 7)") }
        rows.append("OUT,1000,3")
        let framework = try Framework(meta: CSVTable(name: "meta", text: metaText))
        let data = try Dataset(data: CSVTable(name: "data", text: rows.joined(separator: "\n")), framework: framework)
        let index = try CompositeIndex(data: data, framework: framework, pipeline: Pipeline(treat: .init()))
        XCTAssertEqual(index.treatment[0].action, .winsorised)
        XCTAssertEqual(index.treatment[0].points, 1)
        XCTAssertEqual(index.treated[0].max(), 29)
        XCTAssertEqual(index.treatment[1].action, .none)
        XCTAssertEqual(index.treated[1], index.imputed[1])
    }

    func testNormalisedValuesStayInRangeAndDirectionFlipsOrder() throws {
        let index = try compute(Pipeline())
        for column in index.normalised { XCTAssertTrue(column.allSatisfy { (0...100).contains($0) }) }
        // b's raw order is Y < X < Z, so its normalised order is reversed.
        XCTAssertGreaterThan(index.normalised[1][1], index.normalised[1][0])
        XCTAssertGreaterThan(index.normalised[1][0], index.normalised[1][2])
    }

    func testPipelineFileRejectsUnknownKeysAndValues() {
        XCTAssertThrowsError(try Pipeline(yaml: "normalize: {method: minmax}")) { XCTAssertTrue("\($0)".contains("'normalize'") && "\($0)".contains("normalise")) }
        XCTAssertThrowsError(try Pipeline(yaml: "aggregate: {method: median}")) { XCTAssertTrue("\($0)".contains("arithmetic | geometric | harmonic | copeland"), "\($0)") }
        XCTAssertThrowsError(try Pipeline(yaml: "impute: {method: group-mean}")) { XCTAssertTrue("\($0)".contains("impute.group"), "\($0)") }
        XCTAssertThrowsError(try Pipeline(yaml: "treat: {method: winsorise, fallback: sqrt}")) { XCTAssertTrue("\($0)".contains("none | log-ct"), "\($0)") }
        XCTAssertEqual(try Pipeline(yaml: ""), Pipeline())
    }
}
