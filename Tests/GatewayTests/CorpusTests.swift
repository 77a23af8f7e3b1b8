import Foundation
@testable import Gateway
import Simulator
import Telemetry
import Testing
import TestSupport

/// Replays the payload and topic corpus: each input gets its expected outcome, and a refused
/// one leaves nothing but its dead letter.
@Suite struct CorpusTests {
    static let topic = "city/almaty/environment/north/alm-aq-000001/attrs"
    static let good = Array(#"[{"bn":"urn:ngsi-ld:AirQualityObserved:alm-aq-000001:","bt":1768158000,"n":"pm25","u":"ug/m3","v":42.5},{"n":"seq","v":1},{"n":"sent","u":"s","v":1768158000}]"#.utf8)

    func aggregator() throws -> Aggregator {
        var config = gatewayConfig(try gatewayScenario(duration: "1h"))
        config.maxPayload = 65_536
        return try Aggregator(config: config)
    }

    static func expected(_ name: String) -> IngestOutcome {
        name == "accepted" ? .accepted : .rejected(RejectReason(rawValue: name)!)
    }

    func check(_ a: Aggregator, _ outcome: IngestOutcome, expected: IngestOutcome, _ what: String) {
        #expect(outcome == expected, "\(what): \(a.pending.deadLetters.last?.detail ?? "\(outcome)")")
        let c = a.counters
        #expect(c.received == c.accepted + c.duplicates + c.tooLate + c.rejected + c.statusMessages, "\(what): the balance")
        if case .rejected = outcome {
            #expect(a.knownDevices == 0, "\(what): a refused message registers nothing")
            #expect(a.openWindows == 0, "\(what): a refused message opens no window")
            #expect(a.pending.deadLetters.count == 1)
        }
    }

    @Test func everyPayloadGetsItsExpectedOutcome() throws {
        var tried = 0
        for reason in Corpus.directories("payloads") {
            for (name, bytes) in Corpus.files("payloads/\(reason)", ext: "json") {
                let a = try aggregator()
                let outcome = a.ingest(topic: Self.topic, payload: bytes)
                check(a, outcome, expected: Self.expected(reason), "payloads/\(reason)/\(name)")
                tried += 1
            }
        }
        #expect(tried >= 60, "the corpus is where the test expects it (\(Corpus.root))")
    }

    @Test func everyTopicGetsItsExpectedOutcome() throws {
        let lines = Corpus.lines("topics.tsv")
        #expect(lines.count >= 25)
        for line in lines {
            let a = try aggregator()
            let topic = line[1]
            let outcome = a.ingest(topic: topic, payload: topic.hasSuffix("/status") ? Array("online".utf8) : Self.good)
            check(a, outcome, expected: Self.expected(line[0]), "topic '\(topic.prefix(100))'")
        }
    }
}
