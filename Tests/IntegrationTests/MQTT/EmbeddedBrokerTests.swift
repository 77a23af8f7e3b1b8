import Foundation
import MQTT
import EmbeddedBroker
import Testing

extension Integration {
@Suite(.serialized) final class EmbeddedBrokerTests {
    @Test func aMissingBrokerBinaryNamesTheFix() async {
        setenv("SMARTCITY_MOSQUITTO", "/nonexistent/mosquitto", 1)
        defer { unsetenv("SMARTCITY_MOSQUITTO") }
        do {
            _ = try await EmbeddedBroker.start()
            Issue.record("a missing broker binary must be an error")
        } catch {
            #expect(error.kind == .brokerProcess)
            #expect(error.message.contains("SMARTCITY_MOSQUITTO"), "\(error.message)")
        }
    }

    @Test func stopEndsTheBrokerProcess() async throws {
        let broker = try await EmbeddedBroker.start()
        #expect(broker.isRunning)
        broker.stop()
        #expect(!broker.isRunning)
        var probe = ConnectionOptions(port: broker.port, clientID: "after-stop")
        probe.reconnect = .never
        do {
            try await MQTTClient(probe).connect()
            Issue.record("nothing may listen after stop")
        } catch {
            #expect(error.kind == .connectionRefused)
        }
    }

    @Test func aBadConfigurationLineIsReportedFromTheBrokerLog() async {
        do {
            _ = try await EmbeddedBroker.start(.init(extraLines: ["no_such_option 1"]))
            Issue.record("mosquitto must refuse an unknown option")
        } catch {
            #expect(error.kind == .brokerProcess)
            #expect(error.message.contains("no_such_option") || error.message.contains("Unknown"), "\(error.message)")
        }
    }
}
}
