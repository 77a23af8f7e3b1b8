/// MQTT quality of service.
public enum QoS: Int32, Sendable, Codable, CaseIterable {
    case atMostOnce = 0
    case atLeastOnce = 1
    case exactlyOnce = 2

    public init?(level: Int) {
        self.init(rawValue: Int32(level))
    }
}
