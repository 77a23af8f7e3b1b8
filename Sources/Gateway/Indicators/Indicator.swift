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

    public init(facts: CityFacts?, seconds: Double, lookup: @escaping (String) -> WindowPartial, seen: @escaping (Domain) -> Int) {
        self.facts = facts
        self.seconds = seconds
        self.lookup = lookup
        self.seen = seen
    }

    /// The city-wide partial of a series (`Entity.attribute`, `Entity.devices`, `faulty@domain`, ...).
    public func partial(_ series: String) -> WindowPartial { lookup(series) }

    /// Scales an amount over this window to a year.
    public func perYear(_ amount: Double) -> Double { amount * 365 * 86_400 / seconds }

    /// Installed devices of a domain: from the city's facts, else the devices seen so far.
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
    public static let all: [IndicatorDefinition] =
        EnvironmentIndicators.all + LightingIndicators.all + WasteIndicators.all + WaterIndicators.all
        + MobilityIndicators.all + HealthIndicators.all
}

/// The key of one window of one city, at one resolution.
public struct IndicatorKey: Hashable, Sendable, BitwiseCopyable {
    var city: Int32
    var resolution: Int8
    var start: Int64
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

extension Aggregator {
    /// Computes the indicators of every window whose aggregates changed since the last time.
    func computeIndicators() {
        guard !dirtyIndicators.isEmpty else { return }
        let keys = dirtyIndicators.sorted { ($0.key.city, $0.key.resolution, $0.key.start) < ($1.key.city, $1.key.resolution, $1.key.start) }
        dirtyIndicators = [:]
        for (key, closed) in keys {
            let city = cities[Int(key.city)]
            let length = lengths[Int(key.resolution)]
            // Merge each series over the city's districts once per window.
            var cache: [String: WindowPartial] = [:]
            let index = seriesIndex
            let inputs = IndicatorInputs(
                facts: config.city(city.id), seconds: Double(length) / 1000,
                lookup: { name in
                    if let p = cache[name] { return p }
                    guard let (domain, attribute) = index[name] else { return WindowPartial() }
                    let p = self.cityPartial(city: key.city, domain: domain, attribute: attribute, resolution: key.resolution, start: key.start)
                    cache[name] = p
                    return p
                },
                seen: { domain in
                    self.groups.reduce(0) { $0 + ($1.city == key.city && Int($1.domain) == domain.ordinal ? Int($1.devices) : 0) }
                })
            let revision = (indicatorRevisions[key] ?? 0) + 1
            var any = false
            for definition in indicators {
                guard let value = definition.compute(inputs), value.isFinite else { continue }
                any = true
                pendingIndicators.append(IndicatorValue(city: city.id, code: definition.code, resolution: Resolution(rawValue: Int(key.resolution))!,
                                                        start: key.start, end: key.start + length, value: value,
                                                        revision: revision, closed: closed))
                counters.indicatorsEmitted += 1
            }
            if any { indicatorRevisions[key] = revision }
        }
        // Forget revisions of windows no reading can reach any more.
        indicatorRevisions = indicatorRevisions.filter { key, _ in
            let newest = cities[Int(key.city)].newest
            return newest == .min || key.start + lengths[Int(key.resolution)] > newest - config.lateness * 1000
        }
    }

    /// Series names to (domain, series offset in a group); derived series of a domain are
    /// named `name@domain` (`faulty@lighting`).
    var seriesIndex: [String: (Domain, Int)] {
        if let cached = seriesIndexCache { return cached }
        var index: [String: (Domain, Int)] = [:]
        for a in 0..<slotsPerGroup {
            let name = seriesName(a)
            if a < schema.attributeCount + schema.entities.count {
                let entity = a < schema.attributeCount ? schema.attribute(a).entity : schema.entities[a - schema.attributeCount]
                index[name] = (entity.domain, a)
            } else {
                for d in Domain.allCases { index["\(name)@\(d.rawValue)"] = (d, a) }
            }
        }
        seriesIndexCache = index
        return index
    }
}
