import CMosquitto
import Foundation
@_spi(FastPath) @testable import MQTT
import EmbeddedBroker
import Synchronization
import Testing

extension Integration {
/// QoS 0 publishes encoded by the client and written by the loop (`PublishPacket`), next to
/// libmosquitto's own queue on the same connection.
@Suite(.serialized) final class DirectPublishTests {
    private func direct(_ broker: EmbeddedBroker, _ id: String, loop: NetworkLoop, v5: Bool = false, window: Int = 100,
                        will: Will? = nil) throws -> MQTTClient {
        let client = try loopWritingClient(broker, id, loop: loop) { o in
            o.protocolVersion = v5 ? .v5 : .v311
            o.inflightWindow = window
            o.will = will
        }
        #expect(client.directWrites)
        return client
    }

    /// Shrinks the client's socket send buffer, so that a pass of a few large messages fills it.
    private func shrinkSendBuffer(_ client: MQTTClient) {
        var small: Int32 = 16_384
        #expect((setsockopt(mosquitto_socket(client.handle), SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))) == 0)
    }

    /// The payload of message `i`: its number, then `size` bytes in all of a filler that depends on it.
    private func payload(_ i: Int, size: Int) -> [UInt8] {
        let head = Array("\(i):".utf8)
        return head + [UInt8](repeating: UInt8(32 + i % 200), count: size - head.count)
    }

    /// Many large messages in one held pass (far more than the socket takes at once), with
    /// QoS 1 publishes from libmosquitto's queue in between: every byte arrives intact and in
    /// order, on both protocol versions.
    private func checkLargePassesWithQoS1InBetween(v5: Bool) async throws {
        let broker = try await EmbeddedBroker.start()
        let subscriber = try await connectedSubscriber(broker, "direct-sub", on: "direct/#", qos: .atLeastOnce)
        let loop = try NetworkLoop(name: "direct-loop")
        let client = try direct(broker, "direct-pub", loop: loop, v5: v5, window: 100_000)
        try await client.connect()
        // Each pass fills the send buffer many times over.
        shrinkSendBuffer(client)

        let total = 600, size = 20_000, every = 50
        loop.holdWakes()
        for i in 0..<total {
            try await client.publish("direct/zero", payload: payload(i, size: size))
            if i % every == every - 1 {
                // A QoS 1 publish waits for its PUBACK: let the held writes out first.
                loop.flush()
                try await client.publish("direct/one", payload: Array("\(i)".utf8), qos: .atLeastOnce, awaitDelivery: true)
            }
        }
        loop.releaseWakes()
        await client.drain()
        #expect(client.inflight == 0)
        // Passes were part-written, the rest left as the socket had room.
        await loop.settle()
        #expect(client.stalledWrites > 0)

        let received = try await subscriber.messages.take(total + total / every, within: 60)
        let zero = received.filter { $0.topic == "direct/zero" }
        #expect(zero.count == total)
        for (i, message) in zero.enumerated() where message.payload != payload(i, size: size) {
            Issue.record("message \(i) arrived as \(message.payload.prefix(16))…, \(message.payload.count) bytes")
            break
        }
        #expect((received.filter { $0.topic == "direct/one" }.map(\.text)) == (stride(from: every - 1, to: total, by: every).map { "\($0)" }))
        await client.disconnect()
        await subscriber.disconnect()
        loop.shutdown()
    }

    @Test func largePassesArriveIntactBesideQoS1OverMQTT311() async throws {
        try await checkLargePassesWithQoS1InBetween(v5: false)
    }

    @Test func largePassesArriveIntactBesideQoS1OverMQTT5() async throws {
        try await checkLargePassesWithQoS1InBetween(v5: true)
    }

    @Test func aRetainedMessageKeepsItsFlagAndAnEmptyPayloadIsAllowed() async throws {
        let broker = try await EmbeddedBroker.start()
        let loop = try NetworkLoop(name: "retain-loop")
        let client = try direct(broker, "retain-pub", loop: loop, v5: true)
        try await client.connect()
        try await client.publish("retained/status", payload: Array("online".utf8), retain: true)
        try await client.publish("retained/empty", payload: [])
        await client.drain()
        // The empty message went out after the retained one on the same connection: once a
        // subscriber sees it arrive live, the retained one is stored.
        let watcher = try await connectedSubscriber(broker, "retain-watch", on: "retained/#")
        try await client.publish("retained/empty", payload: [])
        await client.drain()
        let seen = try await watcher.messages.take(2)
        #expect(seen.map(\.topic) == (["retained/status", "retained/empty"]))
        #expect(seen.map(\.retain) == ([true, false]))
        #expect(seen[0].text == "online")
        #expect(seen[1].payload == [])
        await watcher.disconnect()
        await client.disconnect()
        loop.shutdown()
    }

    @Test func publishingBeforeConnectingIsRefusedAndHoldsNoSlot() async throws {
        let broker = try await EmbeddedBroker.start()
        let loop = try NetworkLoop(name: "early-loop")
        let client = try direct(broker, "early-pub", loop: loop)
        do {
            try await client.publish("early/x", payload: [1])
            Issue.record("a publish before connect was accepted")
        } catch {
            #expect(error.kind == .notConnected)
            #expect(error.message.contains("early/x"), "\(error.message)")
        }
        #expect(client.inflight == 0)
        loop.shutdown()
    }

    @Test func topicsAreCheckedAsByLibmosquitto() async throws {
        let broker = try await EmbeddedBroker.start()
        let subscriber = try await connectedSubscriber(broker, "topic-sub", on: "#")
        let loop = try NetworkLoop(name: "topic-loop")
        let client = try direct(broker, "topic-pub", loop: loop)
        try await client.connect()
        for bad in ["wild/+/x", "wild/#", "", "bad\u{1}char"] {
            do {
                try await client.publish(bad, payload: [1])
                Issue.record("the topic '\(bad)' was accepted")
            } catch {
                #expect(error.kind == .invalidArgument, "\(bad): \(error)")
            }
        }
        #expect(client.inflight == 0)
        // UTF-8 beyond ASCII is fine (libmosquitto's check passes it).
        try await client.publish("город/алматы", payload: Array("ok".utf8))
        await client.drain()
        let message = try await subscriber.messages.take(1)
        #expect(message.map(\.topic) == ["город/алматы"])
        await client.disconnect()
        await subscriber.disconnect()
        loop.shutdown()
    }


    @Test func aPacketOverTheBrokersMaximumIsRefusedAndTheConnectionStays() async throws {
        let broker = try await EmbeddedBroker.start(.init(extraLines: ["max_packet_size 1000"]))
        let subscriber = try await connectedSubscriber(broker, "max-sub", on: "max/#")
        let loop = try NetworkLoop(name: "max-loop")
        let client = try direct(broker, "max-pub", loop: loop, v5: true)
        try await client.connect()
        #expect((client.state.withLock { $0.maximumPacket }) == 1000, "the CONNACK's maximum packet size was not read")
        do {
            try await client.publish("max/big", payload: [UInt8](repeating: 65, count: 2000))
            Issue.record("a packet over the broker's maximum was accepted")
        } catch {
            #expect(error.kind == .payloadTooLarge)
        }
        try await client.publish("max/small", payload: Array("fits".utf8))
        await client.drain()
        let message = try await subscriber.messages.take(1)
        #expect(message.map(\.text) == ["fits"])
        await client.disconnect()
        await subscriber.disconnect()
        loop.shutdown()
    }

    /// Bytes published for a connection that is then lost are dropped with it (their slots
    /// freed): none reaches the next connection ahead of its CONNECT.
    @Test func pendingBytesOfALostConnectionNeverReachTheNextOne() async throws {
        let broker = try await EmbeddedBroker.start()
        let subscriber = try await connectedSubscriber(broker, "lost-sub", on: "lost/#")
        let loop = try NetworkLoop(name: "lost-loop")
        let client = try direct(broker, "lost-pub", loop: loop)
        try await client.connect()
        _ = try await client.events.take(1)

        loop.holdWakes()
        for i in 0..<10 { try await client.publish("lost/before", payload: Array("\(i)".utf8)) }
        #expect(client.inflight == 10)
        // The drop is not held: it shuts the socket before the held writes run.
        client.dropConnection()
        let events = try await client.events.take(3, within: 20)
        guard case .disconnected = events[0], case .reconnecting = events[1], case .connected = events[2] else {
            Issue.record("expected lost, reconnecting, connected; got \(events)")
            return
        }
        #expect(client.inflight == 0, "the dropped messages still hold their slots")
        loop.releaseWakes()
        try await client.publish("lost/after", payload: Array("after".utf8))
        await client.drain()
        let first = try await subscriber.messages.take(1)
        #expect(first.map(\.topic) == ["lost/after"])
        // The broker kept the new connection: a stray PUBLISH before CONNECT would have closed it.
        await loop.settle()
        try await client.publish("lost/after", payload: Array("again".utf8))
        await client.drain()
        let second = try await subscriber.messages.take(1)
        #expect(second.map(\.text) == ["again"])
        await client.disconnect()
        await subscriber.disconnect()
        loop.shutdown()
    }

    /// Disconnecting with megabytes still unwritten and a full socket: they leave first, then
    /// the DISCONNECT, so the broker publishes no last will.
    @Test func aDisconnectWritesWhatIsPendingFirstAndEndsCleanly() async throws {
        let broker = try await EmbeddedBroker.start()
        let subscriber = try await connectedSubscriber(broker, "bye-sub", on: "bye/#")
        let loop = try NetworkLoop(name: "bye-loop")
        let client = try direct(broker, "bye-pub", loop: loop, window: 10_000,
                                will: Will(topic: "bye/will", payload: Array("gone".utf8), qos: .atMostOnce, retain: false))
        try await client.connect()
        shrinkSendBuffer(client)

        // 1.2 MB against a 16 KB send buffer: many passes, and well inside the 2 s a disconnect
        // waits for room even on a loaded machine (4 MB took longer once).
        let total = 60
        loop.holdWakes()
        for i in 0..<total { try await client.publish("bye/data", payload: payload(i, size: 20_000)) }
        await client.disconnect()
        let received = try await subscriber.messages.take(total, within: 30)
        #expect((received.map { $0.payload.prefix(while: { $0 != UInt8(ascii: ":") }) }) == ((0..<total).map { Array("\($0)".utf8)[...] }))
        // The next message is a marker published after the disconnect, not the will.
        let other = try MQTTClient(options(broker, "bye-marker"))
        try await other.connect()
        try await other.publish("bye/marker", payload: [1], qos: .atLeastOnce, awaitDelivery: true)
        let next = try await subscriber.messages.take(1)
        #expect(next.map(\.topic) == ["bye/marker"])
        loop.releaseWakes()
        await other.disconnect()
        await subscriber.disconnect()
        loop.shutdown()
    }

}
}
