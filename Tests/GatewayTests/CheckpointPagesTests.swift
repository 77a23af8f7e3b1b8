import Foundation
import Simulator
@testable import Gateway
import Testing
import TestSupport

/// A checkpoint rewrites only the pages that changed, and nothing when nothing did.
@Suite struct CheckpointPagesTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pages-\(UUID().uuidString)").path

    func checkpoint(_ state: [UInt8], position: UInt64) -> StoreBatch {
        var batch = StoreBatch()
        batch.checkpoint = Checkpoint(position: position, createdAtMs: 0, accepted: 0, state: state)
        return batch
    }

    @Test func onlyChangedPagesAreWrittenAndTheStateReadsBackWhole() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/gateway.sqlite"
        let store = try SQLiteStore(path: path)
        var rng = SystemRandomNumberGenerator()
        var state = (0..<(SQLiteStore.pageSize * 50 + 123)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        try store.write(checkpoint(state, position: 1))
        #expect(store.lastCheckpointPages == 51)
        state[SQLiteStore.pageSize * 7 + 5] ^= 0xFF
        state[SQLiteStore.pageSize * 30] ^= 0x01
        try store.write(checkpoint(state, position: 2))
        #expect(store.lastCheckpointPages == 2)
        #expect(store.lastCheckpointBytes == 2 * SQLiteStore.pageSize)
        // Grown by a few bytes: the last page and the new one; shrunk: the new last page.
        state += [1, 2, 3]
        try store.write(checkpoint(state, position: 3))
        #expect(store.lastCheckpointPages == 1)
        state.removeLast(SQLiteStore.pageSize)
        try store.write(checkpoint(state, position: 4))
        #expect(store.lastCheckpointPages == 1)
        // Another process reading the file gets exactly the last state.
        let reader = try SQLiteStore(path: path)
        let read = try #require(try reader.latestCheckpoint())
        #expect(read.state == state)
        #expect(read.position == 4)
        // The same state again: nothing to write.
        try reader.write(checkpoint(state, position: 5))
        #expect(reader.lastCheckpointPages == 0)
        #expect(try reader.latestCheckpoint()?.position == 5)
    }

    @Test func anIdleGatewayWritesNoCheckpointAndAQuietOneWritesFewPages() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let scenario = try gatewayScenario(duration: "6h")
        var config = gatewayConfig(scenario)
        config.store = directory + "/gateway.sqlite"
        config.httpPort = nil
        config.statusInterval = 0
        let store = try SQLiteStore(path: config.store)
        let service = try GatewayService(config: config, store: store)
        let messages = simulated(scenario)
        for m in messages.dropLast(5) { service.receive(topic: m.topicString, payload: m.payload) }
        try service.flush(checkpoint: true)
        let full = store.lastCheckpointPages
        #expect(full > 10)
        #expect(service.checkpointsWritten == 1)
        // Idle: three checkpoints due, none written.
        for _ in 0..<3 { try service.flush(checkpoint: true) }
        #expect(service.checkpointsWritten == 1)
        #expect(service.checkpointsSkipped == 3)
        // Five more readings change a few pages, not the whole state.
        for m in messages.suffix(5) { service.receive(topic: m.topicString, payload: m.payload) }
        try service.flush(checkpoint: true)
        #expect(service.checkpointsWritten == 2)
        #expect(store.lastCheckpointPages > 0 && store.lastCheckpointPages * 3 < full, "\(store.lastCheckpointPages) of \(full) pages")
        // Recovery from the paged state gives the same aggregation.
        let restored = try GatewayService(config: config)
        #expect(restored.aggregator.counters == service.aggregator.counters)
        #expect(restored.aggregator.snapshot() == service.aggregator.snapshot())
    }
}
