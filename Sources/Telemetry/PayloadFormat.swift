/// The shape of a telemetry payload. The simulator writes each family in the format its fleet
/// names; the gateway reads each topic filter in the format its configuration names, and
/// turns the others into SenML before the same validation.
///
/// - `senml`: a SenML JSON pack (RFC 8428), `[{"bn":"urn:ngsi-ld:T:id:","bt":s,"n":..,"v":..},..]`;
/// - `json`: a flat object, `{"ts": ms, "values": {"name": value, ...}}` (the shape of
///   ThingsBoard's telemetry and many vendors'); units are the family's;
/// - `ngsi-ld`: a normalized NGSI-LD entity, `{"id":"urn:ngsi-ld:T:id","type":"T","name":
///   {"type":"Property","value":..,"observedAt":"..Z","unitCode":".."},..,"@context":..}`.
public enum PayloadFormat: String, Sendable, CaseIterable, Codable {
    case senml
    case json
    case ngsiLD = "ngsi-ld"

    /// UN/CEFACT common codes (NGSI-LD `unitCode`) of the SenML units the families use.
    public static let unitCodes: [String: String] = [
        "count": "C62", "/": "C62", "%": "P1", "km/h": "KMH", "W": "WTT", "kW": "KWT", "kWh": "KWH", "Wh": "WHR",
        "m3": "MTQ", "m3/h": "MQH", "l": "LTR", "Pa": "PAL", "hPa": "A97", "Cel": "CEL", "K": "KEL", "ug/m3": "GQ",
        "mg/m3": "GP", "kg": "KGM", "g": "GRM", "s": "SEC", "min": "MIN", "h": "HUR", "dB": "2N", "m": "MTR",
        "km": "KMT", "m/s": "MTS", "V": "VLT", "A": "AMP", "lx": "LUX", "ppm": "59", "%RH": "P1",
    ]
}

/// A topic layout other than `city/{city}/{domain}/{district}/{device}/{kind}`: levels with the
/// placeholders `{city}`, `{domain}`, `{district}`, `{device}`, `{kind}` (attrs or status) and
/// literal levels. What the topic does not name is taken from the device roster by the device
/// id (a scenario's fleets, or the device registry file); `kind` from the mapping when the
/// topic has no `{kind}` level.
public struct TopicMapping: Sendable, Equatable {
    public enum Level: Sendable, Equatable {
        case literal(String)
        case city, domain, district, device, kind
    }
    public var pattern: String
    public var levels: [Level]
    public var kind: TopicScheme.Kind

    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    public init(pattern: String, kind: TopicScheme.Kind = .attributes) throws(Problem) {
        self.pattern = pattern
        self.kind = kind
        levels = pattern.split(separator: "/", omittingEmptySubsequences: false).map { level in
            switch level {
            case "{city}": .city
            case "{domain}": .domain
            case "{district}": .district
            case "{device}": .device
            case "{kind}": .kind
            default: .literal(String(level))
            }
        }
        guard levels.contains(.device) else { throw Problem(description: "a topic mapping must name the {device} level") }
        for case .literal(let text) in levels where text.isEmpty || text.contains("+") || text.contains("#") || text.contains("{") {
            throw Problem(description: "'\(text)' is not a topic level of a mapping; use literal levels and {city}, {domain}, {district}, {device}, {kind}")
        }
    }

    /// The MQTT filter that subscribes to the mapped topics.
    public var filter: String {
        levels.map { level in
            if case .literal(let text) = level { return text }
            return "+"
        }.joined(separator: "/")
    }
}

/// Which payload formats the topics matching a filter carry (one, or several told apart by
/// their shape: a SenML pack is a JSON array, a flat object has `ts`, an NGSI-LD entity `id`).
public struct PayloadFormatRule: Sendable, Equatable {
    public var filter: String { didSet { levels = PayloadFormatRule.split(filter) } }
    public var formats: [PayloadFormat]
    private var levels: [String]

    public init(filter: String, formats: [PayloadFormat]) {
        self.filter = filter
        self.formats = formats
        levels = PayloadFormatRule.split(filter)
    }

    private static func split(_ filter: String) -> [String] { filter.split(separator: "/", omittingEmptySubsequences: false).map(String.init) }

    /// MQTT filter matching: `+` one level, `#` the rest.
    public func matches(_ topic: [Substring]) -> Bool {
        for (i, level) in levels.enumerated() {
            if level == "#" { return true }
            guard i < topic.count, level == "+" || level == topic[i] else { return false }
        }
        return levels.count == topic.count
    }
}

