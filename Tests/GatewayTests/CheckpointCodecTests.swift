@testable import Gateway
import Telemetry
import Foundation
import Testing
import TestSupport

/// The checkpoint codec alone.
@Suite struct CheckpointCodecTests {
    func state() -> AggregationState {
        let aggregator = try! Aggregator(config: openGatewayConfig())
        _ = aggregator.ingest(ValidationTests.topic, ValidationTests.good)
        return try! CheckpointCodec.decode(aggregator.snapshot())
    }

    @Test func whatIsWrittenIsReadBack() throws {
        var s = state()
        s.indicatorRevisions[IndicatorWindow(city: "almaty", resolution: .hour, start: 3_600_000)] = 3
        s.counters.accepted = 42
        let again = try CheckpointCodec.decode(CheckpointCodec.encode(s))
        #expect(again.counters == s.counters)
        #expect(again.registry.cities == ["almaty"] && again.registry.devices.count == 1)
        #expect(again.clocks == s.clocks)
        #expect(again.indicatorRevisions == s.indicatorRevisions)
        #expect(again.windows.count == s.windows.count)
    }

    @Test func damagedCheckpointsAreRefused() {
        let bytes = CheckpointCodec.encode(state())
        #expect(throws: SnapshotError.self) { try CheckpointCodec.decode(Array(bytes.dropLast(3))) }
        #expect(throws: SnapshotError.self) { try CheckpointCodec.decode(bytes + [0]) }
        var otherVersion = bytes
        otherVersion[0] &+= 1
        #expect(throws: SnapshotError.self) { try CheckpointCodec.decode(otherVersion) }
    }
}
