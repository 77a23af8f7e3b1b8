import Foundation
@testable import Gateway
import Telemetry
import Testing
import TestSupport

@Suite struct ValidationTests {
    static let topic = "city/almaty/environment/north/alm-aq-000001/attrs"
    static let good = #"[{"bn":"urn:ngsi-ld:AirQualityObserved:alm-aq-000001:","bt":1768158000,"n":"pm25","u":"ug/m3","v":42.5},{"n":"seq","v":1},{"n":"sent","u":"s","v":1768158000}]"#

    func aggregator() -> Aggregator { try! Aggregator(config: openGatewayConfig()) }

    @Test func aValidMessageIsAccepted() {
        let a = aggregator()
        #expect(a.ingest(Self.topic, Self.good) == .accepted)
        #expect(a.counters.readings == 1)
    }

    /// Each malformed payload is rejected for its own reason, kept as a dead letter, and
    /// leaves the aggregator working.
    static func swap(_ a: String, _ b: String) -> String { good.replacingOccurrences(of: a, with: b) }

    static let corpus: [(String, String, RejectReason)] = [
        ("truncated JSON", String(good.dropLast(20)), RejectReason.malformedJSON),
        ("not an array", #"{"bn":"x"}"#, .notSenML),
        ("empty pack", "[]", .notSenML),
        ("empty payload", "", .malformedJSON),
        ("garbage", "\u{1}\u{2}binary", .malformedJSON),
        ("text value", swap(#""v":42.5"#, #""v":"42.5""#), .notSenML),
        ("NaN literal", swap("42.5", "NaN"), .malformedJSON),
        ("huge number", swap("42.5", "1e400"), .notFinite),
        ("beyond physics", swap("42.5", "1e9"), .outOfRange),
        ("negative", swap("42.5", "-3"), .outOfRange),
        ("unknown attribute", swap(#""n":"pm25""#, #""n":"radon""#), .unknownAttribute),
        ("wrong unit", swap(#""u":"ug/m3""#, #""u":"mg/m3""#), .wrongUnit),
        ("no unit", swap(#""u":"ug/m3","#, ""), .wrongUnit),
        ("bool for number", swap(#""v":42.5"#, #""vb":true"#), .wrongType),
        ("sum for gauge", swap(#""v":42.5"#, #""s":42.5"#), .wrongType),
        ("two values", swap(#""v":42.5"#, #""v":42.5,"s":1"#), .notSenML),
        ("repeated attribute", swap(#"{"n":"seq""#, #"{"n":"pm25","u":"ug/m3","v":1},{"n":"seq""#), .repeatedAttribute),
        ("no sequence", swap(#"{"n":"seq","v":1},"#, ""), .missingField),
        ("fractional sequence", swap(#""seq","v":1"#, #""seq","v":1.5"#), .wrongType),
        ("no send time", swap(#",{"n":"sent","u":"s","v":1768158000}"#, ""), .missingField),
        ("no base time", swap(#""bt":1768158000,"#, ""), .missingField),
        ("other device", swap("alm-aq-000001:", "alm-aq-000002:"), .entityMismatch),
        ("other family", swap("AirQualityObserved", "Streetlight"), .entityMismatch),
        ("unknown entity", swap("AirQualityObserved", "Toaster"), .entityMismatch),
        ("second base name", swap(#"{"n":"seq""#, #"{"bn":"urn:x:","n":"seq""#), .notSenML),
        ("must-understand field", swap(#"{"n":"seq""#, #"{"new_":1,"n":"seq""#), .notSenML),
        ("trailing text", good + "]", .malformedJSON),
        ("send time beyond any clock", swap(#""u":"s","v":1768158000}"#, #""u":"s","v":1e12}"#), .outOfRange),
        ("not JSON at all", "{[}", .malformedJSON),
    ]

    @Test(arguments: corpus)
    func malformedPayloadsAreRejectedByReason(_ name: String, _ payload: String, _ reason: RejectReason) {
        let a = aggregator()
        #expect(a.ingest(Self.topic, payload) == .rejected(reason), "\(name): \(a.pending.deadLetters.last?.detail ?? "")")
        #expect(a.counters.invalid[reason] == 1)
        #expect(a.pending.deadLetters.count == 1)
        #expect(a.pending.deadLetters.first?.payload == Array(payload.utf8))
        #expect(!(a.pending.deadLetters.first?.detail.isEmpty ?? true))
        #expect(a.knownDevices == 0 && a.openWindows == 0, "a rejected message registers nothing")
        // Still works afterwards.
        #expect(a.ingest(Self.topic, Self.good) == .accepted)
    }

    @Test func oversizedPayloadsAndBadTopicsAreRejected() {
        let a = aggregator()
        let big = "[" + String(repeating: " ", count: 1 << 20) + "]"
        #expect(a.ingest(Self.topic, big) == .rejected(.tooLarge))
        #expect(a.pending.deadLetters.last?.payload.count == a.config.maxPayload, "the dead letter keeps the first max-payload bytes")
        #expect(a.ingest("city/almaty/parking/north/x/attrs", Self.good) == .rejected(.badTopic))
        #expect(a.ingest("almaty/attrs", Self.good) == .rejected(.badTopic))
        #expect(a.ingest("city/almaty/environment/north/alm-aq-000001/other", Self.good) == .rejected(.badTopic))
        #expect(a.ingest("city/almaty/environment/north/alm-aq-000001/status", "maybe") == .rejected(.badStatus))
        #expect(a.ingest("city/almaty/environment/north/alm-aq-000001/status", "offline") == .status)
        #expect(a.counters.rejected == 5)
    }

    @Test func retainedStatusesSetTheStateButAreNotReceivedMessages() {
        let a = aggregator()
        let status = "city/almaty/environment/north/alm-aq-000001/status"
        // The broker hands the retained status over on every subscription.
        for _ in 0..<3 { #expect(a.ingest(topic: status, payload: Array("online".utf8), retained: true) == .status) }
        #expect(a.counters.received == 0 && a.counters.statusMessages == 0 && a.counters.retainedStatuses == 3)
        #expect(a.knownDevices == 1, "the device's state is known")
        #expect(a.ingest(topic: status, payload: Array("offline".utf8)) == .status)
        #expect(a.counters.received == 1 && a.counters.statusMessages == 1, "a live status is a message")
        #expect(a.ingest(topic: status, payload: Array("perhaps".utf8), retained: true) == .rejected(.badStatus))
        #expect(a.counters.received == 2 && a.counters.rejected == 1, "a bad one is counted and dead-lettered like any other")
    }

    @Test func escapedStringsAndAnyKeyOrderAreRead() {
        let a = aggregator()
        let payload = #"[ {"v":42.5, "u":"ug\/m3", "n":"pm\u0032\u0035", "bt":1768158000, "bn":"urn:ngsi-ld:AirQualityObserved:alm-aq-000001:"}, {"v":1,"n":"seq"}, {"u":"s","n":"sent","v":17681580e2} ]"#
        #expect(a.ingest(Self.topic, payload) == .accepted, "\(a.pending.deadLetters.last?.detail ?? "")")
    }
}
