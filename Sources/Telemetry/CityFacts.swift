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
    /// Connected devices per domain (the share of them reporting is telemetry health); 0 = use
    /// the devices seen.
    public var devices: [Domain: Int]
    /// The city's assets per domain, connected or not (poles, containers, meters, counting and
    /// air stations): ISO 37122's equipped, managed and monitored shares are measured against
    /// them, and totals of the whole city are extrapolated from the reporting devices to them.
    public var inventory: [Domain: Int]
    /// Length of major street one traffic counter monitors (km).
    public var kmPerTrafficCounter: Double
    /// Length of distribution network one network sensor monitors (km).
    public var kmPerNetworkSensor: Double
    /// The city's districts: readings from any other are refused. Empty: not listed (a city of
    /// real devices whose registry names them, or an open fleet).
    public var districts: [String]
    /// Where the city lies (degrees), when known: the gateway works out from it when street
    /// lamps must burn (a dark lamp after dusk is a failed lamp).
    public var latitude: Double?
    public var longitude: Double?
    /// The assets of each scenario-defined device type (by entity type), connected or not;
    /// they are not part of their domain's `inventory`, which the built-in indicators read.
    public var entityInventory: [String: Int]
    /// The connected devices of each device type (by entity type, built-in and
    /// scenario-defined): a city total is scaled to them from the devices reporting when the
    /// inventory is not known.
    public var entityDevices: [String: Int]

    public init(id: String, name: String? = nil, utcOffset: Double = 0, population: Double, areaKm2: Double,
                litStreetKm: Double = 0, majorStreetKm: Double = 0, waterNetworkKm: Double = 0,
                devices: [Domain: Int] = [:], inventory: [Domain: Int] = [:], kmPerTrafficCounter: Double = 0.2,
                kmPerNetworkSensor: Double = 10, districts: [String] = [],
                latitude: Double? = nil, longitude: Double? = nil, entityInventory: [String: Int] = [:],
                entityDevices: [String: Int] = [:]) {
        self.entityInventory = entityInventory
        self.entityDevices = entityDevices
        self.latitude = latitude
        self.longitude = longitude
        self.id = id
        self.name = name ?? id
        self.utcOffset = utcOffset
        self.population = population
        self.areaKm2 = areaKm2
        self.litStreetKm = litStreetKm
        self.majorStreetKm = majorStreetKm
        self.waterNetworkKm = waterNetworkKm
        self.devices = devices
        self.inventory = inventory
        self.kmPerTrafficCounter = kmPerTrafficCounter
        self.kmPerNetworkSensor = kmPerNetworkSensor
        self.districts = districts
    }
}
