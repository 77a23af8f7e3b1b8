import Foundation
import Telemetry
import Yams

/// What the gateway knows about a city beyond its telemetry: the denominators of the
/// indicators (population, area, street and network lengths) and how many devices it has.
public struct CityFacts: Sendable, Equatable {
    public var id: String
    public var name: String
    /// Local time offset from UTC in hours: daily and hourly windows follow the city's clock.
    public var utcOffset: Double
    public var population: Double
    public var areaKm2: Double
    public var litStreetKm: Double
    public var majorStreetKm: Double
    public var waterNetworkKm: Double
    /// Installed devices per domain (for the share reporting); 0 = use the devices seen.
    public var devices: [Domain: Int]
    /// Length of major street one traffic counter monitors (km).
    public var kmPerTrafficCounter: Double
    /// Length of distribution network one network sensor monitors (km).
    public var kmPerNetworkSensor: Double

    public init(id: String, name: String? = nil, utcOffset: Double = 0, population: Double, areaKm2: Double,
                litStreetKm: Double = 0, majorStreetKm: Double = 0, waterNetworkKm: Double = 0,
                devices: [Domain: Int] = [:], kmPerTrafficCounter: Double = 1, kmPerNetworkSensor: Double = 10) {
        self.id = id
        self.name = name ?? id
        self.utcOffset = utcOffset
        self.population = population
        self.areaKm2 = areaKm2
        self.litStreetKm = litStreetKm
        self.majorStreetKm = majorStreetKm
        self.waterNetworkKm = waterNetworkKm
        self.devices = devices
        self.kmPerTrafficCounter = kmPerTrafficCounter
        self.kmPerNetworkSensor = kmPerNetworkSensor
    }
}

/// The gateway's settings; `Config/gateway.yaml` documents every field.
public struct GatewayConfig: Sendable {
    /// Base window length in seconds (divides an hour); hourly and daily roll-ups follow.
    public var window: Int64 = 900
    /// How far behind the newest event time a reading may be and still correct its window.
    public var lateness: Int64 = 900
    /// Readings further ahead of a city's newest event time than this are rejected.
    public var maxSkew: Int64 = 7 * 86_400
    /// Larger payloads are rejected unread.
    public var maxPayload = 65_536
    public var cities: [CityFacts] = []
    public var store = "gateway.sqlite"
    /// Directory of the journal of accepted messages (default: next to the store).
    public var journal: String?
    public var clientID = "smartcity-gateway"
    public var subscription = TopicScheme.filter()
    /// HTTP port for /metrics, /health and the API; 0 picks a free one, nil turns it off.
    public var httpPort: Int? = 9464
    public var httpHost = "127.0.0.1"
    /// Seconds between store flushes (windows, indicators, dead letters).
    public var flushInterval = 1.0
    /// Seconds between full checkpoints of the aggregation state.
    public var checkpointInterval = 10.0
    /// Seconds between console status lines; 0 turns them off.
    public var statusInterval = 5.0
    /// Publish indicators back as retained messages on `city/{city}/indicators/{code}`.
    public var publishIndicators = true

    public init() {}

    public func city(_ id: String) -> CityFacts? { cities.first { $0.id == id } }

    /// Reads a gateway configuration; errors name the file, the field and what is allowed.
    public init(contentsOf path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw GatewayError.config("\(path): cannot read the file; check the path")
        }
        try self.init(yaml: text, file: path)
    }

    public init(yaml: String, file: String) throws {
        self.init()
        let root: Any?
        do { root = try Yams.load(yaml: yaml) } catch {
            throw GatewayError.config("\(file): not valid YAML: \(error)")
        }
        guard let map = root as? [String: Any] else { throw GatewayError.config("\(file): expected a mapping of settings at the top") }
        let known = ["window", "lateness", "max-skew", "max-payload", "cities", "store", "journal", "client-id", "subscription",
                     "http-port", "http-host", "flush-interval", "checkpoint-interval", "status-interval", "publish-indicators"]
        try Self.checkKeys(map, known, file: file, at: "")
        func seconds(_ key: String) throws -> Int64? {
            guard let v = map[key] else { return nil }
            if let n = v as? Int { return Int64(n) }
            if let s = v as? String, let d = Durations.parse(s) { return d }
            throw GatewayError.config("\(file): \(key): expected seconds or a duration such as 15m, got '\(v)'")
        }
        if let w = try seconds("window") {
            guard w > 0, 3600 % w == 0 else { throw GatewayError.config("\(file): window: \(w) s does not divide an hour; use 1m, 5m, 10m, 15m, 30m or 1h") }
            window = w
        }
        if let l = try seconds("lateness") { lateness = l }
        if let s = try seconds("max-skew") { maxSkew = s }
        if let v = map["max-payload"] { maxPayload = try Self.int(v, "max-payload", file) }
        if let v = map["store"] { store = "\(v)" }
        if let v = map["journal"] { journal = "\(v)" }
        if let v = map["client-id"] { clientID = "\(v)" }
        if let v = map["subscription"] { subscription = "\(v)" }
        if let v = map["http-host"] { httpHost = "\(v)" }
        if let v = map["http-port"] { httpPort = v is NSNull ? nil : try Self.int(v, "http-port", file) }
        if let v = map["flush-interval"] { flushInterval = try Self.double(v, "flush-interval", file) }
        if let v = map["checkpoint-interval"] { checkpointInterval = try Self.double(v, "checkpoint-interval", file) }
        if let v = map["status-interval"] { statusInterval = try Self.double(v, "status-interval", file) }
        if let v = map["publish-indicators"] {
            guard let b = v as? Bool else { throw GatewayError.config("\(file): publish-indicators: expected true or false") }
            publishIndicators = b
        }
        if let list = map["cities"] {
            guard let list = list as? [[String: Any]] else { throw GatewayError.config("\(file): cities: expected a list of cities") }
            for (i, c) in list.enumerated() {
                let at = "cities[\(i)]"
                try Self.checkKeys(c, ["id", "name", "utc-offset", "population", "area-km2", "lit-street-km", "major-street-km",
                                       "water-network-km", "devices", "km-per-traffic-counter", "km-per-network-sensor"], file: file, at: at + ".")
                guard let id = c["id"] as? String else { throw GatewayError.config("\(file): \(at).id: every city needs an id") }
                func number(_ key: String, _ fallback: Double? = nil) throws -> Double {
                    guard let v = c[key] else {
                        if let fallback { return fallback }
                        throw GatewayError.config("\(file): \(at).\(key): missing; the indicators need it")
                    }
                    return try Self.double(v, "\(at).\(key)", file)
                }
                var devices: [Domain: Int] = [:]
                if let d = c["devices"] {
                    guard let d = d as? [String: Any] else { throw GatewayError.config("\(file): \(at).devices: expected domain: count") }
                    for (k, v) in d {
                        guard let domain = Domain(rawValue: k) else {
                            throw GatewayError.config("\(file): \(at).devices.\(k): unknown domain; use one of \(Domain.allCases.map(\.rawValue).joined(separator: ", "))")
                        }
                        devices[domain] = try Self.int(v, "\(at).devices.\(k)", file)
                    }
                }
                cities.append(CityFacts(id: id, name: c["name"] as? String, utcOffset: try number("utc-offset", 0),
                                        population: try number("population"), areaKm2: try number("area-km2"),
                                        litStreetKm: try number("lit-street-km", 0), majorStreetKm: try number("major-street-km", 0),
                                        waterNetworkKm: try number("water-network-km", 0), devices: devices,
                                        kmPerTrafficCounter: try number("km-per-traffic-counter", 1),
                                        kmPerNetworkSensor: try number("km-per-network-sensor", 10)))
            }
        }
    }

    private static func checkKeys(_ map: [String: Any], _ known: [String], file: String, at: String) throws {
        for key in map.keys.sorted() where !known.contains(key) {
            throw GatewayError.config("\(file): \(at)\(key): unknown setting; allowed: \(known.joined(separator: ", "))")
        }
    }

    private static func int(_ v: Any, _ key: String, _ file: String) throws -> Int {
        guard let n = v as? Int else { throw GatewayError.config("\(file): \(key): expected a whole number, got '\(v)'") }
        return n
    }

    private static func double(_ v: Any, _ key: String, _ file: String) throws -> Double {
        if let n = v as? Double, n.isFinite { return n }
        if let n = v as? Int { return Double(n) }
        throw GatewayError.config("\(file): \(key): expected a number, got '\(v)'")
    }
}

public enum GatewayError: Error, CustomStringConvertible {
    case config(String)
    case store(String)
    case journal(String)
    case state(String)

    public var description: String {
        switch self {
        case .config(let s), .store(let s), .journal(let s), .state(let s): s
        }
    }
}
