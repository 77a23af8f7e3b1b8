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
        do { try await publisher.connect() } catch {
            // The indicators are stored either way; a broker that is gone must not end the gateway.
            gateway.logger.warning("indicators will not be published: \(error)")
            for await _ in batches {}
            await publisher.disconnect()
            try? await gracefulShutdown()
            return
        }
        for await batch in batches {
            // One line per batch, not per indicator, when the broker is gone.
            var failed = 0
            var first: (String, any Error)?
            for (topic, payload) in batch {
                do { _ = try await publisher.publish(topic, payload: payload, qos: .atLeastOnce, retain: true) } catch {
                    failed += 1
                    if first == nil { first = (topic, error) }
                }
            }
            if let (topic, error) = first {
                gateway.logger.warning("\(failed) of \(batch.count) indicators not published (the first on \(topic)): \(error)")
            }
        }
        // A broker that is gone does not hold the shutdown up.
        if !(await publisher.drain(within: .seconds(5))) {
            gateway.logger.warning("indicators still unacknowledged after 5 s were given up")
        }
        await publisher.disconnect()
        // The stream ends in the flusher's last act, during the group's shutdown; this service
        // returns only once its own turn came, or the group would take it for a failure.
        try? await gracefulShutdown()
    }
}
