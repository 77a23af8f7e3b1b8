import Foundation
import MQTT
import EmbeddedBroker
import Testing

extension Integration {
@Suite(.serialized) final class ReconnectTests {
    @Test func clientResumesAfterBrokerRestartAndPersistentSessionDeliversQueuedMessages() async throws {
        let broker = try await EmbeddedBroker.start(.init(persistence: true))

        // A gateway-like subscriber with a persistent session.
        var subscriberOptions = options(broker, "gw-persistent")
        subscriberOptions.cleanSession = false
        subscriberOptions.reconnect = ReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(400))
        let subscriber = try MQTTClient(subscriberOptions)
        let firstSession = try await subscriber.connect()
        #expect(!firstSession)
        try await subscriber.subscribe("city/test/#", qos: .atLeastOnce)

        // The broker goes away and comes back on the same port; the client notices and resumes.
        try await broker.restart()
        let events = try await subscriber.events.take(3, within: 20)
        #expect(events[0] == .connected(sessionPresent: false))
        guard case .disconnected(let error?) = events[1] else { Issue.record("expected a lost connection next, got \(events)"); return }
        #expect(error.kind == .connectionLost)
        guard case .reconnecting(attempt: 1, _) = events[2] else { Issue.record("expected reconnect attempt 1, got \(events)"); return }
        let resumed = try await subscriber.events.first(within: 20) { if case .connected = $0 { return true } else { return false } }
        #expect(resumed == .connected(sessionPresent: true), "the broker kept the session across its restart")

        // The subscriber leaves; QoS 1 messages published meanwhile wait in its session.
        await subscriber.disconnect()
        let publisher = try MQTTClient(options(broker, "device-pub"))
        try await publisher.connect()
        for i in 0..<50 {
            try await publisher.publish("city/test/water/d1/m1/attrs", payload: Array("\(i)".utf8), qos: .atLeastOnce)
        }
        await publisher.drain()
        #expect(publisher.inflight == 0)

        // It comes back with the same id and gets every one of them, in order, without subscribing again.
        let returning = try MQTTClient(subscriberOptions)
        let present = try await returning.connect()
        #expect(present)
        let queued = try await returning.messages.take(50)
        #expect(queued.map(\.text) == (0..<50).map(String.init))
    }

    @Test func publisherKeepsPublishingAcrossABrokerRestart() async throws {
        let broker = try await EmbeddedBroker.start(.init(persistence: true))
        var publisherOptions = options(broker, "device-resume")
        publisherOptions.cleanSession = false
        publisherOptions.reconnect = ReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(400))
        let publisher = try MQTTClient(publisherOptions)
        try await publisher.connect()
        let initial = try await publisher.events.take(1)
        #expect(initial == ([.connected(sessionPresent: false)]))
        try await broker.restart()
        let resumed = try await publisher.events.first(within: 20) { if case .connected = $0 { return true } else { return false } }
        #expect(resumed == .connected(sessionPresent: true))

        let subscriber = try MQTTClient(options(broker, "after-restart"))
        try await subscriber.connect()
        try await subscriber.subscribe("after/#", qos: .atLeastOnce)
        try await publisher.publish("after/x", payload: Array("back".utf8), qos: .atLeastOnce, awaitDelivery: true)
        let message = try await subscriber.messages.take(1)
        #expect(message.first?.text == "back")
    }

    /// Two clients with one id close each other in turn (the broker closes the older one;
    /// mosquitto gives no reason, also over MQTT 5). Each loss soon after the broker accepted
    /// the connection keeps the backoff growing (it used to start again at the first delay, a
    /// reconnect every few milliseconds for ever), and the loss names the likely cause.
    @Test(arguments: [ProtocolVersion.v311, .v5])
    func twoClientsWithOneIDBackOffAndSayWhy(version: ProtocolVersion) async throws {
        let broker = try await EmbeddedBroker.start(.init())
        var sameID = options(broker, "one-id")
        sameID.protocolVersion = version
        sameID.reconnect = ReconnectPolicy(initialDelay: .milliseconds(20), maximumDelay: .seconds(2), stableAfter: .seconds(30))
        let first = try MQTTClient(sameID)
        try await first.connect()
        let second = try MQTTClient(sameID)
        try await second.connect()
        let events = first.events
        let (named, attempt) = try await within(30, "a named loss and reconnect attempt 4") { () -> (MQTTError?, Int) in
            var named: MQTTError?
            var attempt = 0
            for await event in events {
                switch event {
                case .disconnected(let error?) where error.message.contains("client id"): named = error
                case .reconnecting(let n, _): attempt = max(attempt, n)
                default: break
                }
                if named != nil, attempt >= 4 { break }
            }
            return (named, attempt)
        }
        #expect(named?.kind == .takenOver)
        #expect(named?.message.contains("client id 'one-id'") == true, "\(String(describing: named))")
        #expect(attempt >= 4, "the delay grows while the broker keeps closing the connection")
        #expect(first.takeovers >= 1)
        await first.disconnect()
        await second.disconnect()
    }
}
}
