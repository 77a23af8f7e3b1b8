import Foundation
@testable import MQTT
import EmbeddedBroker
import Testing

extension Integration {
@Suite(.serialized) final class MQTTClientTests {
    @Test func roundTripAtEveryQoS() async throws {
        let broker = try await EmbeddedBroker.start()
        let subscriber = try MQTTClient(options(broker, "rt-sub"))
        try await subscriber.connect()
        let publisher = try MQTTClient(options(broker, "rt-pub"))
        try await publisher.connect()
        for qos in QoS.allCases {
            let topic = "city/test/mobility/d1/dev-\(qos.rawValue)/attrs"
            let granted = try await subscriber.subscribe(topic, qos: qos)
            #expect(granted == qos)
            for i in 0..<5 {
                try await publisher.publish(topic, payload: Array("m\(i)".utf8), qos: qos, awaitDelivery: true)
            }
            let received = try await subscriber.messages.take(5)
            #expect(received.map(\.text) == (["m0", "m1", "m2", "m3", "m4"]), "QoS \(qos)")
            #expect(received.allSatisfy { $0.topic == topic && $0.qos == qos && !$0.retain })
        }
        await publisher.disconnect()
        await subscriber.disconnect()
    }

    @Test func disconnectFinishesTheMessageAndEventStreams() async throws {
        let broker = try await EmbeddedBroker.start()
        let client = try MQTTClient(options(broker, "finish"))
        try await client.connect()
        try await client.subscribe("finish/#", qos: .atLeastOnce)
        try await client.publish("finish/a", payload: Array("x".utf8), qos: .atLeastOnce, awaitDelivery: true)
        await client.disconnect()
        // Both loops end without the caller finishing anything: what arrived, then the end.
        let messages = try await within(5, "the messages stream to end") { await client.messages.reduce(0) { n, _ in n + 1 } }
        #expect(messages == 1)
        let events = try await within(5, "the events stream to end") { await client.events.reduce(into: [String]()) { $0.append("\($1)") } }
        #expect((events.last.map { $0.hasPrefix("disconnected") }) == true, "\(events)")
    }

    @Test func roundTripOverMQTT5() async throws {
        let broker = try await EmbeddedBroker.start()
        var subscriberOptions = options(broker, "v5-sub")
        subscriberOptions.protocolVersion = .v5
        let subscriber = try MQTTClient(subscriberOptions)
        try await subscriber.connect()
        try await subscriber.subscribe("v5/#", qos: .exactlyOnce)
        var publisherOptions = options(broker, "v5-pub")
        publisherOptions.protocolVersion = .v5
        let publisher = try MQTTClient(publisherOptions)
        try await publisher.connect()
        try await publisher.publish("v5/a", payload: Array("five".utf8), qos: .exactlyOnce, awaitDelivery: true)
        let message = try await subscriber.messages.take(1)
        #expect(message.first?.text == "five")
        #expect(message.first?.qos == .exactlyOnce)
    }

    @Test func retainedMessageReachesLateSubscriber() async throws {
        let broker = try await EmbeddedBroker.start()
        let publisher = try MQTTClient(options(broker, "ret-pub"))
        try await publisher.connect()
        try await publisher.publish("city/test/lighting/d1/pole-1/status", payload: Array("online".utf8),
                                    qos: .atLeastOnce, retain: true, awaitDelivery: true)
        await publisher.disconnect()

        let late = try MQTTClient(options(broker, "ret-late"))
        try await late.connect()
        try await late.subscribe("city/test/lighting/+/+/status", qos: .atLeastOnce)
        let message = try await late.messages.take(1)
        #expect(message.first?.text == "online")
        #expect(message.first?.retain == true)
    }

    @Test func lastWillIsPublishedWhenTheSocketDies() async throws {
        let broker = try await EmbeddedBroker.start()
        let status = "city/test/waste/d1/bin-7/status"
        let watcher = try MQTTClient(options(broker, "will-watch"))
        try await watcher.connect()
        try await watcher.subscribe(status, qos: .atLeastOnce)

        var deviceOptions = options(broker, "bin-7")
        deviceOptions.will = Will(topic: status, payload: Array("offline".utf8), qos: .atLeastOnce, retain: true)
        deviceOptions.reconnect = .never
        deviceOptions.keepAlive = 5
        let device = try MQTTClient(deviceOptions)
        try await device.connect()
        try await device.publish(status, payload: Array("online".utf8), qos: .atLeastOnce, retain: true, awaitDelivery: true)
        let online = try await watcher.messages.take(1)
        #expect(online.first?.text == "online")

        device.dropConnection()
        let will = try await watcher.messages.take(1)
        #expect(will.first?.text == "offline")
        let lost = try await device.events.first { if case .disconnected(let error) = $0 { return error != nil } else { return false } }
        guard case .disconnected(let error?) = lost else { Issue.record("expected a lost connection, got \(lost)"); return }
        #expect(error.kind == .connectionLost)
    }

    @Test func cleanDisconnectPublishesNoWill() async throws {
        let broker = try await EmbeddedBroker.start()
        let status = "city/test/water/d1/meter-1/status"
        let watcher = try MQTTClient(options(broker, "nowill-watch"))
        try await watcher.connect()
        try await watcher.subscribe("city/test/water/#", qos: .atLeastOnce)
        var deviceOptions = options(broker, "meter-1")
        deviceOptions.will = Will(topic: status, payload: Array("offline".utf8))
        let device = try MQTTClient(deviceOptions)
        try await device.connect()
        await device.disconnect()
        // A marker sent after the disconnect arrives first if no will was published.
        let marker = try MQTTClient(options(broker, "nowill-marker"))
        try await marker.connect()
        try await marker.publish("city/test/water/d1/marker/attrs", payload: Array("marker".utf8), qos: .atLeastOnce, awaitDelivery: true)
        let first = try await watcher.messages.take(1)
        #expect(first.first?.text == "marker")
    }


    @Test func wrongPasswordIsRejectedWithAClearError() async throws {
        let directory = try temporaryDirectory()
        try shell("mosquitto_passwd -c -b passwords city s3cret", in: directory)
        let broker = try await EmbeddedBroker.start(.init(extraLines: [
            "allow_anonymous false", "password_file \(directory.path)/passwords",
        ]))
        var good = options(broker, "auth-good")
        good.username = "city"
        good.password = "s3cret"
        let client = try MQTTClient(good)
        try await client.connect()
        await client.disconnect()

        var bad = good
        bad.clientID = "auth-bad"
        bad.password = "wrong"
        bad.reconnect = .never
        do {
            try await MQTTClient(bad).connect()
            Issue.record("a wrong password must be refused")
        } catch {
            #expect(error.kind == .notAuthorised)
            #expect(error.message.contains("check the user name and password") && !error.message.contains("--"), "\(error.message)")
        }
    }

    @Test func unreachableBrokerFailsFastWithAClearError() async throws {
        let broker = try await EmbeddedBroker.start()
        let port = broker.port
        broker.stop()
        var deadOptions = ConnectionOptions(port: port, clientID: "nobody-home")
        deadOptions.reconnect = .never
        let started = ContinuousClock.now
        do {
            try await MQTTClient(deadOptions).connect()
            Issue.record("connecting to a stopped broker must fail")
        } catch {
            #expect(error.kind == .connectionRefused)
            #expect(error.message.contains("127.0.0.1:\(port)"), "\(error.message)")
            #expect(error.message.contains("no broker listens there") && !error.message.contains("--"), "\(error.message)")
        }
        #expect((ContinuousClock.now - started) < .seconds(5))
    }

    @Test func silentPeerTimesOutWithinTheConnectTimeout() async throws {
        // A listening socket that never answers CONNECT: TCP succeeds, no CONNACK ever comes.
        let (listener, port) = try silentListener()
        defer { close(listener) }
        var silent = ConnectionOptions(port: port, clientID: "silent")
        silent.connectTimeout = .milliseconds(500)
        silent.reconnect = .never
        do {
            try await MQTTClient(silent).connect()
            Issue.record("a peer that never sends CONNACK must time out")
        } catch {
            #expect(error.kind == .timeout)
            #expect(error.message.contains("no CONNACK"), "\(error.message)")
        }
    }


    @Test func brokerURLParsing() throws {
        #expect((try BrokerURL(parsing: "mqtt://10.0.0.5:1884")) == BrokerURL(host: "10.0.0.5", port: 1884))
        #expect((try BrokerURL(parsing: "mqtts://u:p@broker.city")) == BrokerURL(host: "broker.city", port: 8883, secure: true, username: "u", password: "p"))
        #expect((try BrokerURL(parsing: "localhost:1883")) == BrokerURL(host: "localhost", port: 1883))
        do { _ = try BrokerURL(parsing: "http://x:1"); Issue.record("expected an error") } catch { #expect("\(error)".contains("mqtt://")) }
        do { _ = try BrokerURL(parsing: "mqtt://x:notaport"); Issue.record("expected an error") } catch { #expect("\(error)".contains("port")) }
    }
}
}

