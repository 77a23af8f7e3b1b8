import Foundation
@testable import MQTT
import EmbeddedBroker
import Synchronization
import Testing

extension Integration {
@Suite(.serialized) final class NetworkLoopTests {
    /// A loop stopped from its own thread (a handler, or a client that owns its loop freed
    /// there) ends instead of waiting for itself forever.
    @Test func shutdownOnTheLoopThreadLetsTheThreadEnd() async throws {
        let broker = try await EmbeddedBroker.start()
        defer { broker.stop() }
        let loop = try NetworkLoop(name: "self-stop")
        let client = try MQTTClient(options(broker, "self-stop"), loop: loop) { _ in loop.shutdown() }
        try await client.connect()
        try await client.subscribe("self/stop", qos: .atMostOnce)
        try await client.publish("self/stop", payload: [1], awaitDelivery: true)
        let deadline = ContinuousClock.now + .seconds(10)
        while !loop.finished.load(ordering: .acquiring), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let finished = loop.finished.load(ordering: .acquiring)
        #expect(finished, "the loop thread waits for itself")
    }

    @Test func oneLoopDrivesTwoThousandConnectionsThatAllPublish() async throws {
        let connections = 2000
        let broker = try await EmbeddedBroker.start()
        let sink = try MQTTClient(options(broker, "fleet-sink"))
        try await sink.connect()
        try await sink.subscribe("city/fleet/+/+/+/attrs", qos: .atLeastOnce)

        let loop = try NetworkLoop(name: "fleet")
        let devices = try (0..<connections).map { i in
            var deviceOptions = options(broker, "fleet-\(i)")
            deviceOptions.connectTimeout = .seconds(30)
            deviceOptions.will = Will(topic: "city/fleet/mobility/d\(i % 8)/dev-\(i)/status", payload: Array("offline".utf8))
            return try MQTTClient(deviceOptions, loop: loop)
        }
        // Connect in batches no larger than the broker's listen backlog, as a fleet coming online does.
        for batch in stride(from: 0, to: connections, by: 100) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for device in devices[batch..<min(batch + 100, connections)] {
                    group.addTask { try await device.connect() }
                }
                try await group.waitForAll()
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, device) in devices.enumerated() {
                group.addTask {
                    try await device.publish("city/fleet/mobility/d\(i % 8)/dev-\(i)/attrs", payload: Array("dev-\(i)".utf8),
                                             qos: .atLeastOnce, awaitDelivery: true)
                }
            }
            try await group.waitForAll()
        }
        let received = try await sink.messages.take(connections, within: 30)
        #expect(Set(received.map(\.text)) == (Set((0..<connections).map { "dev-\($0)" })))
        for device in devices { await device.disconnect() }
        loop.shutdown()
    }
}
}
