import Telemetry

/// One window of one city at one resolution: what an indicator value is computed for.
struct IndicatorWindow: Hashable, Comparable {
    var city: String
    var resolution: Resolution
    var start: Int64

    static func < (a: IndicatorWindow, b: IndicatorWindow) -> Bool {
        (a.city, a.resolution.rawValue, a.start) < (b.city, b.resolution.rawValue, b.start)
    }
}

/// The indicator stage: consumes the window records the store emits and computes the
/// indicators of every city window whose records changed, from the records alone (merged over
/// the city's districts) and the city's facts. It keeps each window's newest records until no
/// reading can reach the window any more.
struct IndicatorStage {
    let definitions: [IndicatorDefinition]
    private let config: GatewayConfig
    /// Window lengths by resolution, ms.
    private let lengths: [Int64]
    /// Newest partial of each series (`Entity.attribute`, `Entity.devices`, `faulty@domain`),
    /// by district.
    private var records: [IndicatorWindow: [String: [String: WindowPartial]]] = [:]
    /// Windows to compute, and whether every record of theirs was closed.
    private var dirty: [IndicatorWindow: Bool] = [:]
    private(set) var revisions: [IndicatorWindow: Int32] = [:]

    init(definitions: [IndicatorDefinition], config: GatewayConfig, lengths: [Int64]) {
        self.definitions = definitions
        self.config = config
        self.lengths = lengths
    }

    /// The name formulas look a record's series up by: derived series carry their domain.
    static func seriesName(_ record: WindowRecord) -> String {
        record.attribute.contains(".") ? record.attribute : "\(record.attribute)@\(record.domain.rawValue)"
    }

    /// Takes an emitted record; its window's indicators are computed at the next `compute`.
    mutating func consume(_ record: WindowRecord) {
        let key = remember(record)
        dirty[key] = (dirty[key] ?? true) && record.closed
    }

    /// Takes a record without scheduling its window (rebuilding after a restore).
    @discardableResult
    mutating func remember(_ record: WindowRecord) -> IndicatorWindow {
        let key = IndicatorWindow(city: record.city, resolution: record.resolution, start: record.start)
        records[key, default: [:]][Self.seriesName(record), default: [:]][record.district] = record.partial
        return key
    }

    /// Computes the indicators of every window whose records changed since the last call.
    /// `newest` is a city's newest event time (ms), `devices` the devices registered in a
    /// city's domain (for the installed base when the facts do not give it).
    mutating func compute(newest: (String) -> Int64, devices: @escaping (String, Domain) -> Int) -> [IndicatorValue] {
        guard !dirty.isEmpty else { return [] }
        let keys = dirty.sorted { $0.key < $1.key }
        dirty = [:]
        var out: [IndicatorValue] = []
        for (key, closed) in keys {
            let revision = (revisions[key] ?? 0) + 1
            let values = Self.values(of: key, series: records[key] ?? [:], closed: closed, revision: revision, definitions: definitions,
                                     config: config, lengths: lengths, devices: devices)
            if !values.isEmpty { revisions[key] = revision }
            out += values
        }
        // Forget windows no reading can reach any more.
        let lateness = config.lateness * 1000
        func reachable(_ key: IndicatorWindow) -> Bool {
            let n = newest(key.city)
            return n == .min || key.start + lengths[key.resolution.rawValue] > n - lateness
        }
        revisions = revisions.filter { reachable($0.key) }
        records = records.filter { reachable($0.key) }
        return out
    }

    /// The indicators of one city window from its series' partials by district (merged in
    /// district name order, so the sum does not depend on arrival order).
    static func values(of key: IndicatorWindow, series: [String: [String: WindowPartial]], closed: Bool, revision: Int32,
                       definitions: [IndicatorDefinition], config: GatewayConfig, lengths: [Int64],
                       devices: @escaping (String, Domain) -> Int) -> [IndicatorValue] {
        let length = lengths[key.resolution.rawValue]
        let inputs = IndicatorInputs(
            facts: config.city(key.city), seconds: Double(length) / 1000,
            lookup: { name in
                guard let districts = series[name] else { return WindowPartial() }
                var merged = WindowPartial()
                for district in districts.keys.sorted() { merged.merge(districts[district]!) }
                return merged
            },
            seen: { devices(key.city, $0) },
            byDistrict: { series[$0] ?? [:] })
        var out: [IndicatorValue] = []
        for definition in definitions {
            guard let value = definition.compute(inputs), value.isFinite else { continue }
            out.append(IndicatorValue(city: key.city, code: definition.code, resolution: key.resolution, start: key.start,
                                      end: key.start + length, value: value, revision: revision, closed: closed))
        }
        return out
    }

    /// Replaces the revisions with a checkpoint's.
    mutating func restore(revisions: [IndicatorWindow: Int32]) {
        self.revisions = revisions
        records = [:]
        dirty = [:]
    }
}
