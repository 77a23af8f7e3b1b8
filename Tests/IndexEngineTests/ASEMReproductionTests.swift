import Foundation
import IndexEngine
import XCTest

/// The ASEM data of COINr with its default pipeline must give COINr's published results.
final class ASEMReproductionTests: XCTestCase {
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

    func testSwitzerlandFirstAndRussiaLast() throws {
        let index = try compute()
        XCTAssertEqual(index.units.count, 51)
        let che = index.units.firstIndex(of: "CHE")!, rus = index.units.firstIndex(of: "RUS")!
        XCTAssertEqual(index.ranks[che], 1)
        XCTAssertEqual(index.index[che], 68.38, accuracy: 0.005)
        XCTAssertEqual(index.ranks[rus], 51)
        XCTAssertEqual(index.index[rus], 35.66, accuracy: 0.005)
    }
}
