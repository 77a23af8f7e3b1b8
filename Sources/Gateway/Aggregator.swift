import Telemetry

/// What the aggregation produced since the last `drain()`.
public struct AggregatorOutput: Sendable, Equatable {
    public var windows: [WindowRecord] = []
    public var indicators: [IndicatorValue] = []
    public var deadLetters: [DeadLetter] = []
    /// Alarms raised or cleared (a cleared one again, with its clearing time).
    public var alarms: [Alarm] = []

    public init() {}

    public var isEmpty: Bool { windows.isEmpty && indicators.isEmpty && deadLetters.isEmpty && alarms.isEmpty }
}

/// The gateway's core, with no I/O: the front that wires its stages. A message goes through
/// validation (`ReadingValidator`), the device registry (`DeviceRegistry`), deduplication
/// (`SequenceWindow`), meters (`MeterHistory`) and family rules (`FamilyRules`) into the
/// event-time windows (`WindowStore`); the windows the store emits are named here and go to the
/// indicator stage (`IndicatorStage`). What they produce leaves through `drain()`.
/// Not thread-safe: one owner feeds it (the network thread under a lock, or a file replay).
///
/// ```swift
/// let aggregator = try Aggregator(config: GatewayConfig())
/// aggregator.ingest(topic: topic, payload: payload)
/// let output = aggregator.drain()   // windows, indicators, dead letters
/// ```
public final class Aggregator {
    public let config: GatewayConfig
    public let schema: TelemetrySchema
    /// Other topic layouts and payload formats into the city scheme and SenML.
    private let translator: PayloadTranslator
    public internal(set) var counters = IngestCounters()
    /// Duplicates whose original came before the broker connection was last lost: copies
    /// at-least-once delivery made across the outage (the broker's re-sends of what it had
    /// not seen acknowledged, the devices' re-sends after their own reconnect). The rest of
    /// `counters.duplicates` are copies the devices sent of their own. Since the process started.
    public private(set) var redeliveries: Int64 = 0
    /// Each device's highest sequence number when the broker connection was last lost.
    private var highestAtLoss: [Int64] = []
    /// Output not yet drained.
    var pending = AggregatorOutput()

    private var validator: ReadingValidator
    var registry = DeviceRegistry()
    /// The detectors and their alarms.
    private(set) var alarms: AlarmStage
    /// Per registry city: latitude and longitude when known, and the minute whose darkness
    /// was worked out last.
    var coordinates: [(latitude: Double, longitude: Double)?] = []
    var darkMinute: [(minute: Int64, dark: Bool)] = []
    private let lampEntity: Int
    private var meters: [MeterHistory] = []
    private var freeFlow = FreeFlowProfiles()
    var store: WindowStore
    var indicatorStage: IndicatorStage
    private let familyRules: FamilyRules
    private var values: [ReadingValue] = []
    let lengths: [Int64]
    /// Series per (city, domain, district) group: every attribute, one `devices` series per
    /// entity type, and the derived series.
    let seriesPerGroup: Int
    private let meterAttribute: [Int]
    private let attributeKinds: [AttributeSchema.Kind]
    private let attributeFaultBelow: [Double]
    private let attributeRollover: [Double?]
    /// The district inflow meter and the consumption meter (for the night band), or -1.
    private let inflowAttribute: Int, useAttribute: Int

    public var indicators: [IndicatorDefinition] { indicatorStage.definitions }
    /// One partition of several: its windows go out, the indicators are merged elsewhere.
    var partitioned: Bool { config.partition != nil }

    /// `indicators`: the configuration's (`indicatorDefinitions()`) unless given.
    public init(config: GatewayConfig, indicators given: [IndicatorDefinition]? = nil) throws(Formula.Problem) {
        self.config = config
        let schema = config.schema
        self.schema = schema
        let indicators: [IndicatorDefinition]
        if let given { indicators = given } else { indicators = try config.indicatorDefinitions() }
        lengths = [config.window * 1000, 3_600_000, 86_400_000]
        seriesPerGroup = schema.attributeCount + schema.entities.count + Derived.allCases.count
        validator = ReadingValidator(schema: schema)
        translator = PayloadTranslator(schema: schema, roster: config.roster, formats: config.payloadFormats, mappings: config.topicMappings)
        alarms = AlarmStage(schema: schema, registry: registry, settings: config.detectors)
        lampEntity = schema.entities.firstIndex { $0.type == "Streetlight" } ?? -1
        store = WindowStore(lengths: lengths, lateness: config.lateness * 1000, quorum: config.watermarkQuorum, cacheGrowth: 3 * seriesPerGroup)
        indicatorStage = IndicatorStage(definitions: indicators, config: config, lengths: lengths)
        familyRules = FamilyRules(schema: schema)
        meterAttribute = schema.entities.map { e in e.attributes.firstIndex { $0.kind == .sum } ?? -1 }
        values.reserveCapacity(32)
        let all = (0..<schema.attributeCount).map { schema.attribute($0).attribute }
        attributeKinds = all.map(\.kind)
        attributeFaultBelow = all.map { $0.faultBelow ?? -.infinity }
        attributeRollover = all.map(\.rollover)
        inflowAttribute = schema.attributeID(entity: "WaterObserved", name: "inflow") ?? -1
        useAttribute = schema.attributeID(entity: "WaterConsumptionObserved", name: "waterConsumption") ?? -1
    }

    /// Hands out what was produced since the last call.
    public func drain() -> AggregatorOutput {
        var out = pending
        out.alarms = alarms.output
        alarms.output.removeAll()
        pending = AggregatorOutput()
        return out
    }

    /// Alarms open now, per kind.
    public var activeAlarms: [AlarmKind: Int] { alarms.active }

    /// Open windows (all resolutions): memory is proportional to this, not to messages.
    public var openWindows: Int { store.openWindows }
    public var knownDevices: Int { registry.devices.count }
    /// Messages taken since the state began (every call of `ingest`): the state changes only with it.
    public var messagesTaken: Int64 { counters.received + counters.retainedStatuses }

    /// Notes that the broker connection was lost (before the new connection's first message):
    /// a duplicate of a reading that came before now is a redelivery (see `redeliveries`).
    public func connectionLost() {
        highestAtLoss = registry.devices.map(\.sequence.highest)
    }

    // MARK: ingest

    /// Takes one message. `arrivalMs` is the receive time (for the ingest lag; 0 = unknown);
    /// `position` its place in the journal (names its dead letter).
    /// `retained`: the broker's retained copy, sent on subscribing; a retained status sets the
    /// device's state but is not counted as received (it comes again with every subscription).
    @discardableResult
    public func ingest(topic: UnsafeBufferPointer<UInt8>, payload: UnsafeBufferPointer<UInt8>,
                       position: UInt64 = 0, arrivalMs: Int64 = 0, retained: Bool = false) -> IngestOutcome {
        var result: Result<IngestOutcome, Rejection>
        if translator.isActive {
            switch translator.translate(topic: topic, payload: payload) {
            case .success(nil): result = process(topic: topic, payload: payload, arrivalMs: arrivalMs)
            case .success(let (canonical, pack)?):
                result = canonical.withUnsafeBufferPointer { t in pack.withUnsafeBufferPointer { process(topic: t, payload: $0, arrivalMs: arrivalMs) } }
            case .failure(let rejection): result = .failure(rejection)
            }
        } else {
            result = process(topic: topic, payload: payload, arrivalMs: arrivalMs)
        }
        if retained, case .success(.status) = result {
            counters.retainedStatuses += 1
            return .status
        }
        counters.received += 1
        switch result {
        case .success(let outcome):
            if outcome == .status { counters.statusMessages += 1 }
            return outcome
        case .failure(let rejection):
            counters.invalid[rejection.reason] += 1
            pending.deadLetters.append(DeadLetter(position: position, topic: String(decoding: topic, as: UTF8.self), reason: rejection.reason,
                                                  detail: rejection.detail, payload: Array(payload.prefix(config.maxPayload))))
            return .rejected(rejection.reason)
        }
    }

    @discardableResult
    public func ingest(topic: String, payload: [UInt8], position: UInt64 = 0, arrivalMs: Int64 = 0, retained: Bool = false) -> IngestOutcome {
        var t = topic
        return t.withUTF8 { tb in
            payload.withUnsafeBufferPointer { ingest(topic: tb, payload: $0, position: position, arrivalMs: arrivalMs, retained: retained) }
        }
    }

    /// Validates first and changes state only for a message that passed.
    private func process(topic: UnsafeBufferPointer<UInt8>, payload: UnsafeBufferPointer<UInt8>, arrivalMs: Int64) -> Result<IngestOutcome, Rejection> {
        guard payload.count <= config.maxPayload else {
            return .failure(Rejection(.tooLarge, "payload of \(payload.count) bytes; the limit is \(config.maxPayload) (max-payload)"))
        }
        let shape = "expected city/{city}/{domain}/{district}/{device}/attrs or .../status"
        // The device key is the topic without its last level (`/attrs` or `/status`).
        guard let slash = lastSlash(topic) else { return .failure(Rejection(.badTopic, shape)) }
        let key = UnsafeBufferPointer(rebasing: topic[0..<slash])
        let hash = ByteInterner.hash(key)
        let known = registry.find(key, hash: hash)
        let isStatus: Bool, domain: Domain, deviceID: Range<Int>
        var levels: TopicScheme.Levels?
        // For a device not yet registered: whether the roster names it (else it counts as unknown).
        var rostered = true
        if let d = known {
            let kind = UnsafeBufferPointer(rebasing: topic[(slash + 1)...])
            if equals(kind, "attrs") { isStatus = false } else if equals(kind, "status") { isStatus = true } else {
                return .failure(Rejection(.badTopic, "the last topic level must be attrs or status"))
            }
            domain = registry.domain(ofDevice: d)
            deviceID = registry.deviceRange(d)
        } else {
            guard let parsed = TopicScheme.parse(topic) else {
                return .failure(Rejection(.badTopic, "'\(String(decoding: topic, as: UTF8.self))' does not follow the topic scheme; \(shape)"))
            }
            guard key.count < Int(Int16.max) else { return .failure(Rejection(.badTopic, "topic of \(topic.count) bytes is too long")) }
            levels = parsed
            switch admission(key, parsed) {
            case .success(let named): rostered = named
            case .failure(let refused): return .failure(refused)
            }
            isStatus = parsed.kind == .status
            domain = parsed.domain
            deviceID = parsed.device
        }

        if isStatus {
            let online: Bool
            switch ReadingValidator.status(payload) {
            case .success(let o): online = o
            case .failure(let rejection): return .failure(rejection)
            }
            let device = known ?? register(key, hash: hash, levels: levels!, rostered: rostered)
            registry.devices[device].online = online ? 1 : 0
            return .success(.status)
        }

        let reading: Reading
        switch validator.validate(payload, device: UnsafeBufferPointer(rebasing: key[deviceID]), domain: domain, into: &values) {
        case .success(let r): reading = r
        case .failure(let rejection): return .failure(rejection)
        }
        if let d = known, registry.devices[d].entity >= 0, Int(registry.devices[d].entity) != reading.entity {
            return .failure(Rejection(.entityMismatch, "device sent \(schema.entities[Int(registry.devices[d].entity)].type) before, now \(schema.entities[reading.entity].type)"))
        }
        // No closures here: one capturing `registry` would copy it (and retain its arrays) per message.
        var knownCity: Int?
        if let d = known {
            knownCity = registry.city(ofDevice: d)
        } else if let l = levels {
            knownCity = registry.city(named: text(key, l.city))
        }
        if let c = knownCity {
            // Bounded against the city's clock where it should be at arrival: a device whose
            // clock runs ahead cannot open windows in the city's future.
            let expected = store.expected(city: c, arrival: arrivalMs)
            if expected != .min, reading.time - expected > config.maxSkew * 1000 {
                return .failure(Rejection(.timeSkew, "event time is \((reading.time - expected) / 1000) s ahead of the city's clock (the time \(config.watermarkQuorum) of its devices reached, plus the time since it arrived); max-skew is \(config.maxSkew) s"))
            }
        }
        return .success(accept(reading, device: known ?? register(key, hash: hash, levels: levels!, rostered: rostered), arrivalMs: arrivalMs))
    }

    /// Why a device not yet registered may not be: its city is not configured, its district
    /// not one of the city's, or the roster does not name it (and unknown devices are not
    /// accepted, or their cap is reached). When it may: whether the roster names it.
    private func admission(_ key: UnsafeBufferPointer<UInt8>, _ levels: TopicScheme.Levels) -> Result<Bool, Rejection> {
        let city = text(key, levels.city), district = text(key, levels.district)
        guard let facts = config.city(city) else {
            return .failure(Rejection(.unknownCity, "city '\(city)' is not one of the configured cities (\(config.cities.map(\.id).joined(separator: ", "))); run the gateway with the scenario that simulates it (--scenario) or list it under 'cities' in the configuration"))
        }
        guard facts.districts.isEmpty || facts.districts.contains(district) else {
            return .failure(Rejection(.unknownDistrict, "district '\(district)' is not one of \(city)'s districts (\(facts.districts.joined(separator: ", ")))"))
        }
        if config.roster.contains(city: city, domain: levels.domain, district: district, device: UnsafeBufferPointer(rebasing: key[levels.device])) { return .success(true) }
        guard config.acceptUnknownDevices else {
            return .failure(Rejection(.unknownDevice, "device '\(text(key, levels.device))' is not in \(city)'s \(levels.domain.rawValue) fleet in \(district) (\(config.rosterFile.map { "the device registry \($0) or " } ?? "")the scenario); add it to a device registry file (device-registry) or set accept-unknown-devices"))
        }
        guard counters.unknownDevices < Int64(config.maxUnknownDevices) else {
            return .failure(Rejection(.unknownDevice, "device '\(text(key, levels.device))' is not in the roster and \(config.maxUnknownDevices) unknown devices are already registered (max-unknown-devices)"))
        }
        return .success(false)
    }

    /// Registers a new device (and its city on first sight); one the roster does not name counts as unknown.
    private func register(_ key: UnsafeBufferPointer<UInt8>, hash: UInt64, levels: TopicScheme.Levels, rostered: Bool) -> Int {
        if !rostered { counters.unknownDevices += 1 }
        let name = text(key, levels.city)
        let city = registry.city(named: name) ?? {
            let offset = config.city(name)?.utcOffset ?? 0
            _ = store.addCity(offsetMs: Int64((offset * 3_600_000).rounded()))
            return registry.addCity(name)
        }()
        return registry.register(key, hash: hash, levels: levels, city: city)
    }

    /// Applies a validated reading of a registered device.
    private func accept(_ reading: Reading, device: Int, arrivalMs: Int64) -> IngestOutcome {
        var state = registry.devices[device]
        let entity = schema.entities[reading.entity]
        if state.entity < 0 { state.entity = Int16(reading.entity) }
        // At-least-once delivery: count each (device, seq) once. A copy carries its original's
        // event time, so a number seen before on a reading newer than any of the device's is
        // no copy: the device's counter started again (a restarted device or simulator), and
        // its numbers are counted anew.
        var seen = state.sequence.observe(reading.sequence)
        if seen != .fresh, state.newest != .min, reading.time > state.newest {
            state.sequence = SequenceWindow()
            seen = state.sequence.observe(reading.sequence)
        }
        switch seen {
        case .fresh: break
        case .duplicate:
            registry.devices[device] = state
            counters.duplicates += 1
            if device < highestAtLoss.count, reading.sequence <= highestAtLoss[device] { redeliveries += 1 }
            counters.duplicatesByDomain[entity.domain] += 1
            return .duplicate
        case .tooOld:
            registry.devices[device] = state
            counters.tooLate += 1
            return .tooLate
        }
        let city = Int(registry.groups[Int(state.group)].city)
        let time = reading.time
        if store.isTooLate(time, city: city) {
            registry.devices[device] = state
            counters.tooLate += 1
            return .tooLate
        }

        var late = false
        let seriesBase = Int(state.group) * seriesPerGroup
        var fault = false
        for v in values {
            if attributeKinds[v.attribute] == .string {
                if v.value < 0 { fault = true }
                continue
            }
            if v.value < attributeFaultBelow[v.attribute] { fault = true }
            late = store.add(series: seriesBase + v.attribute, value: v.value, time: time, city: city) || late
        }
        late = store.countOnce(series: seriesBase + schema.attributeCount + reading.entity, time: time, city: city, marks: &state.counted) || late
        let freeFlowSpeed = state.profile >= 0 ? freeFlow.freeFlow(state.profile) : nil
        if alarms.observe(device: device, entity: reading.entity, values: values, time: time, freeFlow: freeFlowSpeed,
                          dark: reading.entity == lampEntity ? isDark(city: city, at: time) : nil) {
            fault = true
        }
        if fault {
            late = store.countOnce(series: derivedSeries(seriesBase, .faulty), time: time, city: city, marks: &state.faulted) || late
        }
        let meter = meterAttribute[reading.entity]
        if meter >= 0, let v = values.first(where: { $0.attribute == schema.attributeBase[reading.entity] + meter }) {
            meterReading(&state, attribute: v.attribute, value: v.value, time: time, series: seriesBase + v.attribute, city: city, meterDevice: device)
        }
        switch familyRules.apply(domain: entity.domain, time: time, values: values, to: &state) {
        case .collected(let kg): store.addIncrement(series: derivedSeries(seriesBase, .collected), amount: kg, time: time, city: city)
        case .traffic(let speed, let vehicles): traffic(&state, speed: speed, vehicles: vehicles, time: time, seriesBase: seriesBase, city: city)
        case .pressure(let p):
            if LocalPeriods.isNight(localMs: time + store.clocks[city].offsetMs) {
                store.add(series: derivedSeries(seriesBase, .nightPressure), value: p, time: time, city: city)
            }
        case nil: break
        }
        if time > state.newest { state.newest = time }
        registry.devices[device] = state

        counters.accepted += 1
        counters.readings += Int64(values.count)
        counters.acceptedByDomain[entity.domain] += 1
        if arrivalMs > 0 {
            counters.lagSumMs += Double(arrivalMs) - reading.sent * 1000
            counters.lagCount += 1
        }
        if late {
            counters.late += 1
            counters.lateByDomain[entity.domain] += 1
        }
        if store.advance(city: city, device: device, to: state.newest, arrival: arrivalMs) { sweep(city: city, final: false) }
        return late ? .acceptedLate : .accepted
    }

    /// A traffic count: off-peak, its speed goes into the counter's free-flow profile; in a
    /// weekday peak period, its vehicles and their delay (free-flow speed over speed, the ratio
    /// of travel time to free-flow travel time on the segment) go to the peak series.
    private func traffic(_ state: inout DeviceState, speed: Double, vehicles: Double, time: Int64, seriesBase: Int, city: Int) {
        if state.profile < 0 { state.profile = freeFlow.add() }
        guard LocalPeriods.isPeak(localMs: time + store.clocks[city].offsetMs) else {
            freeFlow.record(state.profile, speed: speed)
            return
        }
        guard vehicles > 0, speed > 0, let free = freeFlow.freeFlow(state.profile) else { return }
        store.addIncrement(series: derivedSeries(seriesBase, .peakVehicles), amount: vehicles, time: time, city: city)
        store.addIncrement(series: derivedSeries(seriesBase, .peakDelay), amount: vehicles * free / speed, time: time, city: city)
    }

    private func meterReading(_ state: inout DeviceState, attribute: Int, value: Double, time: Int64, series: Int, city: Int, meterDevice: Int) {
        if state.meter < 0 {
            state.meter = Int32(meters.count)
            meters.append(MeterHistory(attribute: Int32(attribute)))
        }
        let increments = meters[Int(state.meter)].record(time: time, value: value, rollover: attributeRollover[attribute])
        switch increments.step {
        case .reset:
            counters.meterResets += 1
            alarms.meterReset(device: meterDevice, at: time)
        case .rollover: counters.meterRollovers += 1
        case .forward, nil: break
        }
        let night: Derived? = attribute == inflowAttribute ? .nightInflow : attribute == useAttribute ? .nightUse : nil
        let offset = store.clocks[city].offsetMs
        for i in 0..<increments.count {
            let (from, to, amount) = increments[i]
            store.addIncrement(series: series, amount: amount, from: from, to: to, city: city)
            // The water balance's night band, for the minimum night flow.
            guard let night, to > from else { continue }
            let nightSeries = series - attribute + derivedOffset(night)
            LocalPeriods.nightParts(from: from + offset, to: to + offset) { lower, upper in
                store.addIncrement(series: nightSeries, amount: amount * Double(upper - lower) / Double(to - from),
                                   from: lower - offset, to: upper - offset, city: city)
            }
        }
    }

    @inline(__always)
    private func derivedSeries(_ seriesBase: Int, _ d: Derived) -> Int { seriesBase + derivedOffset(d) }

    @inline(__always)
    private func derivedOffset(_ d: Derived) -> Int { schema.attributeCount + schema.entities.count + d.rawValue }

    // MARK: checkpoint

    /// The whole aggregation state (to be written with the journal position it covers).
    public func snapshot() -> [UInt8] {
        CheckpointCodec.encode(AggregationState(counters: counters, registry: registry, meters: meters, freeFlow: freeFlow.counts, clocks: store.clocks,
                                                windows: store.liveSlots, indicatorRevisions: indicatorStage.revisions,
                                                watches: alarms.watches, openAlarms: alarms.openList, schema: schema.fingerprint))
    }

    public func restore(_ bytes: [UInt8]) throws(SnapshotError) {
        let state = try CheckpointCodec.decode(bytes)
        guard state.schema == schema.fingerprint else {
            throw SnapshotError(description: "the checkpoint was written for other device families (\(state.schema)); this gateway has \(schema.fingerprint). Start it with the scenario it ran with, or afresh with a new store path")
        }
        let series = state.registry.groups.count * seriesPerGroup
        guard state.windows.allSatisfy({ Int($0.series) < series }) else {
            throw SnapshotError(description: "checkpoint names a window series beyond its device groups")
        }
        counters = state.counters
        registry = state.registry
        alarms = AlarmStage(schema: schema, registry: registry, settings: config.detectors)
        alarms.restore(watches: state.watches, open: state.openAlarms)
        meters = state.meters
        freeFlow = FreeFlowProfiles(counts: state.freeFlow)
        store.restore(clocks: state.clocks, slots: state.windows)
        indicatorStage.restore(revisions: state.indicatorRevisions)
        // The indicator stage sees what the store emitted before, so corrections recompute whole windows.
        for window in store.emittedWindows() { indicatorStage.remember(record(window)) }
    }
}
