import Telemetry
import MQTT

/// The telemetry gateway: ingest, windows, indicators and store.
public enum Gateway {
    /// Every telemetry topic of `city` ("+" for all cities).
    public static func subscription(city: String = "+") -> String { TopicScheme.filter(city: city, kind: .attributes) }
}
