import MQTT
import XCTest

final class RoundTripTests: XCTestCase {
    func testConnectOnly() async throws {
        let broker = try await EmbeddedBroker.start()
        print("broker up on \(broker.port)")
        let client = try MQTTClient(ConnectionOptions(port: broker.port, clientID: "t1"))
        print("client made")
        let present = try await client.connect()
        print("connected \(present)")
        await client.disconnect()
    }
}
