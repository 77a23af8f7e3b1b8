import IndexEngine
import Foundation
import Testing

@Suite final class InputErrorTests {
    func metaError(_ text: String) -> String {
        do {
            _ = try Framework(meta: CSVTable(name: "meta.csv", text: text))
            return "no error"
        } catch { return "\(error)" }
    }

    let header = "Level,iCode,iName,Direction,Weight,Unit,Target,Denominator,Parent,Type\n"

    @Test func unknownParent() {
        let message = metaError(header + "1,a,A,1,1,,,,Nowhere,Indicator\n2,Index,I,1,1,,,,,Aggregate\n")
        #expect(message.contains("'a'") && message.contains("'Nowhere'"), "\(message)")
    }

    @Test func cycle() {
        let message = metaError(header + "1,a,A,1,1,,,,P,Indicator\n2,P,P,1,1,,,,Q,Aggregate\n3,Q,Q,1,1,,,,P,Aggregate\n4,Index,I,1,1,,,,,Aggregate\n")
        #expect(message.contains("cycle") || message.contains("higher level"), "\(message)")
    }

    @Test func directionMustBePlusOrMinusOne() {
        let message = metaError(header + "1,a,A,2,1,,,,Index,Indicator\n2,Index,I,1,1,,,,,Aggregate\n")
        #expect(message.contains("row 2") && message.contains("'Direction'"), "\(message)")
    }

    @Test func nonNumericCellNamesRowAndColumn() throws {
        let framework = try Framework(meta: CSVTable(name: "meta.csv", text: header + "1,a,A,1,1,,,,Index,Indicator\n2,Index,I,1,1,,,,,Aggregate\n"))
        do { _ = try Dataset(data: CSVTable(name: "data.csv", text: "uCode,a\nX,1\nY,lots\n"), framework: framework); Issue.record("expected an error") } catch {
            #expect("\(error)".contains("row 3") && "\(error)".contains("'a'") && "\(error)".contains("'lots'"), "\(error)")
        }
    }

    @Test func unitWithoutCode() throws {
        let framework = try Framework(meta: CSVTable(name: "meta.csv", text: header + "1,a,A,1,1,,,,Index,Indicator\n2,Index,I,1,1,,,,,Aggregate\n"))
        do { _ = try Dataset(data: CSVTable(name: "data.csv", text: "uCode,a\nX,1\n,2\n"), framework: framework); Issue.record("expected an error") } catch {
            #expect("\(error)".contains("row 3") && "\(error)".contains("no code"), "\(error)")
        }
    }
}
