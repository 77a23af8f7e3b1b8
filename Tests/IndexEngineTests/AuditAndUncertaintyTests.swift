import IndexEngine
import Foundation
import Testing

@Suite final class AuditAndUncertaintyTests {
    func asem() throws -> (Dataset, Framework, Pipeline) {
        let root = ASEMReproductionTests.reference
        let framework = try Framework(meta: CSVTable(contentsOf: root.appendingPathComponent("ASEM_iMeta.csv").path))
        let data = try Dataset(data: CSVTable(contentsOf: root.appendingPathComponent("ASEM_iData.csv").path), framework: framework)
        return (data, framework, try Pipeline(contentsOf: ASEMReproductionTests.pipelinePath))
    }

    @Test func auditReportsEveryIndicatorAndAggregate() throws {
        let (data, framework, pipeline) = try asem()
        let audit = Audit(try CompositeIndex(data: data, framework: framework, pipeline: pipeline))
        #expect(audit.indicators.count == 49)
        #expect(audit.alpha.count == framework.aggregates.count)
        #expect(audit.indicators.contains { $0.treatment.action != .none }, "ASEM has skewed indicators")
        for s in audit.indicators where s.treatment.action == .none {
            #expect(abs(s.skewness) < 2 || s.kurtosis < 3.5, "\(s.code) passes, so it must not be treated")
        }
        #expect(audit.indicators.allSatisfy { $0.correlationWithParent.isNaN || abs($0.correlationWithParent) <= 1 })
        #expect(audit.indicatorCorrelations.count == 49)
        for i in 0..<49 {
            #expect(abs(audit.indicatorCorrelations[i][i] - 1) <= 1e-9)
            for j in 0..<49 where !audit.indicatorCorrelations[i][j].isNaN {
                #expect(abs(audit.indicatorCorrelations[i][j] - audit.indicatorCorrelations[j][i]) <= 1e-12)
            }
        }
        for pair in audit.negativeCorrelations { #expect(pair.r < 0) }
    }

    @Test func uncertaintyIsReproducibleAndBracketsTheNominalRank() throws {
        let (data, framework, pipeline) = try asem()
        let first = try UncertaintyAnalysis(data: data, framework: framework, pipeline: pipeline, options: .init(replications: 40, seed: 7))
        let again = try UncertaintyAnalysis(data: data, framework: framework, pipeline: pipeline, options: .init(replications: 40, seed: 7))
        let other = try UncertaintyAnalysis(data: data, framework: framework, pipeline: pipeline, options: .init(replications: 40, seed: 8))
        #expect(first.ranks == again.ranks)
        #expect(first.ranks != other.ranks)
        for unit in first.ranks {
            #expect(unit.p05 <= unit.median)
            #expect(unit.median <= unit.p95)
        }
        #expect(first.ranks.contains { $0.p95 > $0.p05 }, "construction choices must move some ranks")
    }

    @Test func sensitivityNamesEveryFactor() throws {
        let (data, framework, pipeline) = try asem()
        let analysis = try UncertaintyAnalysis(data: data, framework: framework, pipeline: pipeline,
                                               options: .init(replications: 16, seed: 3), sensitivity: true)
        #expect(analysis.sensitivity?.map(\.factor) == UncertaintyAnalysis.factors)
        #expect(analysis.sensitivity!.contains { $0.total > 0 })
    }
}
