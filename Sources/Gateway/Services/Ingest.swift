import MQTT
import ServiceLifecycle

/// Takes messages from the broker until the group shuts down, then disconnects (the broker
/// keeps what was not acknowledged for the persistent session).
struct Ingest: Service {
    let gateway: GatewayService
    let broker: ConnectionOptions

    func run() async throws {
        try await gateway.connect(broker: broker)
        // Wait for the group's shutdown; cancellation ends the wait as well.
        try? await gracefulShutdown()
        await gateway.disconnect()
    }
}
