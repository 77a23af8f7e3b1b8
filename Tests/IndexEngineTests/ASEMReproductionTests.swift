import Foundation
import IndexEngine
import Testing

/// The ASEM data of COINr with its default pipeline must give COINr's published results.
@Suite final class ASEMReproductionTests {
    static let reference = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("Fixtures/asem")
    static let pipelinePath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Config/index/coinr-default.yaml").path

    func compute(_ pipeline: Pipeline? = nil) throws -> CompositeIndex {
        let framework = try Framework(meta: CSVTable(contentsOf: Self.reference.appendingPathComponent("ASEM_iMeta.csv").path))
        let data = try Dataset(data: CSVTable(contentsOf: Self.reference.appendingPathComponent("ASEM_iData.csv").path), framework: framework)
        return try CompositeIndex(data: data, framework: framework, pipeline: pipeline ?? Pipeline(contentsOf: Self.pipelinePath))
    }

    @Test func switzerlandFirstAndRussiaLast() throws {
        let index = try compute()
        #expect(index.units.count == 51)
        let che = index.units.firstIndex(of: "CHE")!, rus = index.units.firstIndex(of: "RUS")!
        #expect(index.ranks[che] == 1)
        #expect(abs(index.index[che] - 68.38) <= 0.005)
        #expect(index.ranks[rus] == 51)
        #expect(abs(index.index[rus] - 35.66) <= 0.005)
    }
}
