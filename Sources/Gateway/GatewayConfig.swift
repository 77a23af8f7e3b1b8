import Foundation
import Telemetry
import YAMLReader
import Yams

/// The gateway's settings; `Config/gateway.yaml` documents every field.
public struct GatewayConfig: Sendable {
    /// Base window length in seconds (divides an hour); hourly and daily roll-ups follow.
    public var window: Int64 = 900
    /// How far behind the newest event time a reading may be and still correct its window.
    public var lateness: Int64 = 900
    /// Readings further ahead of a city's clock than this are rejected: the time a quorum of
    /// its devices reached, plus the wall time since the gateway saw it get there.
    public var maxSkew: Int64 = 3600
    /// How many devices of a city must reach an event time before the city's windows close
    /// there (1 to 8): one device with a clock far ahead cannot close them for everyone.
    public var watermarkQuorum = 3
    /// Larger payloads are rejected unread.
    public var maxPayload = 65_536
    public var cities: [CityFacts] = []
    /// The families the gateway admits: the built-in ones and a scenario's own device types.
    public var schema = TelemetrySchema.standard
    /// Indicators a scenario defines, computed beside the built-in ones.
    public var indicators: [IndicatorSpec] = []
    /// Payload formats by topic filter (`payload-formats`): the first filter a topic matches
    /// names its format; SenML where none does.
    public var payloadFormats: [PayloadFormatRule] = []
    /// Topic layouts besides the city scheme (`topic-mappings`), also subscribed to.
    public var topicMappings: [TopicMapping] = []
    /// The devices admitted: a scenario's fleets and the registry file's devices. Readings
    /// from a city not in `cities`, a district the city does not list or a device not here are
    /// refused, unless `acceptUnknownDevices` (then at most `maxUnknownDevices` of them).
    public var roster = DeviceRoster()
    /// The registry file the roster was read from (`device-registry`), for messages.
    public var rosterFile: String?
    /// The detectors' thresholds.
    public var detectors = DetectorSettings()
    public var acceptUnknownDevices = false
    public var maxUnknownDevices = 10_000
    public var store = "gateway.sqlite"
    /// Directory of the journal of accepted messages (default: next to the store).
    public var journal: String?
    public var clientID = "smartcity-gateway"
    public var subscription = TopicScheme.filter()
    /// HTTP port for /metrics, /health and the API; 0 picks a free one, nil turns it off.
    public var httpPort: Int? = 9464
    public var httpHost = "127.0.0.1"
    /// Open HTTP connections at most, and seconds after which an idle one is closed.
    public var httpMaxConnections = 256
    public var httpIdleTimeout = 30.0
    /// Seconds a request (head and body) may take to arrive once its first byte came.
    public var httpRequestTimeout = 10.0
    /// Seconds between store flushes (windows, indicators, dead letters).
    public var flushInterval = 1.0
    /// Seconds between full checkpoints of the aggregation state.
    public var checkpointInterval = 10.0
    /// Seconds between console status lines; 0 turns them off.
    public var statusInterval = 5.0
    /// Publish indicators back as retained messages on `city/{city}/indicators/{code}`.
    public var publishIndicators = true
    /// This instance's share of the cities when several gateways split them (`partition: 2/3`):
    /// it subscribes to its districts only and the city-wide indicators are merged in the
    /// shared store (`Partition`, `IndicatorMerger`). Nil: one gateway takes everything.
    public var partition: Partition?
    /// Seconds after its last report that a partition's instance counts as gone: its partition
    /// may be taken by another instance, and the merge stops waiting for it.
    public var partitionLease = 10.0

    public init() {}

    public func city(_ id: String) -> CityFacts? { cities.first { $0.id == id } }

    /// Whether `store` names a PostgreSQL server (`postgres://...`) rather than a SQLite file.
    public var storeIsServer: Bool { store.hasPrefix("postgres://") || store.hasPrefix("postgresql://") }

    /// The journal's directory: `journal`, else beside a SQLite store, else `gateway.journal`
    /// in the working directory (a server store is shared; the journal is this instance's).
    /// A partition's default journal is its own (`gateway-p2of3.journal`).
    public var journalPath: String {
        journal ?? (storeIsServer ? (partition.map { "gateway-\($0.tag).journal" } ?? "gateway.journal") : store + ".journal")
    }

    /// The topic filters the gateway subscribes to: its partition's districts, or the whole
    /// city scheme (`subscription`); and the topic mappings' layouts.
    public var subscriptions: [String] {
        if let partition { return partition.filters(cities: cities) }
        return [subscription] + topicMappings.map(\.filter)
    }

    /// Why the partition cannot be run with these settings, or nil.
    public var partitionProblem: String? {
        partition?.problem(cities: cities, topicMappings: topicMappings, storeIsServer: storeIsServer)
    }

    /// Every indicator this gateway computes: the catalogue for its families, then the
    /// scenario's own.
    public func indicatorDefinitions() throws(Formula.Problem) -> [IndicatorDefinition] {
        var all = IndicatorCatalog.all(schema: schema)
        for spec in indicators { all.append(try IndicatorDefinition(spec, schema: schema)) }
        return all
    }

    /// Reads a gateway configuration; errors name the file, line, column and field and say
    /// what is allowed (`ConfigError`).
    public init(contentsOf path: String) throws(ConfigError) {
        try self.init(root: YAMLField.document(contentsOf: path, what: "gateway configuration"))
    }

    public init(yaml: String, file: String) throws(ConfigError) {
        try self.init(root: YAMLField.document(yaml: yaml, file: file, empty: "the file is empty; see Config/gateway.yaml"))
    }

    private init(root: YAMLField) throws(ConfigError) {
        self.init()
        let top = try root.mapping(allowed: [
            "window", "lateness", "max-skew", "watermark-quorum", "max-payload", "cities", "store", "journal", "client-id", "subscription",
            "http-port", "http-host", "http-max-connections", "http-idle-timeout", "http-request-timeout", "flush-interval", "checkpoint-interval", "status-interval", "publish-indicators",
            "device-registry", "accept-unknown-devices", "max-unknown-devices", "detectors", "payload-formats", "topic-mappings",
            "partition", "partition-lease",
        ])
        if let field = top["partition"] {
            guard let p = Partition(parsing: try field.string()) else { throw field.error(Partition.problem) }
            partition = p
        }
        if let field = top["partition-lease"] { partitionLease = Double(try field.duration()) }
        for field in try top["payload-formats"]?.list() ?? [] {
            let m = try field.mapping(allowed: ["topics", "format"])
            let filterField = try m.required("topics")
            let filter = try filterField.string()
            let levels = filter.split(separator: "/", omittingEmptySubsequences: false)
            guard !filter.isEmpty, levels.dropLast().allSatisfy({ $0 != "#" }),
                  levels.allSatisfy({ $0 == "+" || $0 == "#" || (!$0.contains("+") && !$0.contains("#")) }) else {
                throw filterField.error("'\(filter)' is not an MQTT topic filter; write levels with + for one level and a final # for the rest, e.g. city/+/mobility/#")
            }
            let formatField = try m.required("format")
            var formats: [PayloadFormat] = []
            if case .sequence(_) = formatField.node {
                for item in try formatField.list() { formats.append(try item.choice(PayloadFormat.self)) }
            } else {
                formats = [try formatField.choice(PayloadFormat.self)]
            }
            guard !formats.isEmpty else { throw formatField.error("name at least one format: senml, json, ngsi-ld") }
            payloadFormats.append(PayloadFormatRule(filter: filter, formats: formats))
        }
        for field in try top["topic-mappings"]?.list() ?? [] {
            let m = try field.mapping(allowed: ["pattern", "kind"])
            let patternField = try m.required("pattern")
            let kind: TopicScheme.Kind
            switch try m["kind"]?.string() ?? "attrs" {
            case "attrs": kind = .attributes
            case "status": kind = .status
            case let other: throw try m.required("kind").error("'\(other)' is not a kind; write attrs (readings) or status (online/offline)")
            }
            let pattern = try patternField.string()
            do { topicMappings.append(try TopicMapping(pattern: pattern, kind: kind)) } catch {
                throw patternField.error(error.description)
            }
        }
        if let field = top["detectors"] { detectors = try DetectorSettings(field) }
        if let field = top["window"] {
            let w = try field.duration()
            guard 3600 % w == 0 else { throw field.error("\(w) s does not divide an hour; use 1m, 5m, 10m, 15m, 30m or 1h") }
            window = w
        }
        if let field = top["lateness"] { lateness = try field.duration(minimum: 0) }
        if let field = top["max-skew"] { maxSkew = try field.duration() }
        if let field = top["watermark-quorum"] { watermarkQuorum = try field.int(in: 1...8) }
        if let field = top["max-payload"] { maxPayload = try field.int(in: 64...(16 << 20)) }
        if let field = top["store"] { store = try field.string() }
        if let field = top["journal"] { journal = try field.string() }
        if let field = top["client-id"] { clientID = try field.string() }
        if let field = top["subscription"] { subscription = try field.string() }
        if let field = top["http-host"] { httpHost = try field.string() }
        if let field = top["http-max-connections"] { httpMaxConnections = try field.int(in: 1...100_000) }
        if let field = top["http-idle-timeout"] { httpIdleTimeout = Double(try field.duration()) }
        if let field = top["http-request-timeout"] { httpRequestTimeout = Double(try field.duration()) }
        if let field = top["http-port"] { httpPort = field.isNull ? nil : try field.int(in: 0...65535) }
        if let field = top["flush-interval"] { flushInterval = try field.double(in: 0.01...3600) }
        if let field = top["checkpoint-interval"] { checkpointInterval = try field.double(in: 0.1...86_400) }
        if let field = top["status-interval"] { statusInterval = try field.double(in: 0...86_400) }
        if let field = top["publish-indicators"] { publishIndicators = try field.bool() }
        if let field = top["accept-unknown-devices"] { acceptUnknownDevices = try field.bool() }
        if let field = top["max-unknown-devices"] { maxUnknownDevices = try field.int(in: 0...10_000_000) }
        if let field = top["device-registry"] {
            let path = try field.string()
            guard let data = FileManager.default.contents(atPath: path) else {
                throw field.error("cannot read the device registry '\(path)'; give a CSV file with the header city,domain,district,device")
            }
            do { roster = try DeviceRoster(csv: String(decoding: data, as: UTF8.self), file: path) } catch {
                throw field.error(error.description)
            }
            rosterFile = path
        }
        for field in try top["cities"]?.list() ?? [] {
            let c = try field.mapping(allowed: ["id", "name", "utc-offset", "population", "area-km2", "lit-street-km", "major-street-km",
                                                "water-network-km", "devices", "inventory", "km-per-traffic-counter", "km-per-network-sensor", "districts",
                                                "latitude", "longitude"])
            func number(_ key: String, _ fallback: Double? = nil) throws(ConfigError) -> Double {
                guard let value = c[key] else {
                    if let fallback { return fallback }
                    throw field.error("the field '\(key)' is missing; the indicators need it")
                }
                return try value.double()
            }
            func perDomain(_ key: String) throws(ConfigError) -> [Domain: Int] {
                var out: [Domain: Int] = [:]
                guard let d = c[key] else { return out }
                let byDomain = try d.mapping(allowed: Domain.allCases.map(\.rawValue))
                for (name, count) in byDomain.entries { out[Domain(rawValue: name)!] = try count.int(in: 0...Int(Int32.max)) }
                return out
            }
            let devices = try perDomain("devices"), inventory = try perDomain("inventory")
            for (domain, n) in devices {
                if let assets = inventory[domain], assets < n, let at = try c["inventory"]?.mapping(allowed: Domain.allCases.map(\.rawValue))[domain.rawValue] {
                    throw at.error("the inventory of \(domain.rawValue) (\(assets)) is smaller than its connected devices (\(n)); the inventory counts every asset, connected or not")
                }
            }
            cities.append(CityFacts(id: try c.required("id").identifier(), name: try c["name"]?.string(), utcOffset: try number("utc-offset", 0),
                                    population: try number("population"), areaKm2: try number("area-km2"),
                                    litStreetKm: try number("lit-street-km", 0), majorStreetKm: try number("major-street-km", 0),
                                    waterNetworkKm: try number("water-network-km", 0), devices: devices, inventory: inventory,
                                    kmPerTrafficCounter: try number("km-per-traffic-counter", 0.2),
                                    kmPerNetworkSensor: try number("km-per-network-sensor", 10),
                                    districts: try (c["districts"]?.list() ?? []).map { field throws(ConfigError) in
                                        let d = try field.string()
                                        guard TopicScheme.isLevel(d) else { throw field.error("'\(d)' cannot be a topic level; a district id has no '/', '+' or '#'") }
                                        return d
                                    },
                                    latitude: try c["latitude"]?.double(in: -90...90), longitude: try c["longitude"]?.double(in: -180...180)))
        }
    }
}

public enum GatewayError: Error, CustomStringConvertible {
    case store(String)
    case journal(String)
    case state(String)
    /// A partition that cannot be taken, or a merge that cannot be made.
    case partition(String)

    public var description: String {
        switch self {
        case .store(let s), .journal(let s), .state(let s), .partition(let s): s
        }
    }
}
