import Foundation
import MQTT
import EmbeddedBroker
import XCTest

final class EmbeddedBrokerTests: XCTestCase {
    func testAMissingBrokerBinaryNamesTheFix() async {
        setenv("SMARTCITY_MOSQUITTO", "/nonexistent/mosquitto", 1)
        defer { unsetenv("SMARTCITY_MOSQUITTO") }
        do {
            _ = try await EmbeddedBroker.start()
            XCTFail("a missing broker binary must be an error")
        } catch {
            XCTAssertEqual(error.kind, .brokerProcess)
            XCTAssertTrue(error.message.contains("SMARTCITY_MOSQUITTO"), error.message)
        }
    }

    func testStopEndsTheBrokerProcess() async throws {
        let broker = try await EmbeddedBroker.start()
        XCTAssertTrue(broker.isRunning)
        broker.stop()
        XCTAssertFalse(broker.isRunning)
        var probe = ConnectionOptions(port: broker.port, clientID: "after-stop")
        probe.reconnect = .never
        do {
            try await MQTTClient(probe).connect()
            XCTFail("nothing may listen after stop")
        } catch {
            XCTAssertEqual(error.kind, .connectionRefused)
        }
    }

    func testABadConfigurationLineIsReportedFromTheBrokerLog() async {
        do {
            _ = try await EmbeddedBroker.start(.init(extraLines: ["no_such_option 1"]))
            XCTFail("mosquitto must refuse an unknown option")
        } catch {
            XCTAssertEqual(error.kind, .brokerProcess)
            XCTAssertTrue(error.message.contains("no_such_option") || error.message.contains("Unknown"), error.message)
        }
    }
}
