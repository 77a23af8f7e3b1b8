@testable import Gateway
import Telemetry
import Foundation
import Testing
import TestSupport

/// The validation stage alone: payload bytes in, a reading or a rejection out.
@Suite struct ReadingValidatorTests {
    static let payload = #"[{"bn":"urn:ngsi-ld:WaterConsumptionObserved:alm-wm-000001:","bt":1768158000.5,"n":"waterConsumption","u":"m3","s":12.25},{"n":"flow","u":"m3/h","v":0.5},{"n":"seq","v":7},{"n":"sent","u":"s","v":1768158001}]"#

    func validate(_ payload: String, device: String = "alm-wm-000001", domain: Domain = .water) -> (Result<Reading, Rejection>, [ReadingValue]) {
        var validator = ReadingValidator(schema: .standard)
        var values: [ReadingValue] = []
        var p = payload, d = device
        let result = p.withUTF8 { pb in d.withUTF8 { validator.validate(pb, device: $0, domain: domain, into: &values) } }
        return (result, values)
    }

    @Test func aValidPackGivesItsReadingAndValues() throws {
        let (result, values) = validate(Self.payload)
        let reading = try result.get()
        let schema = TelemetrySchema.standard
        #expect(reading == Reading(entity: schema.entity(named: "WaterConsumptionObserved")!, time: 1_768_158_000_500, sequence: 7, sent: 1_768_158_001))
        #expect(values == [ReadingValue(attribute: schema.attributeID(entity: "WaterConsumptionObserved", name: "waterConsumption")!, value: 12.25),
                           ReadingValue(attribute: schema.attributeID(entity: "WaterConsumptionObserved", name: "flow")!, value: 0.5)])
    }

    @Test func theTopicsDeviceAndDomainMustMatchTheBaseName() {
        if case .failure(let r) = validate(Self.payload, device: "alm-wm-000002").0 { #expect(r.reason == .entityMismatch) } else { Issue.record("accepted") }
        if case .failure(let r) = validate(Self.payload, domain: .waste).0 {
            #expect(r.reason == .entityMismatch && r.detail.contains("belongs to water"))
        } else { Issue.record("accepted") }
    }

    @Test func statusPayloadsAreOnlineOrOffline() throws {
        func status(_ s: String) -> Result<Bool, Rejection> { var t = s; return t.withUTF8 { ReadingValidator.status($0) } }
        #expect(try status("online").get())
        #expect(try !status("offline").get())
        #expect(throws: Rejection.self) { try status("Online").get() }
    }
}
