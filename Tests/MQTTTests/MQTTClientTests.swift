import Foundation
@testable import MQTT
import EmbeddedBroker
import XCTest

final class MQTTClientTests: XCTestCase {
    func testRoundTripAtEveryQoS() async throws {
        let broker = try await EmbeddedBroker.start()
        let subscriber = try MQTTClient(options(broker, "rt-sub"))
        try await subscriber.connect()
        let publisher = try MQTTClient(options(broker, "rt-pub"))
        try await publisher.connect()
        for qos in QoS.allCases {
            let topic = "city/test/mobility/d1/dev-\(qos.rawValue)/attrs"
            let granted = try await subscriber.subscribe(topic, qos: qos)
            XCTAssertEqual(granted, qos)
            for i in 0..<5 {
                try await publisher.publish(topic, payload: Array("m\(i)".utf8), qos: qos, awaitDelivery: true)
            }
            let received = try await subscriber.messages.take(5)
            XCTAssertEqual(received.map(\.text), ["m0", "m1", "m2", "m3", "m4"], "QoS \(qos)")
            XCTAssertTrue(received.allSatisfy { $0.topic == topic && $0.qos == qos && !$0.retain })
        }
        await publisher.disconnect()
        await subscriber.disconnect()
    }

    func testDisconnectFinishesTheMessageAndEventStreams() async throws {
        let broker = try await EmbeddedBroker.start()
        let client = try MQTTClient(options(broker, "finish"))
        try await client.connect()
        try await client.subscribe("finish/#", qos: .atLeastOnce)
        try await client.publish("finish/a", payload: Array("x".utf8), qos: .atLeastOnce, awaitDelivery: true)
        await client.disconnect()
        // Both loops end without the caller finishing anything: what arrived, then the end.
        let messages = try await within(5, "the messages stream to end") { await client.messages.reduce(0) { n, _ in n + 1 } }
        XCTAssertEqual(messages, 1)
        let events = try await within(5, "the events stream to end") { await client.events.reduce(into: [String]()) { $0.append("\($1)") } }
        XCTAssertEqual(events.last.map { $0.hasPrefix("disconnected") }, true, "\(events)")
    }

    func testRoundTripOverMQTT5() async throws {
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
        XCTAssertEqual(message.first?.text, "five")
        XCTAssertEqual(message.first?.qos, .exactlyOnce)
    }

    func testRetainedMessageReachesLateSubscriber() async throws {
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
        XCTAssertEqual(message.first?.text, "online")
        XCTAssertEqual(message.first?.retain, true)
    }

    func testLastWillIsPublishedWhenTheSocketDies() async throws {
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
        XCTAssertEqual(online.first?.text, "online")

        device.dropConnection()
        let will = try await watcher.messages.take(1)
        XCTAssertEqual(will.first?.text, "offline")
        let lost = try await device.events.first { if case .disconnected(let error) = $0 { return error != nil } else { return false } }
        guard case .disconnected(let error?) = lost else { return XCTFail("expected a lost connection, got \(lost)") }
        XCTAssertEqual(error.kind, .connectionLost)
    }

    func testCleanDisconnectPublishesNoWill() async throws {
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
        XCTAssertEqual(first.first?.text, "marker")
    }

    /// A socket error of a connection that just died (a publish after the peer or a reconnect
    /// storm closed it) reads as "connection lost", which publishers count as refused.
    func testSocketErrorsOfADeadConnectionMeanConnectionLost() {
        for number in [EPIPE, ECONNRESET, ECONNABORTED] {
            let error = MQTTError.mosquitto(14 /* MOSQ_ERR_ERRNO */, "publish", errno: number)
            XCTAssertEqual(error.kind, .connectionLost, "\(error)")
        }
        XCTAssertEqual(MQTTError.mosquitto(14 /* MOSQ_ERR_ERRNO */, "connect", errno: ECONNREFUSED).kind, .connectionRefused)
    }

    func testWrongPasswordIsRejectedWithAClearError() async throws {
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
            XCTFail("a wrong password must be refused")
        } catch {
            XCTAssertEqual(error.kind, .notAuthorised)
            XCTAssertTrue(error.message.contains("check the user name and password") && !error.message.contains("--"), error.message)
        }
    }

    func testUnreachableBrokerFailsFastWithAClearError() async throws {
        let broker = try await EmbeddedBroker.start()
        let port = broker.port
        broker.stop()
        var deadOptions = ConnectionOptions(port: port, clientID: "nobody-home")
        deadOptions.reconnect = .never
        let started = ContinuousClock.now
        do {
            try await MQTTClient(deadOptions).connect()
            XCTFail("connecting to a stopped broker must fail")
        } catch {
            XCTAssertEqual(error.kind, .connectionRefused)
            XCTAssertTrue(error.message.contains("127.0.0.1:\(port)"), error.message)
            XCTAssertTrue(error.message.contains("no broker listens there") && !error.message.contains("--"), error.message)
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5))
    }

    func testSilentPeerTimesOutWithinTheConnectTimeout() async throws {
        // A listening socket that never answers CONNECT: TCP succeeds, no CONNACK ever comes.
        let (listener, port) = try silentListener()
        defer { close(listener) }
        var silent = ConnectionOptions(port: port, clientID: "silent")
        silent.connectTimeout = .milliseconds(500)
        silent.reconnect = .never
        do {
            try await MQTTClient(silent).connect()
            XCTFail("a peer that never sends CONNACK must time out")
        } catch {
            XCTAssertEqual(error.kind, .timeout)
            XCTAssertTrue(error.message.contains("no CONNACK"), error.message)
        }
    }

    func testBackoffIsExponentialAndCapped() {
        let policy = ReconnectPolicy(initialDelay: .milliseconds(100), maximumDelay: .seconds(2), jitter: 0)
        XCTAssertEqual(policy.delay(attempt: 1, unit: 0.5), .milliseconds(100))
        XCTAssertEqual(policy.delay(attempt: 2, unit: 0.5), .milliseconds(200))
        XCTAssertEqual(policy.delay(attempt: 4, unit: 0.5), .milliseconds(800))
        XCTAssertEqual(policy.delay(attempt: 10, unit: 0.5), .seconds(2))
        XCTAssertEqual(policy.delay(attempt: 200, unit: 0.5), .seconds(2))
        let jittered = ReconnectPolicy(initialDelay: .seconds(1), maximumDelay: .seconds(10), jitter: 0.2)
        XCTAssertEqual(jittered.delay(attempt: 1, unit: 0), .milliseconds(800))
        XCTAssertEqual(jittered.delay(attempt: 1, unit: 1), .milliseconds(1200))
    }

    func testBrokerURLParsing() throws {
        XCTAssertEqual(try BrokerURL(parsing: "mqtt://10.0.0.5:1884"), BrokerURL(host: "10.0.0.5", port: 1884))
        XCTAssertEqual(try BrokerURL(parsing: "mqtts://u:p@broker.city"), BrokerURL(host: "broker.city", port: 8883, secure: true, username: "u", password: "p"))
        XCTAssertEqual(try BrokerURL(parsing: "localhost:1883"), BrokerURL(host: "localhost", port: 1883))
        XCTAssertThrowsError(try BrokerURL(parsing: "http://x:1")) { XCTAssertTrue("\($0)".contains("mqtt://")) }
        XCTAssertThrowsError(try BrokerURL(parsing: "mqtt://x:notaport")) { XCTAssertTrue("\($0)".contains("port")) }
    }
}

