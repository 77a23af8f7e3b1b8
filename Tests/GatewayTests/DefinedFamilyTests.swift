import Foundation
@testable import Gateway
import Simulator
import Telemetry
import Testing
import TestSupport

/// The gateway on families a scenario defines: it validates them by the same definition the
/// simulator writes by, and computes the scenario's indicators from their readings.
@Suite struct DefinedFamilyTests {
    @Test func theScenarioIndicatorsComeFromTheReadings() throws {
        let s = try scenario(definedTypesScenarioYAML())
        let messages = simulated(s)
        let aggregator = try Aggregator(config: gatewayConfig(s))
        for m in messages { aggregator.ingest(m) }
        #expect(aggregator.counters.rejected == 0, "\(aggregator.pending.deadLetters.prefix(3).map { "\($0.reason) \($0.detail)" })")
        aggregator.emitOpenWindows()
        let day = finalIndicators(aggregator.drain().indicators).values.filter { $0.resolution == .day }
        func value(_ code: String) throws -> Double { try #require(day.first { $0.code == code }).value }

        // Worked out again from the messages themselves.
        let decoded = messages.compactMap(decode)
        let bays = decoded.filter { $0.device.contains("-pk-") }
        let occupied = Double(bays.filter { $0.flags["occupied"] == true }.count) / Double(bays.count)
        #expect(abs(try value("SC:parking-occupancy") - 100 * occupied) < 1e-9)
        var delivered = 0.0
        for (_, reports) in Dictionary(grouping: decoded.filter { $0.device.contains("-ev-") }, by: \.device) {
            delivered += reports.last!.values["energy"]! - reports.first!.values["energy"]!
        }
        #expect(delivered > 100)
        #expect(abs(try value("SC:charging-kwh-per-capita") - delivered / 20_000 * 1000) < 1e-6)
        // Telemetry health counts the defined families with the built-in ones of their domain.
        #expect(try value("HEALTH:mobility:reporting") == 100)
        #expect(try value("HEALTH:environment:reporting") == 100)
        // Their series are windowed like any other.
        #expect(aggregator.indicators.contains { $0.code == "SC:parking-occupancy" && $0.needs == "share(ParkingSpot.occupied)" })
    }

    @Test func aDefinedFamilyIsValidatedByItsDefinition() throws {
        let s = try scenario(definedTypesScenarioYAML())
        let aggregator = try Aggregator(config: gatewayConfig(s))
        let topic = "city/almaty/environment/north/alm-nm-000001/attrs"
        func payload(_ records: String) -> String {
            #"[{"bn":"urn:ngsi-ld:NoiseLevelObserved:alm-nm-000001:","bt":1768158000,"# + records + #",{"n":"seq","v":1},{"n":"sent","u":"s","v":1768158000}]"#
        }
        #expect(aggregator.ingest(topic, payload(#""n":"LAeq","u":"dB","v":58.5}"#)) == .accepted)
        let bad = [
            (#""n":"LAeq","u":"dB","v":180}"#, RejectReason.outOfRange),
            (#""n":"LAeq","u":"dBA","v":58}"#, .wrongUnit),
            (#""n":"loudness","u":"dB","v":58}"#, .unknownAttribute),
        ]
        for (records, reason) in bad {
            #expect(aggregator.ingest(topic, payload(records)) == .rejected(reason), "\(records)")
        }
        // The built-in gateway, without the scenario's definition, knows no such family.
        let plain = try Aggregator(config: openGatewayConfig())
        #expect(plain.ingest(topic, payload(#""n":"LAeq","u":"dB","v":58.5}"#)) != .accepted)
    }

    @Test func aCheckpointOfOtherFamiliesIsRefused() throws {
        let s = try scenario(definedTypesScenarioYAML(duration: "2h"))
        let aggregator = try Aggregator(config: gatewayConfig(s))
        for m in simulated(s) { aggregator.ingest(m) }
        let bytes = aggregator.snapshot()
        try Aggregator(config: gatewayConfig(s)).restore(bytes)
        let other = try Aggregator(config: gatewayConfig(try gatewayScenario()))
        #expect { try other.restore(bytes) } throws: { "\($0)".contains("other device families") }
    }
}
