import Telemetry

/// An indicator the gateway computes per city and window: its standard code, what it means,
/// the formula over window aggregates, and the device data it needs.
public struct IndicatorDefinition: Sendable {
    /// ISO 37120:2018, ISO 37122:2019 or ITU U4SSC code (`ISO37120:8.1`), or `HEALTH:...`.
    public var code: String
    public var name: String
    public var unit: String
    public var domain: Domain
    /// The formula in words, as the README documents it.
    public var formula: String
    /// The device data it is computed from.
    public var needs: String
    /// True when a larger value is better (for the index's direction).
    public var higherIsBetter: Bool
    public var compute: @Sendable (IndicatorInputs) -> Double?

    public init(code: String, name: String, unit: String, domain: Domain, formula: String, needs: String,
                higherIsBetter: Bool, compute: @escaping @Sendable (IndicatorInputs) -> Double?) {
        self.code = code
        self.name = name
        self.unit = unit
        self.domain = domain
        self.formula = formula
        self.needs = needs
        self.higherIsBetter = higherIsBetter
        self.compute = compute
    }
}

/// What an indicator formula sees: the city's window aggregates (merged over its districts),
/// the city's static facts and the window's length.
public struct IndicatorInputs {
    public var facts: CityFacts?
    /// Window length in seconds.
    public var seconds: Double
    let lookup: (String) -> WindowPartial
    let seen: (Domain) -> Int
    let byDistrict: (String) -> [String: WindowPartial]

    public init(facts: CityFacts?, seconds: Double, lookup: @escaping (String) -> WindowPartial, seen: @escaping (Domain) -> Int,
                byDistrict: @escaping (String) -> [String: WindowPartial] = { _ in [:] }) {
        self.facts = facts
        self.seconds = seconds
        self.lookup = lookup
        self.seen = seen
        self.byDistrict = byDistrict
    }

    /// The city-wide partial of a series (`Entity.attribute`, `Entity.devices`, `faulty@domain`, ...).
    public func partial(_ series: String) -> WindowPartial { lookup(series) }

    /// The partial of `series` merged over the districts where `covered` has data (in district
    /// name order): a balance taken over the zones whose meters reported.
    public func partial(_ series: String, where covered: String) -> WindowPartial {
        let zones = byDistrict(covered).filter { $0.value.count > 0 }
        let parts = byDistrict(series)
        var merged = WindowPartial()
        for district in zones.keys.sorted() { if let p = parts[district] { merged.merge(p) } }
        return merged
    }

    /// Scales an amount over this window to a year.
    public func perYear(_ amount: Double) -> Double { amount * 365 * 86_400 / seconds }

    /// The city's assets of a domain, connected or not (nil when the facts do not give them).
    public func inventory(_ domain: Domain) -> Double? {
        guard let n = facts?.inventory[domain], n > 0 else { return nil }
        return Double(n)
    }

    /// An amount measured by the `reporting` devices of a domain (of type `entity`), scaled to
    /// the whole inventory (the unconnected assets are assumed to behave like the connected
    /// ones), or, when the inventory is not known, to the connected devices of that type: a
    /// silent device's share is estimated from those that report, never left out as zero.
    public func overInventory(_ amount: Double, reporting: Double, _ domain: Domain, entity: String) -> Double {
        guard let assets = inventory(domain) ?? facts?.entityDevices[entity].map(Double.init), reporting > 0, assets > reporting else { return amount }
        return amount * assets / reporting
    }

    /// Connected devices of a domain: from the city's facts, else the devices seen so far.
    public func installed(_ domain: Domain) -> Double? {
        if let n = facts?.devices[domain], n > 0 { return Double(n) }
        let n = seen(domain)
        return n > 0 ? Double(n) : nil
    }

    /// Distinct devices of the given entity types reporting in the window.
    public func reporting(_ entities: String...) -> Double {
        entities.reduce(0) { $0 + Double(partial("\($1).devices").count) }
    }
}

/// Every indicator the gateway computes, by domain.
public enum IndicatorCatalog {
    public static let all = all(schema: .standard)

    /// The catalogue for these families: telemetry health counts every family of a domain.
    public static func all(schema: TelemetrySchema) -> [IndicatorDefinition] {
        EnvironmentIndicators.all + LightingIndicators.all + WasteIndicators.all + WaterIndicators.all
            + MobilityIndicators.all + HealthIndicators.all(schema: schema)
    }
}

/// One indicator value for one city and window. Later revisions replace earlier ones.
public struct IndicatorValue: Sendable, Equatable {
    public var city: String
    public var code: String
    public var resolution: Resolution
    public var start: Int64
    public var end: Int64
    public var value: Double
    public var revision: Int32
    public var closed: Bool
}

func percent(_ part: Double, of whole: Double?) -> Double? {
    guard let whole, whole > 0 else { return nil }
    return min(100, 100 * part / whole)
}
