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
        let aggregator = try Aggregator(config: gatewayConfig(scenario))
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

/// A device whose counter starts again (a restarted simulator, a device that lost its memory)
/// is no source of duplicates; a true copy still is.
@Suite struct SequenceRestartTests {
    @Test func aSecondRunContinuingThePeriodIsAcceptedWhole() throws {
        let first = try gatewayScenario(duration: "6h")
        var second = first
        second.start = first.start + first.duration
        let before = simulated(first, status: false), after = simulated(second, status: false)
        let aggregator = try Aggregator(config: gatewayConfig(first))
        for m in before { aggregator.ingest(m) }
        #expect(aggregator.counters.accepted == Int64(before.count))
        // The second run numbers its messages from the start again.
        #expect(after.first.map { String(decoding: $0.payload, as: UTF8.self).contains("\"n\":\"seq\",\"v\":1}") } == true)
        for m in after { aggregator.ingest(m) }
        #expect(aggregator.counters.accepted == Int64(before.count + after.count))
        #expect(aggregator.counters.duplicates == 0 && aggregator.counters.tooLate == 0)
        // Copies of the second run's messages, old and newest, are still duplicates.
        for m in after.suffix(20) + after.prefix(5) { aggregator.ingest(m) }
        #expect(aggregator.counters.duplicates == 25)
        #expect(aggregator.counters.accepted == Int64(before.count + after.count))
    }
}

/// The detectors follow their thresholds from the configuration.
@Suite struct DetectorSettingsTests {
    func stuckAlarms(_ settings: DetectorSettings) throws -> Int {
        let scenario = try gatewayScenario(duration: "6h", faults: "  - {kind: stuck, family: environment, share: 1, start: 1h, duration: 3h}\n")
        var config = gatewayConfig(scenario)
        config.detectors = settings
        let aggregator = try Aggregator(config: config)
        for m in simulated(scenario) { aggregator.ingest(m) }
        return aggregator.drain().alarms.filter { $0.kind == "stuck" && $0.cleared == nil }.count
    }

    @Test func aStuckStationIsFoundAfterTheRepeatsTheSettingsAsk() throws {
        #expect(try stuckAlarms(DetectorSettings()) == 4, "each of the four stations")
        var patient = DetectorSettings()
        patient.stuckRepeats = 1000
        #expect(try stuckAlarms(patient) == 0)
    }
}
