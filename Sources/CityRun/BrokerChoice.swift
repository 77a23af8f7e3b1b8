import EmbeddedBroker
import MQTT

/// The broker at `address`, or a private embedded mosquitto (returned, for the caller to stop)
/// when there is none; starting one is announced with `announce` before the message.
public func brokerFor(_ address: String?, announce: String = "") async throws -> (BrokerURL, EmbeddedBroker?) {
    if let address { return (try BrokerURL(parsing: address), nil) }
    let started = try await EmbeddedBroker.start()
    print("\(announce)started a private mosquitto on \(started.url)")
    return (started.url, started)
}
