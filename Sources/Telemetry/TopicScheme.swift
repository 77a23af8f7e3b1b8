/// The topic layout every device and the gateway share:
/// `city/{city}/{domain}/{district}/{deviceId}/attrs` and `.../{deviceId}/status`.
/// `deviceId` sits at a fixed depth so brokers and gateways can partition by device.
public enum TopicScheme {
    public static func attributes(city: String, domain: Domain, district: String, device: String) -> String {
        "city/\(city)/\(domain.rawValue)/\(district)/\(device)/attrs"
    }

    public static func status(city: String, domain: Domain, district: String, device: String) -> String {
        "city/\(city)/\(domain.rawValue)/\(district)/\(device)/status"
    }

    /// The parts of a telemetry or status topic, or nil when it does not follow the scheme.
    public struct Parsed: Sendable, Equatable {
        public var city: String
        public var domain: Domain
        public var district: String
        public var device: String
        public var isStatus: Bool

        public init(city: String, domain: Domain, district: String, device: String, isStatus: Bool) {
            self.city = city
            self.domain = domain
            self.district = district
            self.device = device
            self.isStatus = isStatus
        }
    }

    public static func parse(_ topic: String) -> Parsed? {
        let parts = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "city", let domain = Domain(rawValue: String(parts[2])),
              !parts[1].isEmpty, !parts[3].isEmpty, !parts[4].isEmpty,
              parts[5] == "attrs" || parts[5] == "status" else { return nil }
        return Parsed(city: String(parts[1]), domain: domain, district: String(parts[3]),
                      device: String(parts[4]), isStatus: parts[5] == "status")
    }
}
