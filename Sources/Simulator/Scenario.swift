import Telemetry

/// A simulation run: which cities, which devices, which faults, when and how fast.
/// Loaded from `Scenarios/*.yaml` by `Scenario(contentsOf:)`; every field is documented in
/// README.md ("Scenario format").
public struct Scenario: Sendable {
    public var name: String
    public var seed: UInt64
    /// Simulated start, seconds since 1970 (UTC).
    public var start: Int64
    /// Simulated length in seconds.
    public var duration: Int64
    public var speed: Speed
    public var mqtt: MQTTSettings
    public var cities: [City]
    public var faults: [FaultSpec]
    /// The load profile over the run (`load:`): speed and active share of devices by stage.
    public var load: LoadProfile?
    /// Device families the scenario defines (`device-types:`), besides the built-in ones.
    public var deviceTypes: [DeviceType] = []
    /// Indicators the scenario defines (`indicators:`), besides the gateway's own.
    public var indicators: [IndicatorSpec] = []
    /// FNV-1a 64 of the scenario file's bytes, in hex: names the exact scenario in summaries.
    public var hash: String

    public enum Speed: Sendable, Equatable, CustomStringConvertible {
        /// As fast as the sink accepts.
        case max
        /// This many simulated seconds per wall-clock second.
        case factor(Double)

        public var description: String {
            switch self {
            case .max: "max"
            case .factor(let x): "\(x)x"
            }
        }
    }

    public init(name: String, seed: UInt64, start: Int64, duration: Int64, speed: Speed = .max,
                mqtt: MQTTSettings = MQTTSettings(), cities: [City], faults: [FaultSpec] = [], hash: String = "") {
        self.name = name
        self.seed = seed
        self.start = start
        self.duration = duration
        self.speed = speed
        self.mqtt = mqtt
        self.cities = cities
        self.faults = faults
        self.hash = hash
    }
}

public enum ConnectionMode: String, Sendable, CaseIterable {
    /// One MQTT connection per device, each with its own last will.
    case device
    /// Devices behind a concentrator (district gateway, lighting cabinet): one connection per group.
    case concentrator
}

public struct District: Sendable, Equatable {
    public var id: String
    public var name: String
    /// Share of the city's devices (normalised over the districts).
    public var share: Double
    public init(id: String, name: String, share: Double) {
        self.id = id
        self.name = name
        self.share = share
    }
}

/// Static attributes of a city that no sensor measures; they feed the index's non-telemetry pillars.
public struct CityProfile: Sendable {
    public var smes: Double?
    public var hospitalVisits: Double?
    public var schoolchildren: Double?
    public var broadbandCoverage: Double?
    public var mobile4GCoverage: Double?
    public var g20Policies: [String] = []
    public var sdgGovernance: [String] = []
    public init() {}

    public static let g20PolicyNames = ["privacy", "broadband", "cybersecurity", "open-data", "accessibility"]
    public static let governanceSteps = ["monitors-sdg", "assesses-lagging-areas", "designated-department",
                                         "high-level-support", "voluntary-local-review", "recognised-leader"]
}

/// The climate the air-quality and water models follow.
public struct Climate: Sendable {
    /// Background PM2.5 in January and July (ug/m3): the monthly mean the stations would read
    /// without heating smog and inversions, which come on top of it from the simulated weather.
    public var pm25January = 60.0
    public var pm25July = 15.0
    /// Mean air temperature in January and July (Celsius).
    public var temperatureJanuary = -5.0
    public var temperatureJuly = 25.0
    /// Mean station pressure (hPa); lower at altitude.
    public var pressure = 1013.0
    /// Strength of winter heating smog in the evening and night (0 = none, 1 = Almaty).
    public var heatingSmog = 1.0
    /// Chance that a winter day has a temperature inversion trapping pollution.
    public var inversionChance = 0.3
    public init() {}
}

public struct City: Sendable {
    public var id: String
    public var name: String
    /// Prefix of device identifiers (`alm` in `alm-sl-000042`).
    public var code: String
    /// True when the figures are made up for the simulation rather than taken from a source.
    public var synthetic: Bool
    public var latitude: Double
    public var longitude: Double
    /// Local time offset from UTC in hours (no daylight saving).
    public var utcOffset: Double
    public var population: Double
    public var areaKm2: Double
    public var roadKm: Double
    public var majorStreetKm: Double
    public var litStreetKm: Double
    public var waterNetworkKm: Double
    public var vehicles: Double
    public var profile = CityProfile()
    public var climate = Climate()
    public var districts: [District]
    public var fleets: Fleets

    public init(id: String, name: String, code: String, synthetic: Bool = true, latitude: Double, longitude: Double,
                utcOffset: Double, population: Double, areaKm2: Double, roadKm: Double, majorStreetKm: Double,
                litStreetKm: Double, waterNetworkKm: Double, vehicles: Double, districts: [District], fleets: Fleets) {
        self.id = id
        self.name = name
        self.code = code
        self.synthetic = synthetic
        self.latitude = latitude
        self.longitude = longitude
        self.utcOffset = utcOffset
        self.population = population
        self.areaKm2 = areaKm2
        self.roadKm = roadKm
        self.majorStreetKm = majorStreetKm
        self.litStreetKm = litStreetKm
        self.waterNetworkKm = waterNetworkKm
        self.vehicles = vehicles
        self.districts = districts
        self.fleets = fleets
    }
}

/// What every fleet has: how many devices, how often they report, how they connect.
public struct FleetSettings: Sendable {
    public var count: Int
    /// Seconds between reports.
    public var interval: Int64
    public var connection: ConnectionMode
    /// Devices per concentrator; 0 means one concentrator per district.
    public var perConnection: Int
    /// The city's assets of this family, connected or not (poles, containers, meters, counting
    /// and air stations): the shares of ISO 37122 are measured against it. Nil: not known, and
    /// the shares that need it are not computed.
    public var inventory: Int?
    /// Fields of this fleet that are assumptions rather than sourced facts (`connected-share`,
    /// `inventory`, ...), as the scenario marks them.
    public var synthetic: [String] = []
    /// The payload format the devices write.
    public var payload = PayloadFormat.senml
    public init(count: Int, interval: Int64, connection: ConnectionMode = .concentrator, perConnection: Int = 0, inventory: Int? = nil) {
        self.count = count
        self.interval = interval
        self.connection = connection
        self.perConnection = perConnection
        self.inventory = inventory
    }

    /// Share of the inventory that is connected (and simulated), when the inventory is known.
    public var connectedShare: Double? { inventory.map { $0 > 0 ? Double(count) / Double($0) : 0 } }
}

public struct Fleets: Sendable {
    public struct Traffic: Sendable {
        public var fleet: FleetSettings
        /// Incidents per counter per day (each congests its segment for 20-90 minutes).
        public var incidentsPerDay = 0.05
        /// Length of major street one counting station monitors (km).
        public var kmPerStation = 0.2
        public init(fleet: FleetSettings) { self.fleet = fleet }
    }
    public struct Lighting: Sendable {
        public var fleet: FleetSettings
        /// Share of LED lamps; the rest are high-pressure sodium.
        public var ledShare = 0.5
        /// Sun elevation (degrees) below which the lights are on.
        public var switchElevation = -3.0
        /// Local hours between which lights burn dimmed, and at what level.
        public var dimFrom = 23.0
        public var dimTo = 5.0
        public var dimLevel = 0.5
        /// Lamp failures per lamp per 1,000 burning hours (LED; sodium lamps fail twice as often).
        public var failuresPer1000h = 0.02
        public init(fleet: FleetSettings) { self.fleet = fleet }
    }
    public struct Waste: Sendable {
        public var fleet: FleetSettings
        /// Mean days for an empty container to fill.
        public var fillDays = 3.0
        public var collectionEveryDays = 2
        /// Local hour the collection rounds start.
        public var collectionHour = 6.0
        public var capacityLitres = 1100.0
        /// Municipal solid waste generated per inhabitant a day (kg); when given, the
        /// containers (the whole inventory) fill at the rate it implies instead of `fillDays`.
        public var kgPerCapitaDay: Double?
        /// How the rounds decide what to empty: every container on its schedule, or, with
        /// fill-level sensors, daily rounds that empty only containers at `collectionThreshold`.
        public var collection = Collection.schedule
        public var collectionThreshold = 0.75
        public enum Collection: String, Sendable, CaseIterable {
            case schedule
            case fillLevel = "fill-level"
        }
        public init(fleet: FleetSettings) { self.fleet = fleet }

        /// Mean days for an empty container to fill, from the generation per inhabitant when
        /// it is given: each container of the inventory takes its share of the city's waste.
        public func daysToFill(population: Double) -> Double {
            guard let kg = kgPerCapitaDay, kg > 0, population > 0 else { return fillDays }
            let containers = Double(max(1, fleet.inventory ?? fleet.count))
            return capacityLitres * WasteDensity.kgPerLitre / (population * kg / containers)
        }
    }
    public struct Water: Sendable {
        /// Building and household meters (cumulative consumption).
        public var fleet: FleetSettings
        /// Network sensors per district: the first meters the district inflow, the others pressure.
        public var networkSensorsPerDistrict = 4
        public var networkInterval: Int64 = 300
        /// Share of the district inflow lost to leaks.
        public var leakage = 0.2
        public var litresPerCapitaDay = 200.0
        /// Pipe bursts per district per year.
        public var burstsPerDistrictYear = 6.0
        /// Length of distribution network one network sensor supervises (km).
        public var kmPerNetworkSensor = 10.0
        public init(fleet: FleetSettings) { self.fleet = fleet }
    }
    public struct Environment: Sendable {
        public var fleet: FleetSettings
        public init(fleet: FleetSettings) { self.fleet = fleet }
    }

    /// A fleet of a device type the scenario defines.
    public struct Defined: Sendable {
        public var type: DeviceType
        public var fleet: FleetSettings
    }

    public var traffic: Traffic?
    public var lighting: Lighting?
    public var waste: Waste?
    public var water: Water?
    public var environment: Environment?
    /// Fleets of the scenario's own device types, in the order of `device-types:`.
    public var defined: [Defined] = []
    public init() {}

    /// The payload format of each family the fleets run, by entity type.
    public var payloads: [(type: String, format: PayloadFormat)] {
        var out: [(String, PayloadFormat)] = []
        if let f = traffic { out.append(("TrafficFlowObserved", f.fleet.payload)) }
        if let f = lighting { out.append(("Streetlight", f.fleet.payload)) }
        if let f = waste { out.append(("WasteContainer", f.fleet.payload)) }
        if let f = water { out += [("WaterConsumptionObserved", f.fleet.payload), ("WaterObserved", f.fleet.payload)] }
        if let f = environment { out.append(("AirQualityObserved", f.fleet.payload)) }
        return out + defined.map { ($0.type.schema.type, $0.fleet.payload) }
    }
}

extension Scenario {
    /// The most devices one scenario may describe, over all its cities and families.
    public static let maximumDevices = 50_000_000
}

extension City {
    /// The assets per domain, connected or not, where the scenario gives an inventory
    /// (water: the meters).
    public var inventory: [Domain: Int] {
        var out: [Domain: Int] = [:]
        if let n = fleets.traffic?.fleet.inventory { out[.mobility] = n }
        if let n = fleets.lighting?.fleet.inventory { out[.lighting] = n }
        if let n = fleets.waste?.fleet.inventory { out[.waste] = n }
        if let n = fleets.water?.fleet.inventory { out[.water] = n }
        if let n = fleets.environment?.fleet.inventory { out[.environment] = n }
        return out
    }

    /// Connected devices per domain (water: meters and network sensors).
    public var installedDevices: [Domain: Int] {
        var devices: [Domain: Int] = [:]
        if let f = fleets.traffic { devices[.mobility] = f.fleet.count }
        if let f = fleets.lighting { devices[.lighting] = f.fleet.count }
        if let f = fleets.waste { devices[.waste] = f.fleet.count }
        if let f = fleets.water { devices[.water] = f.fleet.count + f.networkSensorsPerDistrict * districts.count }
        if let f = fleets.environment { devices[.environment] = f.fleet.count }
        for f in fleets.defined { devices[f.type.schema.domain, default: 0] += f.fleet.count }
        return devices
    }
}

extension City {
    /// The static indicators of the city profile, under the `profile.*` columns the index
    /// definition reads.
    public var profileIndicators: [String: Double] {
        var out: [String: Double] = [:]
        let p = profile
        if let v = p.smes, population > 0 { out["profile.smes_per_1000"] = v / population * 1000 }
        if let v = p.schoolchildren, population > 0 { out["profile.schoolchildren_per_1000"] = v / population * 1000 }
        if let v = p.hospitalVisits, population > 0 { out["profile.hospital_visits_per_capita"] = v / population }
        if let v = p.broadbandCoverage { out["profile.broadband_coverage"] = v * 100 }
        if let v = p.mobile4GCoverage { out["profile.mobile_4g_coverage"] = v * 100 }
        out["profile.g20_policies"] = Double(p.g20Policies.count)
        out["profile.cybersecurity_policy"] = p.g20Policies.contains("cybersecurity") ? 1 : 0
        return out
    }
}

extension City {
    /// What the gateway's indicators divide by: the city's facts, its connected devices and its
    /// inventory, from this one scenario.
    public var facts: CityFacts {
        CityFacts(id: id, name: name, utcOffset: utcOffset, population: population, areaKm2: areaKm2,
                  litStreetKm: litStreetKm, majorStreetKm: majorStreetKm, waterNetworkKm: waterNetworkKm,
                  devices: installedDevices, inventory: inventory,
                  kmPerTrafficCounter: fleets.traffic?.kmPerStation ?? 0.2,
                  kmPerNetworkSensor: fleets.water?.kmPerNetworkSensor ?? 10, districts: districts.map(\.id),
                  latitude: latitude, longitude: longitude,
                  entityInventory: Dictionary(fleets.defined.compactMap { f in f.fleet.inventory.map { (f.type.schema.type, $0) } }) { $0 + $1 },
                  entityDevices: connectedByEntity)
    }

    /// The connected devices of each entity type, built-in and scenario-defined: what a total
    /// of the city is scaled to from the devices reporting when the scenario gives no inventory.
    var connectedByEntity: [String: Int] {
        var out = Dictionary(fleets.defined.map { ($0.type.schema.type, $0.fleet.count) }) { $0 + $1 }
        if let f = fleets.traffic { out["TrafficFlowObserved"] = f.fleet.count }
        if let f = fleets.lighting { out["Streetlight"] = f.fleet.count }
        if let f = fleets.waste { out["WasteContainer"] = f.fleet.count }
        if let f = fleets.water {
            out["WaterConsumptionObserved"] = f.fleet.count
            out["WaterObserved"] = f.networkSensorsPerDistrict * districts.count
        }
        if let f = fleets.environment { out["AirQualityObserved"] = f.fleet.count }
        return out
    }

    /// The devices this city's fleets run, as the gateway admits them: the same ids and
    /// districts the simulator gives them.
    public var roster: DeviceRoster {
        var roster = DeviceRoster()
        // Each fleet's devices, and the concentrators whose last will reports them offline.
        func add(_ domain: Domain, code: String, settings: FleetSettings, count: Int, starts: [Int]? = nil) {
            let starts = starts ?? Generator.districtStarts(self, count: count)
            roster.add(DeviceRoster.NumberedFleet(city: id, domain: domain, prefix: "\(self.code)-\(code)-", digits: FleetRunner.idDigits(count: count),
                                                  districts: districts.map(\.id), starts: starts))
            guard settings.connection == .concentrator else { return }
            for (d, district) in districts.enumerated() {
                let devices = starts[d + 1] - starts[d]
                let groups = settings.perConnection == 0 ? min(1, devices) : (devices + settings.perConnection - 1) / settings.perConnection
                for group in 0..<groups {
                    roster.add(city: id, domain: domain, district: district.id, device: FleetRunner.concentratorName(city: self, code: code, district: district.id, group: group))
                }
            }
        }
        let schema = TelemetrySchema.standard
        func code(_ type: String) -> String { schema.entities.first { $0.type == type }!.deviceCode }
        if let f = fleets.traffic { add(.mobility, code: code("TrafficFlowObserved"), settings: f.fleet, count: f.fleet.count) }
        if let f = fleets.lighting { add(.lighting, code: code("Streetlight"), settings: f.fleet, count: f.fleet.count) }
        if let f = fleets.waste { add(.waste, code: code("WasteContainer"), settings: f.fleet, count: f.fleet.count) }
        if let f = fleets.water {
            add(.water, code: code("WaterConsumptionObserved"), settings: f.fleet, count: f.fleet.count)
            let perDistrict = f.networkSensorsPerDistrict
            add(.water, code: code("WaterObserved"), settings: f.fleet, count: perDistrict * districts.count,
                starts: (0...districts.count).map { $0 * perDistrict })
        }
        if let f = fleets.environment { add(.environment, code: code("AirQualityObserved"), settings: f.fleet, count: f.fleet.count) }
        for f in fleets.defined { add(f.type.schema.domain, code: f.type.schema.deviceCode, settings: f.fleet, count: f.fleet.count) }
        return roster
    }
}

extension Scenario {
    /// The wire contract of this scenario's devices: the built-in families and its own types.
    public var schema: TelemetrySchema {
        TelemetrySchema.standard.adding(deviceTypes.map(\.schema))
    }

    /// Every device of every city, as the gateway admits them.
    public var roster: DeviceRoster {
        cities.reduce(into: DeviceRoster()) { $0.merge($1.roster) }
    }
}

/// Kilograms of mixed municipal waste per litre of container volume when full.
public enum WasteDensity {
    public static let kgPerLitre = 0.12
}

extension City {
    /// Seconds the street lights burn (the sun below the switch elevation) within [from, to).
    public func darkSeconds(from: Int64, to: Int64) -> Double {
        CityContext(city: self, index: 0, seed: 0).darkSeconds(from: Double(from), to: Double(to))
    }
}
