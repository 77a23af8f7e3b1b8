import CMosquitto
import CPlatform
import Foundation
@_spi(FastPath) @testable import MQTT
import EmbeddedBroker
import Testing

extension Integration {
/// Writes on the network loop: held until a flush, in order per connection, and early for a
/// connection with a burst of its own.
@Suite(.serialized) final class WriteBatchingTests {
    @Test func heldWritesWaitForTheFlushThenArriveInOrderPerConnection() async throws {
        let broker = try await EmbeddedBroker.start()
        let subscriber = try await connectedSubscriber(broker, "batch-sub", on: "batch/#")
        let loop = try NetworkLoop(name: "batch-loop")
        let a = try loopWritingClient(broker, "batch-a", loop: loop)
        let b = try loopWritingClient(broker, "batch-b", loop: loop)
        try await a.connect()
        try await b.connect()

        loop.holdWakes()
        let perClient = MQTTClient.writeBurst - 1
        for i in 0..<perClient {
            try await a.publish("batch/a", payload: Array("\(i)".utf8))
            try await b.publish("batch/b", payload: Array("\(i)".utf8))
        }
        // Nothing was written: a QoS 0 message counts as in flight until it is.
        #expect(a.inflight == perClient)
        #expect(b.inflight == perClient)
        loop.flush()
        await a.drain()
        await b.drain()
        let received = try await subscriber.messages.take(2 * perClient)
        let expected = (0..<perClient).map { "\($0)" }
        #expect((received.filter { $0.topic == "batch/a" }.map(\.text)) == expected)
        #expect((received.filter { $0.topic == "batch/b" }.map(\.text)) == expected)
        loop.releaseWakes()
        await a.disconnect()
        await b.disconnect()
        await subscriber.disconnect()
        loop.shutdown()
    }

    @Test func aBurstOnOneConnectionIsWrittenWithoutWaitingForTheFlush() async throws {
        let broker = try await EmbeddedBroker.start()
        let subscriber = try await connectedSubscriber(broker, "burst-sub", on: "burst/#")
        let loop = try NetworkLoop(name: "burst-loop")
        let client = try loopWritingClient(broker, "burst-pub", loop: loop)
        try await client.connect()

        loop.holdWakes()
        let total = 3 * MQTTClient.writeBurst + 10
        for i in 0..<total {
            try await client.publish("burst/x", payload: Array("\(i)".utf8))
        }
        // Every write the bursts asked for is done: fewer than one burst waits for the flush
        // (a QoS 0 message counts as in flight until it is written).
        await loop.settle()
        let waiting = client.inflight
        #expect(waiting < MQTTClient.writeBurst)
        let early = try await subscriber.messages.take(total - waiting)
        #expect(early.map(\.text) == ((0..<(total - waiting)).map { "\($0)" }))
        loop.releaseWakes()
        await client.drain()
        let rest = try await subscriber.messages.take(waiting)
        #expect(rest.map(\.text) == (((total - waiting)..<total).map { "\($0)" }))
        await client.disconnect()
        await subscriber.disconnect()
        loop.shutdown()
    }

    @Test func theWakeupByteOfEveryPublishIsLeftOut() async throws {
        // On a bare libmosquitto client: the pair is found, its write end closed and marked absent.
        MosquittoLibrary.ensureInitialised()
        let bare = try #require(mosquitto_new(nil, true, nil))
        let fds = UnsafeMutableRawPointer(bare).assumingMemoryBound(to: Int32.self)
        let (reader, writer) = (fds[1], fds[2])
        #expect(writer >= 0)
        #expect(csys_mosquitto_quiet_wakeup_pair(UnsafeMutableRawPointer(bare)) == 1)
        #expect(fds[2] == -1, "the write end is still there")
        #expect(fds[1] == reader)
        #expect(fcntl(reader, F_GETFD) != -1, "the read end was closed")
        // mosquitto_destroy closes what is left without touching the closed end.
        mosquitto_destroy(bare)

        let broker = try await EmbeddedBroker.start()
        let client = try MQTTClient(options(broker, "quiet"))
        #expect(client.quietWakeups, "libmosquitto 2.0's wake-up pair was not found")
        // The client works as before, and its publishes write no wake-up byte: nothing
        // arrives at the pair's read end.
        try await client.connect()
        try await client.publish("quiet/x", payload: [1], qos: .atLeastOnce, awaitDelivery: true)
        let clientReader = UnsafeMutableRawPointer(client.handle).assumingMemoryBound(to: Int32.self)[1]
        var byte: UInt8 = 0
        #expect((recv(clientReader, &byte, 1, Int32(MSG_DONTWAIT))) <= 0, "a wake-up byte was written")
        await client.disconnect()
    }

    @Test func aConnectedClientIsFreedLongBeforeItsConnectTimeout() async throws {
        let broker = try await EmbeddedBroker.start()
        var o = options(broker, "freed")
        o.connectTimeout = .seconds(120)
        var client: MQTTClient? = try MQTTClient(o)
        weak var watched = client
        try await client!.connect()
        await client!.disconnect()
        client = nil
        // The loop thread may still hold it for the rest of its pass: allow a few seconds,
        // far below the timeout.
        let deadline = ContinuousClock.now + .seconds(5)
        while watched != nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(watched == nil, "the pending connect timeout keeps the client (and its sockets) alive")
    }
}
}
