import Foundation
import MQTT
import EmbeddedBroker
import Testing

extension Integration {
@Suite(.serialized) final class TLSTests {
    @Test func connectsWithTheSigningCAAndFailsWithout() async throws {
        let directory = try temporaryDirectory()
        try makeCertificates(in: directory)
        let broker = try await EmbeddedBroker.start(.init(extraLines: [
            "cafile \(directory.path)/ca.crt",
            "certfile \(directory.path)/server.crt",
            "keyfile \(directory.path)/server.key",
        ]))

        var trusted = options(broker, "tls-ok")
        trusted.tls = TLSOptions(caFile: directory.appendingPathComponent("ca.crt").path, version: "tlsv1.2")
        let client = try MQTTClient(trusted)
        try await client.connect()
        try await client.subscribe("tls/#")
        try await client.publish("tls/x", payload: Array("secret".utf8), qos: .atLeastOnce, awaitDelivery: true)
        let message = try await client.messages.take(1)
        #expect(message.first?.text == "secret")
        await client.disconnect()

        var wrongCA = options(broker, "tls-wrong-ca")
        wrongCA.tls = TLSOptions(caFile: directory.appendingPathComponent("other.crt").path)
        wrongCA.reconnect = .never
        do {
            try await MQTTClient(wrongCA).connect()
            Issue.record("a broker certificate from an untrusted CA must be refused")
        } catch {
            #expect(error.kind == .tls, "\(error.message)")
            #expect(error.message.contains("check the CA file") && !error.message.contains("--"), "\(error.message)")
        }

        var plain = options(broker, "tls-plain")
        plain.reconnect = .never
        plain.connectTimeout = .seconds(3)
        do {
            try await MQTTClient(plain).connect()
            Issue.record("plain MQTT to a TLS listener must fail")
        } catch {
            #expect(error.message.contains("probably expects TLS on this port"), "plain MQTT to a TLS port says so: \(error.message)")
        }
    }

}
}
