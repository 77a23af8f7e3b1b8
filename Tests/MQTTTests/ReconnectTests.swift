import Foundation
import MQTT
import EmbeddedBroker
import XCTest

final class ReconnectTests: XCTestCase {
    func testClientResumesAfterBrokerRestartAndPersistentSessionDeliversQueuedMessages() async throws {
        let broker = try await EmbeddedBroker.start(.init(persistence: true))

        // A gateway-like subscriber with a persistent session.
        var subscriberOptions = options(broker, "gw-persistent")
        subscriberOptions.cleanSession = false
        subscriberOptions.reconnect = ReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(400))
        let subscriber = try MQTTClient(subscriberOptions)
        let firstSession = try await subscriber.connect()
        XCTAssertFalse(firstSession)
        try await subscriber.subscribe("city/test/#", qos: .atLeastOnce)

        // The broker goes away and comes back on the same port; the client notices and resumes.
        try await broker.restart()
        let events = try await subscriber.events.take(3, within: 20)
        XCTAssertEqual(events[0], .connected(sessionPresent: false))
        guard case .disconnected(let error?) = events[1] else { return XCTFail("expected a lost connection next, got \(events)") }
        XCTAssertEqual(error.kind, .connectionLost)
        guard case .reconnecting(attempt: 1, _) = events[2] else { return XCTFail("expected reconnect attempt 1, got \(events)") }
        let resumed = try await subscriber.events.first(within: 20) { if case .connected = $0 { return true } else { return false } }
        XCTAssertEqual(resumed, .connected(sessionPresent: true), "the broker kept the session across its restart")

        // The subscriber leaves; QoS 1 messages published meanwhile wait in its session.
        await subscriber.disconnect()
        let publisher = try MQTTClient(options(broker, "device-pub"))
        try await publisher.connect()
        for i in 0..<50 {
            try await publisher.publish("city/test/water/d1/m1/attrs", payload: Array("\(i)".utf8), qos: .atLeastOnce)
        }
        await publisher.drain()
        XCTAssertEqual(publisher.inflight, 0)

        // It comes back with the same id and gets every one of them, in order, without subscribing again.
        let returning = try MQTTClient(subscriberOptions)
        let present = try await returning.connect()
        XCTAssertTrue(present)
        let queued = try await returning.messages.take(50)
        XCTAssertEqual(queued.map(\.text), (0..<50).map(String.init))
    }

    func testPublisherKeepsPublishingAcrossABrokerRestart() async throws {
        let broker = try await EmbeddedBroker.start(.init(persistence: true))
        var publisherOptions = options(broker, "device-resume")
        publisherOptions.cleanSession = false
        publisherOptions.reconnect = ReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(400))
        let publisher = try MQTTClient(publisherOptions)
        try await publisher.connect()
        let initial = try await publisher.events.take(1)
        XCTAssertEqual(initial, [.connected(sessionPresent: false)])
        try await broker.restart()
        let resumed = try await publisher.events.first(within: 20) { if case .connected = $0 { return true } else { return false } }
        XCTAssertEqual(resumed, .connected(sessionPresent: true))

        let subscriber = try MQTTClient(options(broker, "after-restart"))
        try await subscriber.connect()
        try await subscriber.subscribe("after/#", qos: .atLeastOnce)
        try await publisher.publish("after/x", payload: Array("back".utf8), qos: .atLeastOnce, awaitDelivery: true)
        let message = try await subscriber.messages.take(1)
        XCTAssertEqual(message.first?.text, "back")
    }
}
