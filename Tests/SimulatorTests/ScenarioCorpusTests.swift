import Foundation
import Simulator
import Testing
import TestSupport

/// Every scenario file of the corpus is refused with an error naming the file and, where the
/// file says so, containing the expected words; none crashes the loader.
@Suite struct ScenarioCorpusTests {
    @Test func everyBadScenarioIsRefusedWithItsReason() throws {
        let files = Corpus.files("scenarios", ext: "yaml")
        #expect(files.count >= 20)
        for (name, bytes) in files {
            let text = String(decoding: bytes, as: UTF8.self)
            let expected = text.split(separator: "\n").first.map { String($0.dropFirst("# expect:".count)).trimmingCharacters(in: .whitespaces) } ?? ""
            do {
                _ = try Scenario(yaml: text, file: "corpus/\(name).yaml")
                Issue.record("corpus/\(name).yaml was accepted")
            } catch {
                #expect(error.description.contains("corpus/\(name).yaml"), "\(name): \(error)")
                #expect(expected.isEmpty || error.description.contains(expected), "\(name): '\(error)' should say '\(expected)'")
            }
        }
    }
}
