import Logging
@_spi(FastPath) import MQTT
import ServiceLifecycle

/// Publishes indicator values as retained messages on their topics, batch after batch in flush
/// order, on a connection of its own; it ends when the flusher ends the stream after its final
/// flush, so nothing queued is lost at shutdown.
struct IndicatorPublisher: Service {
    let gateway: GatewayService
    let broker: ConnectionOptions
    let batches: AsyncStream<[(String, [UInt8])]>

    func run() async throws {
        var options = broker
        options.clientID = (broker.clientID.isEmpty ? gateway.config.clientID : broker.clientID) + "-indicators"
        options.cleanSession = true
        options.writesOnLoop = false
        let publisher = try MQTTClient(options)
        try await publisher.connect()
        for await batch in batches {
            for (topic, payload) in batch {
                do { _ = try await publisher.publish(topic, payload: payload, qos: .atLeastOnce, retain: true) } catch {
                    gateway.logger.warning("indicator not published on \(topic): \(error)")
                }
            }
        }
        await publisher.drain()
        await publisher.disconnect()
    }
}
