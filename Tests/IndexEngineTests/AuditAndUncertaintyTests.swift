import IndexEngine
import XCTest

final class AuditAndUncertaintyTests: XCTestCase {
    func asem() throws -> (Dataset, Framework, Pipeline) {
        let root = ASEMReproductionTests.reference
        let framework = try Framework(meta: CSVTable(contentsOf: root.appendingPathComponent("ASEM_iMeta.csv").path))
        let data = try Dataset(data: CSVTable(contentsOf: root.appendingPathComponent("ASEM_iData.csv").path), framework: framework)
        return (data, framework, try Pipeline(contentsOf: ASEMReproductionTests.pipelinePath))
    }

    func testAuditReportsEveryIndicatorAndAggregate() throws {
        let (data, framework, pipeline) = try asem()
        let audit = Audit(try CompositeIndex(data: data, framework: framework, pipeline: pipeline))
        XCTAssertEqual(audit.indicators.count, 49)
        XCTAssertEqual(audit.alpha.count, framework.aggregates.count)
        XCTAssertTrue(audit.indicators.contains { $0.treatment.action != .none }, "ASEM has skewed indicators")
        for s in audit.indicators where s.treatment.action == .none {
            XCTAssertTrue(abs(s.skewness) < 2 || s.kurtosis < 3.5, "\(s.code) passes, so it must not be treated")
        }
        XCTAssertTrue(audit.indicators.allSatisfy { $0.correlationWithParent.isNaN || abs($0.correlationWithParent) <= 1 })
        XCTAssertEqual(audit.indicatorCorrelations.count, 49)
        for i in 0..<49 {
            XCTAssertEqual(audit.indicatorCorrelations[i][i], 1, accuracy: 1e-9)
            for j in 0..<49 where !audit.indicatorCorrelations[i][j].isNaN {
                XCTAssertEqual(audit.indicatorCorrelations[i][j], audit.indicatorCorrelations[j][i], accuracy: 1e-12)
            }
        }
        for pair in audit.negativeCorrelations { XCTAssertLessThan(pair.r, 0) }
    }

    func testUncertaintyIsReproducibleAndBracketsTheNominalRank() throws {
        let (data, framework, pipeline) = try asem()
        let first = try UncertaintyAnalysis(data: data, framework: framework, pipeline: pipeline, options: .init(replications: 40, seed: 7))
        let again = try UncertaintyAnalysis(data: data, framework: framework, pipeline: pipeline, options: .init(replications: 40, seed: 7))
        let other = try UncertaintyAnalysis(data: data, framework: framework, pipeline: pipeline, options: .init(replications: 40, seed: 8))
        XCTAssertEqual(first.ranks, again.ranks)
        XCTAssertNotEqual(first.ranks, other.ranks)
        for unit in first.ranks {
            XCTAssertLessThanOrEqual(unit.p05, unit.median)
            XCTAssertLessThanOrEqual(unit.median, unit.p95)
        }
        XCTAssertTrue(first.ranks.contains { $0.p95 > $0.p05 }, "construction choices must move some ranks")
    }

    func testSensitivityNamesEveryFactor() throws {
        let (data, framework, pipeline) = try asem()
        let analysis = try UncertaintyAnalysis(data: data, framework: framework, pipeline: pipeline,
                                               options: .init(replications: 16, seed: 3), sensitivity: true)
        XCTAssertEqual(analysis.sensitivity?.map(\.factor), UncertaintyAnalysis.factors)
        XCTAssertTrue(analysis.sensitivity!.contains { $0.total > 0 })
    }
}
