/// One attribute of a family's messages, as the wire contract defines it: name, value kind,
/// unit, physical range, the values a text may take, when it means a fault, where a meter
/// rolls over, how many decimals devices send and whether a sensor measures it. The
/// simulator's devices write by it and the gateway validates by it.
public struct AttributeSchema: Sendable {
    public enum Kind: String, Sendable {
        /// `v`: a measurement, aggregated as a gauge.
        case number
        /// `s`: a cumulative meter; windows get per-device increments.
        case sum
        /// `vb`: aggregated as the share of true.
        case bool
        /// `vs`: one of `allowed`; not aggregated, but may mark the device as faulty.
        case string

        /// What a record of this kind must carry, for error messages.
        public var expected: String {
            switch self {
            case .number: "a number (v)"
            case .sum: "a cumulative sum (s)"
            case .bool: "true or false (vb)"
            case .string: "a string (vs)"
            }
        }
    }
    public var name: String
    public var kind: Kind
    public var unit: String?
    public var range: ClosedRange<Double>
    public var allowed: [String]
    /// String values that put the device in fault.
    public var faultValues: [String]
    /// Numbers below this put the device in fault (battery levels).
    public var faultBelow: Double?
    /// Where a cumulative meter wraps to zero (a five-digit counter), if it does.
    public var rollover: Double?
    /// Decimals of numbers and sums as devices send them.
    public var decimals: Int
    /// True when a sensor measures it, so sensor faults (stuck, drifting, spiking) act on it;
    /// false for states and settings the device reports (power state, lamp type, battery).
    public var sensed: Bool

    public init(_ name: String, _ kind: Kind, unit: String? = nil, range: ClosedRange<Double> = -1e12...1e12,
                allowed: [String] = [], faultValues: [String] = [], faultBelow: Double? = nil, rollover: Double? = nil,
                decimals: Int = 0, sensed: Bool? = nil) {
        self.name = name
        self.kind = kind
        self.unit = unit
        self.range = range
        self.allowed = allowed
        self.faultValues = faultValues
        self.faultBelow = faultBelow
        self.rollover = rollover
        self.decimals = decimals
        self.sensed = sensed ?? (kind == .number || kind == .sum)
    }
}

/// One device family: its NGSI-LD entity type, domain, device code and attributes in the
/// order devices write them.
public struct EntitySchema: Sendable {
    public var type: String
    public var domain: Domain
    /// The device-code in device identifiers (`sl` in `alm-sl-000042`).
    public var deviceCode: String
    public var attributes: [AttributeSchema]

    public init(type: String, domain: Domain, deviceCode: String, attributes: [AttributeSchema]) {
        self.type = type
        self.domain = domain
        self.deviceCode = deviceCode
        self.attributes = attributes
    }

    public func attribute(named name: String) -> AttributeSchema? { attributes.first { $0.name == name } }
}

/// The wire contract of the telemetry payloads: every family's schema, and a dense numbering
/// of (entity type, attribute) pairs that the aggregation uses as its series attribute. The
/// topic layout is `TopicScheme`, the records besides the attributes `Envelope`.
public struct TelemetrySchema: Sendable {
    public let entities: [EntitySchema]
    /// First global attribute id of each entity.
    public let attributeBase: [Int]
    public let attributeCount: Int

    public init(entities: [EntitySchema]) {
        self.entities = entities
        var base: [Int] = []
        var n = 0
        for e in entities {
            base.append(n)
            n += e.attributes.count
        }
        attributeBase = base
        attributeCount = n
    }

    /// The families and their attributes in order, which number the aggregation's series:
    /// `Type(attr,attr);Type(...)`.
    public var fingerprint: String {
        entities.map { "\($0.type)(\($0.attributes.map(\.name).joined(separator: ",")))" }.joined(separator: ";")
    }

    /// This schema with more families after its own.
    public func adding(_ more: [EntitySchema]) -> TelemetrySchema {
        more.isEmpty ? self : TelemetrySchema(entities: entities + more)
    }

    public func entity(named type: String) -> Int? { entities.firstIndex { $0.type == type } }

    /// The family of an entity type this schema defines (a programming error otherwise).
    public func family(_ type: String) -> EntitySchema {
        guard let e = entity(named: type) else { preconditionFailure("\(type) is not in the telemetry schema") }
        return entities[e]
    }

    /// Global attribute id of `name` in `entity`.
    public func attributeID(entity: String, name: String) -> Int? {
        guard let e = self.entity(named: entity), let a = entities[e].attributes.firstIndex(where: { $0.name == name }) else { return nil }
        return attributeBase[e] + a
    }

    public func attribute(_ id: Int) -> (entity: EntitySchema, attribute: AttributeSchema) {
        var e = entities.count - 1
        while attributeBase[e] > id { e -= 1 }
        return (entities[e], entities[e].attributes[id - attributeBase[e]])
    }

    /// The schema of the five families the simulator and the Smart Data Models define.
    /// Ranges are physical limits (a spiking sensor stays inside them; a corrupt one does not).
    public static let standard = TelemetrySchema(entities: [
        EntitySchema(type: "TrafficFlowObserved", domain: .mobility, deviceCode: "tf", attributes: [
            AttributeSchema("intensity", .number, unit: "count", range: 0...100_000, decimals: 0),
            AttributeSchema("occupancy", .number, unit: "/", range: 0...1, decimals: 3),
            AttributeSchema("averageVehicleSpeed", .number, unit: "km/h", range: 0...400, decimals: 1),
            AttributeSchema("congested", .bool),
            AttributeSchema("laneCount", .number, unit: "count", range: 0...32, decimals: 0, sensed: false),
        ]),
        EntitySchema(type: "Streetlight", domain: .lighting, deviceCode: "sl", attributes: [
            AttributeSchema("powerState", .bool),
            AttributeSchema("illuminanceLevel", .number, unit: "/", range: 0...1, decimals: 2, sensed: false),
            AttributeSchema("powerConsumption", .number, unit: "W", range: 0...10_000, decimals: 1),
            AttributeSchema("energy", .sum, unit: "kWh", range: 0...1e9, decimals: 3),
            AttributeSchema("status", .string, allowed: ["ok", "defectiveLamp", "columnIssue", "brokenConnector", "burningAtDaylight"],
                            faultValues: ["defectiveLamp", "columnIssue", "brokenConnector", "burningAtDaylight"]),
            AttributeSchema("lampType", .string, allowed: ["LED", "HPS", "LPS", "MH", "CFL", "incandescent"]),
        ]),
        EntitySchema(type: "WasteContainer", domain: .waste, deviceCode: "wc", attributes: [
            AttributeSchema("fillingLevel", .number, unit: "/", range: 0...1, decimals: 3),
            AttributeSchema("cargoWeight", .number, unit: "kg", range: 0...50_000, decimals: 1),
            AttributeSchema("temperature", .number, unit: "Cel", range: -80...1_500, decimals: 1),
            AttributeSchema("status", .string, allowed: ["ok", "lidOpen", "burning", "dropped"], faultValues: ["burning", "dropped"]),
            AttributeSchema("dateLastEmptying", .number, unit: "s", range: 0...1e11, decimals: 0, sensed: false),
            AttributeSchema("batteryLevel", .number, unit: "/", range: 0...1, faultBelow: 0.1, decimals: 3, sensed: false),
        ]),
        EntitySchema(type: "WaterConsumptionObserved", domain: .water, deviceCode: "wm", attributes: [
            AttributeSchema("waterConsumption", .sum, unit: "m3", range: 0...1e12, rollover: 100_000, decimals: 3),
            AttributeSchema("flow", .number, unit: "m3/h", range: 0...100_000, decimals: 3),
            AttributeSchema("batteryLevel", .number, unit: "/", range: 0...1, faultBelow: 0.1, decimals: 3, sensed: false),
        ]),
        EntitySchema(type: "WaterObserved", domain: .water, deviceCode: "wn", attributes: [
            AttributeSchema("inflow", .sum, unit: "m3", range: 0...1e12, decimals: 3),
            AttributeSchema("flow", .number, unit: "m3/h", range: 0...1e6, decimals: 2),
            AttributeSchema("pressure", .number, unit: "Pa", range: 0...5e6, decimals: 0),
            AttributeSchema("leakAlarm", .bool),
        ]),
        EntitySchema(type: "AirQualityObserved", domain: .environment, deviceCode: "aq", attributes: [
            AttributeSchema("pm25", .number, unit: "ug/m3", range: 0...10_000, decimals: 1),
            AttributeSchema("pm10", .number, unit: "ug/m3", range: 0...20_000, decimals: 1),
            AttributeSchema("no2", .number, unit: "ug/m3", range: 0...10_000, decimals: 1),
            AttributeSchema("o3", .number, unit: "ug/m3", range: 0...10_000, decimals: 1),
            AttributeSchema("co", .number, unit: "mg/m3", range: 0...1_000, decimals: 2),
            AttributeSchema("temperature", .number, unit: "Cel", range: -90...70, decimals: 1),
            AttributeSchema("relativeHumidity", .number, unit: "/", range: 0...1, decimals: 2),
            AttributeSchema("atmosphericPressure", .number, unit: "hPa", range: 300...1_100, decimals: 1),
        ]),
    ])
}

extension AttributeSchema {
    /// The SenML units (the IANA registry of RFC 8428 and RFC 8798, with the secondary units)
    /// an attribute may carry, and those the built-in families use.
    public static let senmlUnits: Set<String> = [
        "m", "kg", "g", "s", "A", "K", "cd", "mol", "Hz", "rad", "sr", "N", "Pa", "J", "W", "C", "V", "F", "Ohm", "S", "Wb",
        "T", "H", "Cel", "lm", "lx", "Bq", "Gy", "Sv", "kat", "m2", "m3", "l", "m/s", "m/s2", "m3/s", "l/s", "W/m2",
        "cd/m2", "bit", "bit/s", "lat", "lon", "pH", "dB", "dBW", "Bspl", "count", "/", "%", "%RH", "%EL", "EL", "1/s",
        "1/min", "beat/min", "beats", "S/m", "B", "VA", "VAs", "var", "vars", "J/m", "kg/m3", "deg", "NTU",
        "ms", "min", "h", "MHz", "kW", "kVA", "kvar", "Ah", "Wh", "kWh", "varh", "kvarh", "kVAh", "Wh/km", "KiB", "GB",
        "Mbit/s", "B/s", "MB/s", "mV", "mA", "dBm", "ug/m3", "mm/h", "m/h", "ppm", "/100", "/1000", "hPa", "mm", "cm",
        "km", "km/h", "mg/m3", "m3/h",
    ]
}
