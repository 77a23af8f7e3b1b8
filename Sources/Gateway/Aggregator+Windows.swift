import Telemetry

extension Aggregator {
    // MARK: windows out

    /// Emits corrections and indicator updates that are pending (the periodic flush calls this).
    public func flushCorrections() { sweep(city: nil, final: false) }

    /// Emits every open window as provisional (at shutdown or at the end of a run).
    public func emitOpenWindows() { sweep(city: nil, final: true) }

    func sweep(city: Int?, final: Bool) {
        if let city, !final { alarms.sweepSilence(city: city, now: store.newest(city: city)) }
        for window in store.sweep(city: city, final: final) {
            if window.closed { if window.revision == 1 { counters.windowsEmitted += 1 } else { counters.corrections += 1 } }
            let record = self.record(window)
            pending.windows.append(record)
            if !partitioned { indicatorStage.consume(record) }
        }
        // A partition's windows cover some districts: the city-wide indicators are merged in the store.
        guard !partitioned else { return }
        let values = indicatorStage.compute(newest: { [registry, store] in
            registry.city(named: $0).map { store.newest(city: $0) } ?? .min
        }, devices: { [registry] city, domain in
            registry.city(named: city).map { registry.devices(city: $0, domain: domain) } ?? 0
        })
        counters.indicatorsEmitted += Int64(values.count)
        pending.indicators += values
    }

    /// Names a window of the store: city, domain, district and series.
    func record(_ w: EmittedWindow) -> WindowRecord {
        let group = Int(w.series) / seriesPerGroup
        let g = registry.groups[group]
        return WindowRecord(city: registry.cities[Int(g.city)], domain: Domain.allCases[Int(g.domain)], district: registry.district(ofGroup: group),
                            attribute: seriesName(Int(w.series) % seriesPerGroup), resolution: w.resolution, start: w.start, end: w.end,
                            partial: w.partial, revision: w.revision, closed: w.closed)
    }

    /// `Entity.attribute`, `Entity.devices`, or a derived series' name.
    func seriesName(_ offset: Int) -> String {
        if offset < schema.attributeCount {
            let (e, a) = schema.attribute(offset)
            return "\(e.type).\(a.name)"
        }
        if offset < schema.attributeCount + schema.entities.count {
            return "\(schema.entities[offset - schema.attributeCount].type).devices"
        }
        return Derived(rawValue: offset - schema.attributeCount - schema.entities.count)!.name
    }

    /// Whether street lamps of a city must burn at `time` (ms): the sun under
    /// `detectors.lampSunElevation` at its coordinates (nil when they are not known).
    func isDark(city: Int, at time: Int64) -> Bool? {
        while coordinates.count <= city {
            let facts = config.city(registry.cities[coordinates.count])
            coordinates.append(facts.flatMap { f in f.latitude.flatMap { lat in f.longitude.map { (lat, $0) } } })
            darkMinute.append((-1, false))
        }
        guard let place = coordinates[city] else { return nil }
        let minute = time / 60_000
        if darkMinute[city].minute != minute {
            darkMinute[city] = (minute, Solar.elevation(at: Double(minute * 60), latitude: place.latitude, longitude: place.longitude)
                < config.detectors.lampSunElevation)
        }
        return darkMinute[city].dark
    }

    func text(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// Per city the partition owns districts of: its newest event time (`.min` before any
    /// reading); and the devices registered per domain.
    public func partitionClocks() -> (clocks: [String: Int64], devices: [String: [String: Int]]) {
        guard let partition = config.partition else { return ([:], [:]) }
        var clocks: [String: Int64] = [:], devices: [String: [String: Int]] = [:]
        for facts in config.cities where !partition.districts(of: facts).isEmpty {
            let city = registry.city(named: facts.id)
            clocks[facts.id] = city.map { store.newest(city: $0) } ?? .min
            if let city {
                for domain in Domain.allCases { devices[facts.id, default: [:]][domain.rawValue] = registry.devices(city: city, domain: domain) }
            }
        }
        return (clocks, devices)
    }
}
