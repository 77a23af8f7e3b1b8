import Foundation
import Telemetry
import YAMLReader
import Yams

extension Scenario {
    /// Loads and checks a scenario file. Every problem is a `ScenarioError` naming the file,
    /// line, column and field.
    public init(contentsOf path: String) throws(ScenarioError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ScenarioError(file: path, field: "", "cannot read the scenario file; check the path (scenarios live in Scenarios/)")
        }
        try self.init(yaml: String(decoding: data, as: UTF8.self), file: path)
    }

    public init(yaml: String, file: String = "scenario") throws(ScenarioError) {
        let root = try YAMLField.document(yaml: yaml, file: file, empty: "the file is empty; see Scenarios/almaty.yaml for a complete example")
        let top = try root
            .mapping(allowed: ["name", "seed", "start", "duration", "speed", "mqtt", "device-types", "indicators", "cities", "faults", "load"])
        name = try top["name"]?.identifier() ?? "scenario"
        let seedField = try top.required("seed")
        guard let seedText = seedField.node.string, let seed = UInt64(seedText.replacingOccurrences(of: "_", with: "")) else {
            throw seedField.error("expected a whole number from 0 to \(UInt64.max)")
        }
        self.seed = seed
        let startField = try top.required("start")
        let startText = try startField.string()
        guard let start = Timestamps.parse(startText) else {
            throw startField.error("'\(startText)' is not a time; write it like 2026-01-15T00:00:00+05:00 (ISO 8601 with offset)")
        }
        self.start = start
        duration = try top.required("duration").duration()
        if let field = top["speed"] {
            speed = try Scenario.parseSpeed(field)
        } else {
            speed = .max
        }
        mqtt = try top["mqtt"].map(Scenario.parseMQTT) ?? MQTTSettings()
        if let field = top["load"] { load = try LoadProfile.parse(field, scenarioSpeed: speed) }
        for field in try top["device-types"]?.list() ?? [] {
            deviceTypes.append(try DeviceType.parse(field, taken: deviceTypes))
        }
        let cityFields = try top.required("cities").list()
        guard !cityFields.isEmpty else { throw try top.required("cities").error("at least one city is needed") }
        var cities: [City] = []
        for field in cityFields {
            let city = try Scenario.parseCity(field, types: deviceTypes)
            if cities.contains(where: { $0.id == city.id }) { throw field.error("city id '\(city.id)' appears twice") }
            if cities.contains(where: { $0.code == city.code }) {
                throw field.error("city code '\(city.code)' appears twice; device ids would collide")
            }
            cities.append(city)
        }
        // Every device's state lives in this process: bound the whole fleet, not only each one.
        let devices = cities.reduce(0) { $0 + $1.installedDevices.values.reduce(0, +) }
        guard devices <= Scenario.maximumDevices else {
            throw try top.required("cities").error("\(devices) devices in all; one scenario holds at most \(Scenario.maximumDevices); split the cities over several scenarios")
        }
        self.cities = cities
        let schema = TelemetrySchema.standard.adding(deviceTypes.map(\.schema))
        for field in try top["indicators"]?.list() ?? [] {
            let spec = try IndicatorSpec.parse(field, schema: schema)
            if indicators.contains(where: { $0.code == spec.code }) { throw field.error("the indicator \(spec.code) is defined twice") }
            indicators.append(spec)
        }
        faults = try (top["faults"]?.list() ?? []).map { (field) throws(ScenarioError) in
            try Scenario.parseFault(field, cities: cities)
        }
        let hex = String(nameKey(yaml), radix: 16)
        hash = String(repeating: "0", count: 16 - hex.count) + hex
    }

    static func parseSpeed(_ field: YAMLField) throws(ScenarioError) -> Speed {
        let text = try field.string()
        if let speed = Speed(parsing: text) { return speed }
        throw field.error("'\(text)' is not a speed; write max, or a factor like 60 (one simulated minute per second)")
    }

    static func parseMQTT(_ field: YAMLField) throws(ScenarioError) -> MQTTSettings {
        let map = try field.mapping(allowed: ["broker", "qos", "protocol", "keep-alive", "username", "password", "tls",
                                              "client-prefix", "topic", "inflight", "coalesce", "max-drift", "connect-rate", "handshakes", "source-addresses",
                                              "connections-per-address"])
        var settings = MQTTSettings()
        settings.broker = try map["broker"]?.string()
        settings.qos = try map["qos"]?.int(in: 0...2) ?? 1
        if let protocolField = map["protocol"] {
            let text = try protocolField.string()
            guard ["3.1.1", "5"].contains(text) else { throw protocolField.error("'\(text)' is not supported; use \"3.1.1\" or \"5\"") }
            settings.protocolVersion = text
        }
        settings.keepAlive = try map["keep-alive"]?.int(in: 5...65535) ?? 60
        settings.username = try map["username"]?.string()
        settings.password = try map["password"]?.string()
        if let tlsField = map["tls"] {
            let tls = try tlsField.mapping(allowed: ["ca", "cert", "key", "insecure"])
            settings.caFile = try tls["ca"]?.string()
            settings.certificateFile = try tls["cert"]?.string()
            settings.keyFile = try tls["key"]?.string()
            settings.insecure = try tls["insecure"]?.bool() ?? false
            if (settings.certificateFile == nil) != (settings.keyFile == nil) {
                throw tlsField.error("a client certificate needs both 'cert' and 'key'")
            }
        }
        settings.clientPrefix = try map["client-prefix"]?.identifier() ?? "sim"
        if let topicField = map["topic"] {
            let template = try topicField.string()
            for needed in ["{device}", "{kind}"] where !template.contains(needed) {
                throw topicField.error("the topic template must contain \(needed) so each device has its own attrs and status topics")
            }
            if template.contains("+") || template.contains("#") || template.hasPrefix("/") {
                throw topicField.error("the topic template must not contain wildcards or start with '/'")
            }
            settings.topic = template
        }
        settings.inflight = try map["inflight"]?.int(in: 1...65535) ?? 100
        settings.coalesce = try map["coalesce"]?.duration(minimum: 0) ?? 60
        settings.maxDrift = try map["max-drift"]?.duration(minimum: 1) ?? 300
        if let f = map["connect-rate"] {
            let text = try f.string()
            guard let rate = MQTTSettings.rate(parsing: text) else {
                throw f.error("'\(text)' is not a connection rate; write new connections per second above 0, e.g. 500/s (or per minute: 30000/m)")
            }
            settings.connectRate = rate
        }
        settings.handshakes = try map["handshakes"]?.int(in: 1...100_000) ?? 256
        settings.connectionsPerAddress = try map["connections-per-address"]?.int(in: 1...65_535)
        if let f = map["source-addresses"] {
            for item in try f.list() {
                let address = try item.string()
                var v4 = in_addr(), v6 = in6_addr()
                guard inet_pton(AF_INET, address, &v4) == 1 || inet_pton(AF_INET6, address, &v6) == 1 else {
                    throw item.error("'\(address)' is not an IP address of this machine, e.g. 10.0.0.5")
                }
                settings.sourceAddresses.append(address)
            }
        }
        return settings
    }

    static func parseCity(_ field: YAMLField, types: [DeviceType] = []) throws(ScenarioError) -> City {
        let map = try field.mapping(allowed: [
            "id", "name", "code", "synthetic", "latitude", "longitude", "utc-offset", "population", "area-km2",
            "road-km", "major-street-km", "lit-street-km", "water-network-km", "vehicles", "profile", "climate",
            "districts", "fleets",
        ])
        let id = try map.required("id").identifier()
        let districtFields = try map.required("districts").list()
        guard !districtFields.isEmpty else { throw try map.required("districts").error("at least one district is needed") }
        var districts: [District] = []
        for districtField in districtFields {
            let d = try districtField.mapping(allowed: ["id", "name", "share"])
            let district = District(id: try d.required("id").identifier(), name: try d["name"]?.string() ?? "",
                                    share: try d["share"]?.double(in: 0.000001...1e9) ?? 1)
            if districts.contains(where: { $0.id == district.id }) { throw districtField.error("district id '\(district.id)' appears twice") }
            districts.append(district)
        }
        var city = City(
            id: id, name: try map["name"]?.string() ?? id, code: try map["code"]?.identifier() ?? String(id.prefix(3)),
            synthetic: try map["synthetic"]?.bool() ?? true,
            latitude: try map.required("latitude").double(in: -66...66),
            longitude: try map.required("longitude").double(in: -180...180),
            utcOffset: try map.required("utc-offset").double(in: -12...14),
            population: try map.required("population").double(in: 1...1e9),
            areaKm2: try map.required("area-km2").double(in: 0.01...1e6),
            roadKm: try map.required("road-km").double(in: 0...1e7),
            majorStreetKm: try map["major-street-km"]?.double(in: 0...1e7) ?? 0,
            litStreetKm: try map["lit-street-km"]?.double(in: 0...1e7) ?? 0,
            waterNetworkKm: try map["water-network-km"]?.double(in: 0...1e7) ?? 0,
            vehicles: try map["vehicles"]?.double(in: 0...1e9) ?? 0,
            districts: districts, fleets: Fleets())
        if city.majorStreetKm == 0 { city.majorStreetKm = city.roadKm * 0.2 }
        if city.litStreetKm == 0 { city.litStreetKm = city.roadKm * 0.8 }
        if let profileField = map["profile"] { city.profile = try parseProfile(profileField) }
        if let climateField = map["climate"] { city.climate = try parseClimate(climateField) }
        city.fleets = try parseFleets(try map.required("fleets"), types: types)
        return city
    }

    static func parseProfile(_ field: YAMLField) throws(ScenarioError) -> CityProfile {
        let map = try field.mapping(allowed: ["smes", "hospital-visits", "schoolchildren", "broadband-coverage",
                                              "mobile-4g-coverage", "g20-policies", "sdg-governance"])
        var profile = CityProfile()
        profile.smes = try map["smes"]?.double(in: 0...1e9)
        profile.hospitalVisits = try map["hospital-visits"]?.double(in: 0...1e10)
        profile.schoolchildren = try map["schoolchildren"]?.double(in: 0...1e9)
        profile.broadbandCoverage = try map["broadband-coverage"]?.double(in: 0...1)
        profile.mobile4GCoverage = try map["mobile-4g-coverage"]?.double(in: 0...1)
        func names(_ key: String, _ allowed: [String]) throws(ScenarioError) -> [String] {
            guard let listField = map[key] else { return [] }
            var out: [String] = []
            for item in try listField.list() {
                let name = try item.string()
                guard allowed.contains(name) else { throw item.error("'\(name)' is not one of \(allowed.joined(separator: ", "))") }
                if !out.contains(name) { out.append(name) }
            }
            return out
        }
        profile.g20Policies = try names("g20-policies", CityProfile.g20PolicyNames)
        profile.sdgGovernance = try names("sdg-governance", CityProfile.governanceSteps)
        return profile
    }

    static func parseClimate(_ field: YAMLField) throws(ScenarioError) -> Climate {
        let map = try field.mapping(allowed: ["pm25-january", "pm25-july", "temperature-january", "temperature-july",
                                              "pressure", "heating-smog", "inversion-chance"])
        var climate = Climate()
        climate.pm25January = try map["pm25-january"]?.double(in: 0...1000) ?? climate.pm25January
        climate.pm25July = try map["pm25-july"]?.double(in: 0...1000) ?? climate.pm25July
        climate.temperatureJanuary = try map["temperature-january"]?.double(in: -60...50) ?? climate.temperatureJanuary
        climate.temperatureJuly = try map["temperature-july"]?.double(in: -60...50) ?? climate.temperatureJuly
        climate.pressure = try map["pressure"]?.double(in: 500...1100) ?? climate.pressure
        climate.heatingSmog = try map["heating-smog"]?.double(in: 0...5) ?? climate.heatingSmog
        climate.inversionChance = try map["inversion-chance"]?.double(in: 0...1) ?? climate.inversionChance
        return climate
    }

    static let fleetKeys = ["count", "interval", "connection", "per-connection", "inventory", "connected-share", "synthetic", "payload"]

    /// The connected fleet: `count` devices, or `connected-share` of the `inventory`; the
    /// inventory (the city's assets, connected or not) is never smaller than the fleet.
    static func parseFleet(_ map: YAMLMapping, defaultInterval: Int64) throws(ScenarioError) -> FleetSettings {
        let inventory = try map["inventory"]?.int(in: 0...50_000_000)
        var count: Int
        if let shareField = map["connected-share"] {
            guard let inventory else {
                throw shareField.error("a connected share needs the fleet's 'inventory' (the assets it is a share of); give 'inventory' or 'count' instead")
            }
            let share = try shareField.double(in: 0...1)
            if let countField = map["count"] {
                throw countField.error("give either 'count' or 'connected-share' of the inventory, not both")
            }
            count = Int((Double(inventory) * share).rounded())
        } else {
            count = try map.required("count").int(in: 0...50_000_000)
            if let inventory, count > inventory, let field = map["inventory"] {
                throw field.error("the inventory (\(inventory)) is smaller than the connected fleet (count \(count)); the inventory counts every asset, connected or not: raise it to at least \(count) or lower 'count'")
            }
        }
        var fleet = FleetSettings(count: count, interval: try map["interval"]?.duration() ?? defaultInterval,
                                  connection: try map["connection"]?.choice(ConnectionMode.self) ?? .concentrator,
                                  perConnection: try map["per-connection"]?.int(in: 0...1_000_000) ?? 0, inventory: inventory)
        fleet.payload = try map["payload"]?.choice(PayloadFormat.self) ?? .senml
        if let syntheticField = map["synthetic"] {
            for item in try syntheticField.list() {
                let name = try item.string()
                guard map[name] != nil else {
                    throw item.error("'\(name)' is not a field of this fleet; list the fields whose values are assumptions, e.g. [connected-share, inventory]")
                }
                fleet.synthetic.append(name)
            }
        }
        return fleet
    }

    static func parseFleets(_ field: YAMLField, types: [DeviceType] = []) throws(ScenarioError) -> Fleets {
        let map = try field.mapping(allowed: Domain.allCases.map(\.rawValue) + types.map(\.id))
        var fleets = Fleets()
        if let f = map["mobility"] {
            let m = try f.mapping(allowed: fleetKeys + ["incidents-per-day", "km-per-station"])
            var traffic = Fleets.Traffic(fleet: try parseFleet(m, defaultInterval: 300))
            traffic.incidentsPerDay = try m["incidents-per-day"]?.double(in: 0...100) ?? traffic.incidentsPerDay
            traffic.kmPerStation = try m["km-per-station"]?.double(in: 0.001...100) ?? traffic.kmPerStation
            fleets.traffic = traffic
        }
        if let f = map["lighting"] {
            let m = try f.mapping(allowed: fleetKeys + ["led-share", "switch-elevation", "dim-from", "dim-to", "dim-level",
                                                         "failures-per-1000h"])
            var lighting = Fleets.Lighting(fleet: try parseFleet(m, defaultInterval: 3600))
            lighting.ledShare = try m["led-share"]?.double(in: 0...1) ?? lighting.ledShare
            lighting.switchElevation = try m["switch-elevation"]?.double(in: -18...10) ?? lighting.switchElevation
            lighting.dimFrom = try m["dim-from"]?.double(in: 0...24) ?? lighting.dimFrom
            lighting.dimTo = try m["dim-to"]?.double(in: 0...24) ?? lighting.dimTo
            lighting.dimLevel = try m["dim-level"]?.double(in: 0...1) ?? lighting.dimLevel
            lighting.failuresPer1000h = try m["failures-per-1000h"]?.double(in: 0...1000) ?? lighting.failuresPer1000h
            fleets.lighting = lighting
        }
        if let f = map["waste"] {
            let m = try f.mapping(allowed: fleetKeys + ["fill-days", "collection-every-days", "collection-hour", "capacity-litres",
                                                         "kg-per-capita-day", "collection", "collection-threshold"])
            var waste = Fleets.Waste(fleet: try parseFleet(m, defaultInterval: 3600))
            waste.fillDays = try m["fill-days"]?.double(in: 0.1...365) ?? waste.fillDays
            waste.collectionEveryDays = try m["collection-every-days"]?.int(in: 1...60) ?? waste.collectionEveryDays
            waste.collectionHour = try m["collection-hour"]?.double(in: 0...23.99) ?? waste.collectionHour
            waste.capacityLitres = try m["capacity-litres"]?.double(in: 10...40000) ?? waste.capacityLitres
            waste.kgPerCapitaDay = try m["kg-per-capita-day"]?.double(in: 0.01...20)
            waste.collection = try m["collection"]?.choice(Fleets.Waste.Collection.self) ?? waste.collection
            waste.collectionThreshold = try m["collection-threshold"]?.double(in: 0.05...1) ?? waste.collectionThreshold
            fleets.waste = waste
        }
        if let f = map["water"] {
            let m = try f.mapping(allowed: fleetKeys + ["network-sensors-per-district", "network-interval", "leakage",
                                                         "litres-per-capita-day", "bursts-per-district-year", "km-per-network-sensor"])
            var water = Fleets.Water(fleet: try parseFleet(m, defaultInterval: 3600))
            water.networkSensorsPerDistrict = try m["network-sensors-per-district"]?.int(in: 1...1000) ?? water.networkSensorsPerDistrict
            water.networkInterval = try m["network-interval"]?.duration() ?? water.networkInterval
            water.leakage = try m["leakage"]?.double(in: 0...0.9) ?? water.leakage
            water.litresPerCapitaDay = try m["litres-per-capita-day"]?.double(in: 1...2000) ?? water.litresPerCapitaDay
            water.burstsPerDistrictYear = try m["bursts-per-district-year"]?.double(in: 0...10000) ?? water.burstsPerDistrictYear
            water.kmPerNetworkSensor = try m["km-per-network-sensor"]?.double(in: 0.01...10_000) ?? water.kmPerNetworkSensor
            fleets.water = water
        }
        if let f = map["environment"] {
            let m = try f.mapping(allowed: fleetKeys)
            fleets.environment = Fleets.Environment(fleet: try parseFleet(m, defaultInterval: 300))
        }
        for type in types {
            guard let f = map[type.id] else { continue }
            fleets.defined.append(Fleets.Defined(type: type, fleet: try parseFleet(try f.mapping(allowed: fleetKeys), defaultInterval: type.interval)))
        }
        return fleets
    }

    static func parseFault(_ field: YAMLField, cities: [City]) throws(ScenarioError) -> FaultSpec {
        let map = try field.mapping(allowed: ["kind", "family", "city", "share", "start", "duration", "probability", "magnitude"])
        let kind = try map.required("kind").choice(FaultKind.self)
        var city: String?
        if let cityField = map["city"] {
            let id = try cityField.string()
            guard cities.contains(where: { $0.id == id }) else {
                throw cityField.error("no city '\(id)' in this scenario; cities: \(cities.map(\.id).joined(separator: ", "))")
            }
            city = id
        }
        return FaultSpec(kind: kind, family: try map["family"]?.choice(Domain.self), city: city,
                         share: try map.required("share").double(in: 0...1),
                         start: try map["start"]?.duration(minimum: 0) ?? 0,
                         duration: try map["duration"]?.duration(),
                         probability: try map["probability"]?.double(in: 0...1),
                         magnitude: try map["magnitude"]?.double(in: 0...1e6))
    }

}

extension Scenario.Speed {
    /// `max`, `60`, `60x`.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if trimmed == "max" {
            self = .max
            return
        }
        let number = trimmed.hasSuffix("x") ? String(trimmed.dropLast()) : trimmed
        guard let value = Double(number), value.isFinite, value > 0 else { return nil }
        self = .factor(value)
    }
}
