@testable import Gateway
import Simulator
import Testing
import TestSupport

/// Duplicates that at-least-once delivery made across a lost broker connection are told apart
/// from the copies devices send.
@Suite struct RedeliveryTests {
    @Test func copiesOfReadingsFromBeforeTheLossAreRedeliveries() throws {
        let scenario = try gatewayScenario(duration: "6h")
        let telemetry = simulated(scenario, status: false)
        let aggregator = Aggregator(config: gatewayConfig(scenario))
        let half = telemetry.count / 2
        for m in telemetry[..<half] { aggregator.ingest(m) }
        // A device's copy before any loss is the device's.
        aggregator.ingest(telemetry[half - 1])
        #expect(aggregator.counters.duplicates == 1 && aggregator.redeliveries == 0)
        // The connection is lost; the broker sends the last 50 again, then the rest comes.
        aggregator.connectionLost()
        for m in telemetry[(half - 50)..<half] { aggregator.ingest(m) }
        #expect(aggregator.redeliveries == 50)
        for m in telemetry[half...] { aggregator.ingest(m) }
        // Copies of readings from after the loss are the devices' again.
        for m in telemetry.suffix(7) { aggregator.ingest(m) }
        #expect(aggregator.counters.duplicates == 58)
        #expect(aggregator.redeliveries == 50)
    }
}
