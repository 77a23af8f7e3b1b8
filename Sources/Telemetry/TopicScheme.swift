/// The topic layout every device and the gateway share:
/// `city/{city}/{domain}/{district}/{deviceId}/attrs` and `.../{deviceId}/status`, and the
/// gateway's indicator topics `city/{city}/indicators/{slug}[/{resolution}]`.
/// `deviceId` sits at a fixed depth so brokers and gateways can partition by device.
/// Every topic, filter and parse of the project goes through this type.
public enum TopicScheme {
    /// The simulator's topic template with every placeholder it fills.
    public static let template = "city/{city}/{domain}/{district}/{device}/{kind}"

    /// The last level of a device's topics.
    public enum Kind: String, Sendable, CaseIterable {
        case attributes = "attrs"
        case status
    }

    public static func topic(city: String, domain: Domain, district: String, device: String, kind: Kind) -> String {
        "city/\(city)/\(domain.rawValue)/\(district)/\(device)/\(kind.rawValue)"
    }

    public static func attributes(city: String, domain: Domain, district: String, device: String) -> String {
        topic(city: city, domain: domain, district: district, device: device, kind: .attributes)
    }

    public static func status(city: String, domain: Domain, district: String, device: String) -> String {
        topic(city: city, domain: domain, district: district, device: device, kind: .status)
    }

    /// A subscription filter: nil levels are single-level wildcards (`+`), a nil kind takes both.
    public static func filter(city: String? = nil, domain: Domain? = nil, district: String? = nil, kind: Kind? = nil) -> String {
        "city/\(city ?? "+")/\(domain?.rawValue ?? "+")/\(district ?? "+")/+/\(kind?.rawValue ?? "+")"
    }

    /// The retained topic of an indicator: `city/{city}/indicators/{slug}` for the base window,
    /// with `/{resolution}` appended for the longer ones (`hour`, `day`).
    public static func indicator(city: String, slug: String, resolution: String? = nil) -> String {
        "city/\(city)/indicators/\(slug)" + (resolution.map { "/\($0)" } ?? "")
    }

    /// The retained topic of a device's alarm of one kind: `city/{city}/alarms/{domain}/{district}/{device}/{kind}`
    /// (seven levels: the gateway's six-level subscription does not take its own alarms back).
    public static func alarm(city: String, domain: String, district: String, device: String, kind: String) -> String {
        "city/\(city)/alarms/\(domain)/\(district)/\(device)/\(kind)"
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

    /// Where the levels of a device topic lie in its bytes.
    public struct Levels: Sendable, Equatable {
        public var city: Range<Int>
        public var domain: Domain
        public var district: Range<Int>
        public var device: Range<Int>
        public var kind: Kind
    }

    public static func parse(_ topic: String) -> Parsed? {
        var text = topic
        return text.withUTF8 { bytes in
            guard let levels = parse(bytes) else { return nil }
            func string(_ r: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: bytes[r]), as: UTF8.self) }
            return Parsed(city: string(levels.city), domain: levels.domain, district: string(levels.district),
                          device: string(levels.device), isStatus: levels.kind == .status)
        }
    }

    /// Whether `text` can be one level of a topic: not empty, no `/`, no wildcard, no NUL.
    public static func isLevel(_ text: String) -> Bool {
        !text.isEmpty && !text.utf8.contains { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") || $0 == 0 }
    }

    /// Parses a topic's bytes without making strings: six non-empty levels, `city` first, a
    /// known domain third, `attrs` or `status` last.
    public static func parse(_ topic: UnsafeBufferPointer<UInt8>) -> Levels? {
        var slashes: [Int] = []
        for i in topic.indices where topic[i] == UInt8(ascii: "/") {
            guard slashes.count < 5 else { return nil }
            slashes.append(i)
        }
        guard slashes.count == 5 else { return nil }
        let levels = zip([0] + slashes.map { $0 + 1 }, slashes + [topic.count]).map { $0..<$1 }
        guard levels.allSatisfy({ !$0.isEmpty }) else { return nil }
        func text(_ r: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: topic[r]), as: UTF8.self) }
        guard text(levels[0]) == "city", let domain = Domain(rawValue: text(levels[2])),
              let kind = Kind(rawValue: text(levels[5])) else { return nil }
        return Levels(city: levels[1], domain: domain, district: levels[3], device: levels[4], kind: kind)
    }
}
