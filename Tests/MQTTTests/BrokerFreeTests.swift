import Foundation
@_spi(FastPath) @testable import MQTT
import Testing

/// The MQTT layer's pure pieces, without a broker: packet encoding, topic checks, error
/// mapping, reconnect backoff, broker URLs, TLS settings.
@Suite struct BrokerFreeTests {
    @Test func onlyPrintableASCIIWithoutWildcardsSkipsLibmosquittosCheck() {
        func plain(_ topic: String) -> Bool {
            Array(topic.utf8).withUnsafeBufferPointer { PublishPacket.isPlainTopic($0) }
        }
        #expect(plain("city/almaty/lighting/alm-d03/alm-sl-000042/attrs"))
        #expect(!plain("a/+/b"))
        #expect(!plain("a/#"))
        #expect(!plain("tab\there"))
        #expect(!plain("del\u{7F}"))
        #expect(!plain("алматы"))
    }

    @Test func packetEncodingMatchesTheMQTTLayout() {
        let topic = Array("a/b".utf8)
        var bytes: [UInt8] = []
        topic.withUnsafeBufferPointer { name in
            [UInt8](repeating: 7, count: 200).withUnsafeBytes { body in
                PublishPacket.append(to: &bytes, topic: name, payload: body, retain: true, v5: true)
            }
        }
        // Remaining length 2 + 3 + 1 + 200 = 206: two bytes, 0xCE 0x01.
        #expect(Array(bytes.prefix(9)) == ([0x31, 0xCE, 0x01, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x00]))
        #expect(bytes.count == 209)
        #expect(PublishPacket.size(topic: 3, payload: 200, v5: true) == 209)
        #expect(PublishPacket.size(topic: 3, payload: 200, v5: false) == 208)
        #expect(PublishPacket.size(topic: 3, payload: 268_435_455, v5: false) == nil)
        #expect(PublishPacket.size(topic: 1, payload: 2_097_152, v5: false) == (1 + 4 + 2 + 1 + 2_097_152))
    }

    /// A socket error of a connection that just died (a publish after the peer or a reconnect
    /// storm closed it) reads as "connection lost", which publishers count as refused.
    @Test func socketErrorsOfADeadConnectionMeanConnectionLost() {
        for number in [EPIPE, ECONNRESET, ECONNABORTED] {
            let error = MQTTError.mosquitto(14 /* MOSQ_ERR_ERRNO */, "publish", errno: number)
            #expect(error.kind == .connectionLost, "\(error)")
        }
        #expect((MQTTError.mosquitto(14 /* MOSQ_ERR_ERRNO */, "connect", errno: ECONNREFUSED).kind) == .connectionRefused)
    }

    @Test func backoffIsExponentialAndCapped() {
        let policy = ReconnectPolicy(initialDelay: .milliseconds(100), maximumDelay: .seconds(2), jitter: 0)
        #expect(policy.delay(attempt: 1, unit: 0.5) == .milliseconds(100))
        #expect(policy.delay(attempt: 2, unit: 0.5) == .milliseconds(200))
        #expect(policy.delay(attempt: 4, unit: 0.5) == .milliseconds(800))
        #expect(policy.delay(attempt: 10, unit: 0.5) == .seconds(2))
        #expect(policy.delay(attempt: 200, unit: 0.5) == .seconds(2))
        let jittered = ReconnectPolicy(initialDelay: .seconds(1), maximumDelay: .seconds(10), jitter: 0.2)
        #expect(jittered.delay(attempt: 1, unit: 0) == .milliseconds(800))
        #expect(jittered.delay(attempt: 1, unit: 1) == .milliseconds(1200))
    }

    @Test func missingCAFileIsAClearError() throws {
        var bad = ConnectionOptions(clientID: "tls-missing")
        bad.tls = TLSOptions(caFile: "/nonexistent/ca.crt")
        // Many times: a client whose settings are refused must free its handle exactly once
        // (a double free aborted the process, or corrupted the heap for other tests).
        for _ in 0..<50 {
            do { _ = try MQTTClient(bad); Issue.record("expected an error") } catch {
                #expect("\(error)".contains("/nonexistent/ca.crt"), "\(error)")
            }
        }
    }
}
