import IndexEngine
import XCTest

final class InputErrorTests: XCTestCase {
    func metaError(_ text: String) -> String {
        do {
            _ = try Framework(meta: CSVTable(name: "meta.csv", text: text))
            return "no error"
        } catch { return "\(error)" }
    }

    let header = "Level,iCode,iName,Direction,Weight,Unit,Target,Denominator,Parent,Type\n"

    func testUnknownParent() {
        let message = metaError(header + "1,a,A,1,1,,,,Nowhere,Indicator\n2,Index,I,1,1,,,,,Aggregate\n")
        XCTAssertTrue(message.contains("'a'") && message.contains("'Nowhere'"), message)
    }

    func testCycle() {
        let message = metaError(header + "1,a,A,1,1,,,,P,Indicator\n2,P,P,1,1,,,,Q,Aggregate\n3,Q,Q,1,1,,,,P,Aggregate\n4,Index,I,1,1,,,,,Aggregate\n")
        XCTAssertTrue(message.contains("cycle") || message.contains("higher level"), message)
    }

    func testDirectionMustBePlusOrMinusOne() {
        let message = metaError(header + "1,a,A,2,1,,,,Index,Indicator\n2,Index,I,1,1,,,,,Aggregate\n")
        XCTAssertTrue(message.contains("row 2") && message.contains("'Direction'"), message)
    }

    func testNonNumericCellNamesRowAndColumn() throws {
        let framework = try Framework(meta: CSVTable(name: "meta.csv", text: header + "1,a,A,1,1,,,,Index,Indicator\n2,Index,I,1,1,,,,,Aggregate\n"))
        XCTAssertThrowsError(try Dataset(data: CSVTable(name: "data.csv", text: "uCode,a\nX,1\nY,lots\n"), framework: framework)) { error in
            XCTAssertTrue("\(error)".contains("row 3") && "\(error)".contains("'a'") && "\(error)".contains("'lots'"), "\(error)")
        }
    }

    func testUnitWithoutCode() throws {
        let framework = try Framework(meta: CSVTable(name: "meta.csv", text: header + "1,a,A,1,1,,,,Index,Indicator\n2,Index,I,1,1,,,,,Aggregate\n"))
        XCTAssertThrowsError(try Dataset(data: CSVTable(name: "data.csv", text: "uCode,a\nX,1\n,2\n"), framework: framework)) { error in
            XCTAssertTrue("\(error)".contains("row 3") && "\(error)".contains("no code"), "\(error)")
        }
    }
}
