import Telemetry

/// Why a message was not used. The raw values are the `reason` label on `/metrics` and in
/// the dead-letter table.
public enum RejectReason: String, Sendable, CaseIterable {
    case tooLarge = "too-large"
    case badTopic = "bad-topic"
    case malformedJSON = "malformed-json"
    case notSenML = "not-senml"
    case notFinite = "not-finite"
    case tooManyRecords = "too-many-records"
    case entityMismatch = "entity-mismatch"
    case unknownAttribute = "unknown-attribute"
    case repeatedAttribute = "repeated-attribute"
    case wrongType = "wrong-type"
    case wrongUnit = "wrong-unit"
    case outOfRange = "out-of-range"
    case missingField = "missing-field"
    case badStatus = "bad-status"
    case timeSkew = "time-skew"

    var index: Int { RejectReason.allCases.firstIndex(of: self)! }
}

/// What happened to one message.
public enum IngestOutcome: Hashable, Sendable {
    case accepted
    /// Accepted, and it changed a window that had already been emitted.
    case acceptedLate
    case duplicate
    case tooLate
    case status
    case rejected(RejectReason)
}

/// Counters since the gateway's state began (they survive restarts through checkpoints).
public struct IngestCounters: Sendable, Equatable, BitwiseCopyable {
    public var received: Int64 = 0
    public var accepted: Int64 = 0
    public var duplicates: Int64 = 0
    public var late: Int64 = 0
    public var tooLate: Int64 = 0
    public var statusMessages: Int64 = 0
    public var windowsEmitted: Int64 = 0
    public var corrections: Int64 = 0
    public var indicatorsEmitted: Int64 = 0
    public var meterResets: Int64 = 0
    public var meterRollovers: Int64 = 0
    public var readings: Int64 = 0
    /// Sum of (arrival - send time) over accepted messages with a send time, in ms, and how many.
    public var lagSumMs: Double = 0
    public var lagCount: Int64 = 0
    public var invalid = InvalidCounts()
    public var acceptedByDomain = DomainCounts()
    public var duplicatesByDomain = DomainCounts()
    public var lateByDomain = DomainCounts()

    public init() {}

    public var rejected: Int64 { invalid.total }
}

public struct InvalidCounts: Sendable, Equatable, BitwiseCopyable {
    var storage: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    public subscript(reason: RejectReason) -> Int64 {
        get { withUnsafeBytes(of: storage) { $0.load(fromByteOffset: reason.index * 8, as: Int64.self) } }
        set { withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: newValue, toByteOffset: reason.index * 8, as: Int64.self) } }
    }
    public var total: Int64 { RejectReason.allCases.reduce(0) { $0 + self[$1] } }
    public static func == (a: InvalidCounts, b: InvalidCounts) -> Bool { RejectReason.allCases.allSatisfy { a[$0] == b[$0] } }
}

public struct DomainCounts: Sendable, Equatable, BitwiseCopyable {
    var storage: (Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0)
    public subscript(domain: Domain) -> Int64 {
        get { withUnsafeBytes(of: storage) { $0.load(fromByteOffset: domain.ordinal * 8, as: Int64.self) } }
        set { withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: newValue, toByteOffset: domain.ordinal * 8, as: Int64.self) } }
    }
    public static func == (a: DomainCounts, b: DomainCounts) -> Bool { Domain.allCases.allSatisfy { a[$0] == b[$0] } }
    /// The counts keyed by domain name.
    public var byName: [String: Int64] { Dictionary(uniqueKeysWithValues: Domain.allCases.map { ($0.rawValue, self[$0]) }) }
}

/// The three window lengths: the base window (15 minutes by default), the hour and the day.
public enum Resolution: Int, Sendable, CaseIterable, Codable {
    case base = 0, hour = 1, day = 2

    public var name: String {
        switch self {
        case .base: "window"
        case .hour: "hour"
        case .day: "day"
        }
    }

    public init?(name: String) {
        switch name {
        case "window", "15m", "base": self = .base
        case "hour", "1h": self = .hour
        case "day", "1d": self = .day
        default: return nil
        }
    }
}

/// One emitted window of one series: the first emission when the window closed in event
/// time, then corrections with a higher revision when late data changed it.
public struct WindowRecord: Sendable, Equatable {
    public var city: String
    public var domain: Domain
    public var district: String
    /// `Entity.attribute`; `Entity.devices` (distinct devices reporting: `count`); or a derived
    /// series of the domain: `faulty` (distinct devices in fault), `collected` (kg emptied, in
    /// `increment`), `freeFlowSpeed` (speeds of traffic readings at occupancy < 0.1).
    public var attribute: String
    public var resolution: Resolution
    /// Window bounds, ms since 1970.
    public var start: Int64
    public var end: Int64
    public var partial: WindowPartial
    public var revision: Int32
    /// False while the window can still change (written at shutdown as provisional).
    public var closed: Bool
}

/// A message the gateway refused, kept with its raw payload.
public struct DeadLetter: Sendable, Equatable {
    /// The message's position in the journal: unique, so a replay does not store it twice.
    public var position: UInt64
    public var topic: String
    public var reason: RejectReason
    public var detail: String
    public var payload: [UInt8]
}

/// Derived series every domain group has besides its attributes.
enum Derived: Int, CaseIterable {
    /// 1 per distinct device that reported a fault in the window.
    case faulty = 0
    /// Kilograms emptied from waste containers (in `increment`).
    case collected
    /// Speeds of traffic readings at occupancy below 0.1 (free flow).
    case freeFlowSpeed

    var name: String {
        switch self {
        case .faulty: "faulty"
        case .collected: "collected"
        case .freeFlowSpeed: "freeFlowSpeed"
        }
    }
}

struct DeviceState: BitwiseCopyable {
    var group: Int32
    var entity: Int16 = -1
    /// -1 unknown, 0 offline, 1 online (from the retained status topic).
    var online: Int8 = -1
    var deviceOffset: Int16 = 0
    var deviceLength: Int16 = 0
    /// Highest sequence number seen and a bitmap of the 128 below it.
    var highest: Int64 = -1
    var seenLow: UInt64 = 0
    var seenHigh: UInt64 = 0
    /// Windows the device was counted in (as reporting, and as faulty).
    var counted = WindowMarks()
    var faulted = WindowMarks()
    var meter: Int32 = -1
    /// Newest event time (ms) of this device.
    var newest: Int64 = .min
    var lastEmptying = 0.0
    var lastCargo = 0.0

    init(group: Int32) { self.group = group }
}

/// Which of the last 64 windows (per resolution) a device was already counted in, so a delayed
/// reading does not count it twice.
struct WindowMarks: BitwiseCopyable {
    var newest: (Int64, Int64, Int64) = (.min, .min, .min)
    var masks: (UInt64, UInt64, UInt64) = (0, 0, 0)

    /// Marks the window; true if it was not marked before.
    mutating func mark(_ r: Int, start: Int64, length: Int64) -> Bool {
        var n = withUnsafeBytes(of: newest) { $0.load(fromByteOffset: r * 8, as: Int64.self) }
        var m = withUnsafeBytes(of: masks) { $0.load(fromByteOffset: r * 8, as: UInt64.self) }
        defer {
            withUnsafeMutableBytes(of: &newest) { $0.storeBytes(of: n, toByteOffset: r * 8, as: Int64.self) }
            withUnsafeMutableBytes(of: &masks) { $0.storeBytes(of: m, toByteOffset: r * 8, as: UInt64.self) }
        }
        if n == .min || start > n {
            let k = n == .min ? 64 : (start - n) / length
            m = k >= 64 ? 1 : (m << UInt64(k)) | 1
            n = start
            return true
        }
        let k = (n - start) / length
        if k >= 64 { return false }
        if m & (1 << UInt64(k)) != 0 { return false }
        m |= 1 << UInt64(k)
        return true
    }
}

/// The last few readings of one cumulative meter, by event time: a reading that arrives out of
/// order is slotted between its neighbours and the increments are split exactly.
struct MeterState: BitwiseCopyable {
    static let depth = 4
    var attribute: Int32
    var count: Int32 = 0
    /// True once an old point was dropped: a reading before the oldest kept has no known predecessor.
    var dropped = false
    var t: (Int64, Int64, Int64, Int64) = (0, 0, 0, 0)
    var v: (Double, Double, Double, Double) = (0, 0, 0, 0)

    init(attribute: Int32) { self.attribute = attribute }

    func time(_ i: Int) -> Int64 { withUnsafeBytes(of: t) { $0.load(fromByteOffset: i * 8, as: Int64.self) } }
    func value(_ i: Int) -> Double { withUnsafeBytes(of: v) { $0.load(fromByteOffset: i * 8, as: Double.self) } }
    mutating func set(_ i: Int, _ time: Int64, _ value: Double) {
        withUnsafeMutableBytes(of: &t) { $0.storeBytes(of: time, toByteOffset: i * 8, as: Int64.self) }
        withUnsafeMutableBytes(of: &v) { $0.storeBytes(of: value, toByteOffset: i * 8, as: Double.self) }
    }
}

struct GroupState: BitwiseCopyable {
    var city: Int32
    var domain: Int8
    /// District name: offset and length in the group key (`city/{city}/{domain}/{district}`).
    var districtOffset: Int16
    var districtLength: Int16
    var devices: Int32 = 0
}

struct CityState {
    var id: String
    var offsetMs: Int64
    var newest: Int64 = .min
    var lastBoundary: Int64 = .min
}

struct WindowSlot: BitwiseCopyable {
    var partial = WindowPartial()
    var series: Int32
    var city: Int32
    var start: Int64
    var resolution: Int8
    var live = true
    var emitted = false
    var dirty = false
    var revision: Int32 = 0
}

struct WindowKey: Hashable {
    var series: Int32
    var resolution: Int8
    var start: Int64
}

/// The gateway's core, with no I/O: decode, validate, deduplicate and aggregate messages into
/// event-time windows, emit closed windows and corrections, and compute indicators from them.
/// Not thread-safe: one owner feeds it (the network thread under a lock, or a file replay).
public final class Aggregator {
    public let config: GatewayConfig
    public let schema: TelemetrySchema
    public internal(set) var counters = IngestCounters()

    /// Output waiting for the store.
    public var pendingWindows: [WindowRecord] = []
    public var pendingIndicators: [IndicatorValue] = []
    public var pendingDeadLetters: [DeadLetter] = []

    var reader = SenMLReader()
    var topics = ByteInterner(capacity: 4096)
    var groupKeys = ByteInterner(capacity: 256)
    var devices: [DeviceState] = []
    var meters: [MeterState] = []
    var groups: [GroupState] = []
    var cities: [CityState] = []
    var slots: [WindowSlot] = []
    var freeSlots: [Int32] = []
    var windowIndex: [WindowKey: Int32] = [:]
    var cacheStart: [Int64] = []
    var cacheSlot: [Int32] = []
    /// Windows whose indicators must be recomputed, and whether all their series are closed.
    var dirtyIndicators: [IndicatorKey: Bool] = [:]
    var indicatorRevisions: [IndicatorKey: Int32] = [:]
    var seriesIndexCache: [String: (Domain, Int)]?
    let lengths: [Int64]
    let slotsPerGroup: Int
    let indicators: [IndicatorDefinition]
    // Per-entity lookups for the hot path.
    private let entityTypeBytes: [[UInt8]]
    private let attributeNames: [[[UInt8]]]
    private let meterAttribute: [Int]
    private let statusOnline: [UInt8] = Array("online".utf8)
    private let statusOffline: [UInt8] = Array("offline".utf8)
    private var scratchValues: [(attribute: Int, value: Double)] = []
    private let attributeKinds: [AttributeSchema.Kind]
    private let attributeFaultBelow: [Double]
    private let attributeRollover: [Double?]
    private let speedID: Int, occupancyID: Int, emptyingID: Int, cargoID: Int

    public init(config: GatewayConfig, schema: TelemetrySchema = .standard, indicators: [IndicatorDefinition] = IndicatorCatalog.all) {
        self.config = config
        self.schema = schema
        self.indicators = indicators
        lengths = [config.window * 1000, 3_600_000, 86_400_000]
        slotsPerGroup = schema.attributeCount + schema.entities.count + Derived.allCases.count
        entityTypeBytes = schema.entities.map { Array($0.type.utf8) }
        attributeNames = schema.entities.map { $0.attributes.map { Array($0.name.utf8) } }
        meterAttribute = schema.entities.map { e in e.attributes.firstIndex { $0.kind == .sum } ?? -1 }
        scratchValues.reserveCapacity(32)
        let all = (0..<schema.attributeCount).map { schema.attribute($0).attribute }
        attributeKinds = all.map(\.kind)
        attributeFaultBelow = all.map { $0.faultBelow ?? -.infinity }
        attributeRollover = all.map(\.rollover)
        speedID = schema.attributeID(entity: "TrafficFlowObserved", name: "averageVehicleSpeed") ?? -1
        occupancyID = schema.attributeID(entity: "TrafficFlowObserved", name: "occupancy") ?? -1
        emptyingID = schema.attributeID(entity: "WasteContainer", name: "dateLastEmptying") ?? -1
        cargoID = schema.attributeID(entity: "WasteContainer", name: "cargoWeight") ?? -1
    }

    // MARK: ingest

    /// Takes one message. `arrivalMs` is the receive time (for the ingest lag; 0 = unknown);
    /// `position` its place in the journal (names its dead letter).
    @discardableResult
    public func ingest(topic: UnsafeBufferPointer<UInt8>, payload: UnsafeBufferPointer<UInt8>,
                       position: UInt64 = 0, arrivalMs: Int64 = 0) -> IngestOutcome {
        counters.received += 1
        let outcome = process(topic: topic, payload: payload, arrivalMs: arrivalMs)
        if case .rejected(let reason) = outcome {
            counters.invalid[reason] += 1
            let detail = lastDetail
            pendingDeadLetters.append(DeadLetter(position: position, topic: String(decoding: topic, as: UTF8.self), reason: reason,
                                                 detail: detail, payload: Array(payload.prefix(config.maxPayload))))
        }
        return outcome
    }

    public func ingest(topic: String, payload: [UInt8], position: UInt64 = 0, arrivalMs: Int64 = 0) -> IngestOutcome {
        var t = topic
        return t.withUTF8 { tb in payload.withUnsafeBufferPointer { ingest(topic: tb, payload: $0, position: position, arrivalMs: arrivalMs) } }
    }

    private var lastDetail = ""

    private func reject(_ reason: RejectReason, _ detail: @autoclosure () -> String) -> IngestOutcome {
        lastDetail = detail()
        return .rejected(reason)
    }

    private func process(topic: UnsafeBufferPointer<UInt8>, payload: UnsafeBufferPointer<UInt8>, arrivalMs: Int64) -> IngestOutcome {
        guard payload.count <= config.maxPayload else {
            return reject(.tooLarge, "payload of \(payload.count) bytes; the limit is \(config.maxPayload) (max-payload)")
        }
        // The device key is the topic without its last level (`/attrs` or `/status`).
        guard let slash = lastSlash(topic) else { return reject(.badTopic, "expected city/{city}/{domain}/{district}/{device}/attrs") }
        let key = UnsafeBufferPointer(rebasing: topic[0..<slash])
        let kind = UnsafeBufferPointer(rebasing: topic[(slash + 1)...])
        let isStatus: Bool
        if equals(kind, "attrs") { isStatus = false } else if equals(kind, "status") { isStatus = true } else {
            return reject(.badTopic, "the last topic level must be attrs or status")
        }
        let h = ByteInterner.hash(key)
        let device: Int
        if let id = topics.find(key, hash: h) {
            device = Int(id)
        } else {
            guard let id = registerDevice(key, hash: h) else { return .rejected(.badTopic) }
            device = id
        }
        if isStatus { return status(device: device, payload) }

        do { try reader.read(payload) } catch {
            lastDetail = error.description
            switch error.reason {
            case .malformedJSON: return .rejected(.malformedJSON)
            case .notSenML: return .rejected(.notSenML)
            case .notFinite: return .rejected(.notFinite)
            case .tooManyRecords: return .rejected(.tooManyRecords)
            }
        }
        return telemetry(device: device, key: key, payload, arrivalMs: arrivalMs)
    }

    private func status(device: Int, _ payload: UnsafeBufferPointer<UInt8>) -> IngestOutcome {
        if equals(payload, statusOnline) {
            devices[device].online = 1
        } else if equals(payload, statusOffline) {
            devices[device].online = 0
        } else {
            return reject(.badStatus, "a status payload is 'online' or 'offline'")
        }
        counters.statusMessages += 1
        return .status
    }

    private func telemetry(device: Int, key: UnsafeBufferPointer<UInt8>, _ payload: UnsafeBufferPointer<UInt8>, arrivalMs: Int64) -> IngestOutcome {
        // Base name: urn:ngsi-ld:{Type}:{deviceId}:
        let bn = reader.baseName
        guard bn.isPresent else { return reject(.missingField, "no base name (bn); expected urn:ngsi-ld:{Type}:{deviceId}:") }
        guard reader.hasBaseTime else { return reject(.missingField, "no base time (bt)") }
        var state = devices[device]
        let entity: Int
        do {
            let resolved = reader.withBytes(bn, in: payload) { b -> Int? in
                self.entityOf(baseName: b, device: UnsafeBufferPointer(rebasing: key[Int(state.deviceOffset)..<Int(state.deviceOffset + state.deviceLength)]))
            }
            guard let e = resolved else {
                return reject(.entityMismatch, "base name '\(reader.string(bn, in: payload))' does not name a known entity type and this topic's device")
            }
            entity = e
        }
        let group = groups[Int(state.group)]
        let schemaEntity = schema.entities[entity]
        guard schemaEntity.domain.ordinal == Int(group.domain) else {
            return reject(.entityMismatch, "\(schemaEntity.type) belongs to \(schemaEntity.domain.rawValue), not to this topic's domain")
        }
        if state.entity < 0 { state.entity = Int16(entity) } else if Int(state.entity) != entity {
            return reject(.entityMismatch, "device sent \(schema.entities[Int(state.entity)].type) before, now \(schemaEntity.type)")
        }

        // Validate every record before using any.
        let baseTime = reader.baseTime
        guard baseTime >= 0, baseTime < 1e11 else { return reject(.outOfRange, "bt \(baseTime) is not a time in seconds since 1970") }
        var sequence = -1.0
        var sent = -1.0
        var seen: UInt64 = 0
        scratchValues.removeAll(keepingCapacity: true)
        let names = attributeNames[entity]
        let base = schema.attributeBase[entity]
        for i in 0..<reader.count {
            let record = reader[i]
            guard record.name.isPresent else { return reject(.missingField, "record \(i) has no name (n)") }
            guard record.hasValue else { return reject(.missingField, "record \(i) has no value") }
            if record.time != 0 { return reject(.notSenML, "record \(i): per-record times (t) are not used by this gateway; send one pack per time") }
            let index = reader.withBytes(record.name, in: payload) { n -> Int in
                for (j, name) in names.enumerated() where equals(n, name) { return j }
                if equals(n, "seq") { return -2 }
                if equals(n, "sent") { return -3 }
                return -1
            }
            switch index {
            case -2:
                guard case .number(let v) = record.value, v >= 0, v < 9e15, v == v.rounded() else {
                    return reject(.wrongType, "seq must be a whole number >= 0")
                }
                sequence = v
                continue
            case -3:
                guard case .number(let v) = record.value, reader.withBytes(record.unit, in: payload, { equals($0, "s") }) else {
                    return reject(.wrongType, "sent must be a number in s")
                }
                sent = v
                continue
            case -1:
                return reject(.unknownAttribute, "'\(reader.string(record.name, in: payload))' is not an attribute of \(schemaEntity.type); allowed: \(schemaEntity.attributes.map(\.name).joined(separator: ", "))")
            default: break
            }
            if seen & (1 << UInt64(index)) != 0 {
                return reject(.repeatedAttribute, "'\(schemaEntity.attributes[index].name)' appears twice")
            }
            seen |= 1 << UInt64(index)
            let attribute = schemaEntity.attributes[index]
            if let unit = attribute.unit {
                guard record.unit.isPresent, reader.withBytes(record.unit, in: payload, { equals($0, unit) }) else {
                    return reject(.wrongUnit, "\(attribute.name) must be in '\(unit)', got '\(record.unit.isPresent ? reader.string(record.unit, in: payload) : "no unit")'")
                }
            } else if record.unit.isPresent {
                return reject(.wrongUnit, "\(attribute.name) has no unit, got '\(reader.string(record.unit, in: payload))'")
            }
            let value: Double
            switch (attribute.kind, record.value) {
            case (.number, .number(let v)), (.sum, .sum(let v)):
                guard attribute.range.contains(v) else {
                    return reject(.outOfRange, "\(attribute.name) = \(v) is outside \(attribute.range.lowerBound)...\(attribute.range.upperBound)")
                }
                value = v
            case (.bool, .bool(let b)):
                value = b ? 1 : 0
            case (.string, .string(let s)):
                let matched = reader.withBytes(s, in: payload) { b -> Int? in
                    for (j, allowed) in attribute.allowed.enumerated() where equals(b, allowed) { return j }
                    return nil
                }
                guard let m = matched else {
                    return reject(.outOfRange, "\(attribute.name) = '\(reader.string(s, in: payload))'; allowed: \(attribute.allowed.joined(separator: ", "))")
                }
                // Strings are not aggregated; they count only when they put the device in fault.
                value = attribute.faultValues.contains(attribute.allowed[m]) ? -1 : 0
            default:
                return reject(.wrongType, "\(attribute.name) must be \(Self.describe(attribute.kind))")
            }
            scratchValues.append((base + index, value))
        }
        guard sequence >= 0 else { return reject(.missingField, "no sequence number (seq)") }
        guard sent >= 0 else { return reject(.missingField, "no send time (sent)") }

        let time = Int64((baseTime * 1000).rounded())
        let cityIndex = Int(group.city)
        let newest = cities[cityIndex].newest
        if newest != .min, time - newest > config.maxSkew * 1000 {
            return reject(.timeSkew, "event time is \((time - newest) / 1000) s ahead of the city's newest reading; max-skew is \(config.maxSkew) s")
        }

        // At-least-once delivery: count each (device, seq) once.
        switch dedup(&state, Int64(sequence)) {
        case .fresh: break
        case .duplicate:
            devices[device] = state
            counters.duplicates += 1
            counters.duplicatesByDomain[schemaEntity.domain] += 1
            return .duplicate
        case .tooOld:
            devices[device] = state
            counters.tooLate += 1
            return .tooLate
        }

        let city = cities[cityIndex]
        let watermark = city.newest == .min ? Int64.min : city.newest - config.lateness * 1000
        let baseStart = windowStart(time, .base, city.offsetMs)
        if watermark != .min, baseStart + lengths[0] <= watermark {
            devices[device] = state
            counters.tooLate += 1
            return .tooLate
        }

        // Apply.
        var late = false
        let groupIndex = Int(state.group)
        let seriesBase = groupIndex * slotsPerGroup
        var fault = false
        for (attribute, value) in scratchValues {
            if attributeKinds[attribute] == .string {
                if value < 0 { fault = true }
                continue
            }
            if value < attributeFaultBelow[attribute] { fault = true }
            late = add(series: seriesBase + attribute, value: value, time: time, city: cityIndex) || late
        }
        // Derived series.
        late = countDistinct(&state, series: seriesBase + schema.attributeCount + entity, time: time, city: cityIndex, faulty: false) || late
        if fault {
            late = countDistinct(&state, series: derivedSeries(seriesBase, .faulty), time: time, city: cityIndex, faulty: true) || late
        }
        let meter = meterAttribute[entity]
        if meter >= 0, let reading = scratchValues.first(where: { $0.attribute == base + meter }) {
            meterReading(&state, attribute: base + meter, value: reading.value, time: time, seriesBase: seriesBase, city: cityIndex)
        }
        familyExtras(&state, domain: schemaEntity.domain, time: time, seriesBase: seriesBase, city: cityIndex)
        if time > state.newest { state.newest = time }
        devices[device] = state

        counters.accepted += 1
        counters.readings += Int64(scratchValues.count)
        counters.acceptedByDomain[schemaEntity.domain] += 1
        if arrivalMs > 0 {
            counters.lagSumMs += Double(arrivalMs) - sent * 1000
            counters.lagCount += 1
        }
        if late {
            counters.late += 1
            counters.lateByDomain[schemaEntity.domain] += 1
        }
        if time > city.newest { advance(city: cityIndex, to: time) }
        return late ? .acceptedLate : .accepted
    }

    static func describe(_ kind: AttributeSchema.Kind) -> String {
        switch kind {
        case .number: "a number (v)"
        case .sum: "a cumulative sum (s)"
        case .bool: "true or false (vb)"
        case .string: "a string (vs)"
        }
    }

    // MARK: families

    private func familyExtras(_ state: inout DeviceState, domain: Domain, time: Int64, seriesBase: Int, city: Int) {
        switch domain {
        case .waste:
            // An emptying shows as a newer dateLastEmptying: the load before it was collected.
            guard time > state.newest, let emptied = value(emptyingID), let cargo = value(cargoID) else { return }
            if state.newest != .min, emptied > state.lastEmptying {
                addIncrement(series: derivedSeries(seriesBase, .collected), amount: state.lastCargo, time: time, city: city)
            }
            state.lastEmptying = emptied
            state.lastCargo = cargo
        case .mobility:
            // Free-flow readings (a nearly empty road) form their own series: the travel time
            // index of a window is their mean speed over the mean speed of all readings.
            guard let speed = value(speedID), let occupancy = value(occupancyID), occupancy < 0.1 else { return }
            _ = add(series: derivedSeries(seriesBase, .freeFlowSpeed), value: speed, time: time, city: city)
        default:
            break
        }
    }

    @inline(__always)
    private func value(_ attribute: Int) -> Double? {
        for v in scratchValues where v.attribute == attribute { return v.value }
        return nil
    }

    @inline(__always)
    func derivedSeries(_ seriesBase: Int, _ d: Derived) -> Int { seriesBase + schema.attributeCount + schema.entities.count + d.rawValue }

    // MARK: meters

    /// The increment from `previous` to `next` on a meter that may have been reset to zero or
    /// wrapped at its rollover.
    func increment(from previous: Double, to next: Double, rollover: Double?, count: Bool) -> Double {
        if next >= previous { return next - previous }
        if let r = rollover, next + r - previous < r / 2 {
            if count { counters.meterRollovers += 1 }
            return next + r - previous
        }
        if count { counters.meterResets += 1 }
        return next
    }

    private func meterReading(_ state: inout DeviceState, attribute: Int, value: Double, time: Int64, seriesBase: Int, city: Int) {
        if state.meter < 0 {
            state.meter = Int32(meters.count)
            meters.append(MeterState(attribute: Int32(attribute)))
        }
        var m = meters[Int(state.meter)]
        let rollover = attributeRollover[attribute]
        let series = seriesBase + attribute
        let n = Int(m.count)
        // Find where the reading goes among the kept ones (sorted by time).
        var at = n
        while at > 0, m.time(at - 1) > time { at -= 1 }
        if at > 0, m.time(at - 1) == time { return }  // same time again: nothing new
        if n > 0 {
            if at == n {
                addIncrement(series: series, amount: increment(from: m.value(n - 1), to: value, rollover: rollover, count: true), time: time, city: city)
            } else if at == 0 {
                // Older than every kept reading: only exact if nothing older was ever dropped.
                if !m.dropped {
                    addIncrement(series: series, amount: increment(from: value, to: m.value(0), rollover: rollover, count: false), time: m.time(0), city: city)
                }
            } else {
                let before = m.value(at - 1), after = m.value(at), afterTime = m.time(at)
                addIncrement(series: series, amount: -increment(from: before, to: after, rollover: rollover, count: false), time: afterTime, city: city)
                addIncrement(series: series, amount: increment(from: before, to: value, rollover: rollover, count: false), time: time, city: city)
                addIncrement(series: series, amount: increment(from: value, to: after, rollover: rollover, count: false), time: afterTime, city: city)
            }
        }
        if at == 0, n == MeterState.depth {
            m.dropped = true
            meters[Int(state.meter)] = m
            return
        }
        // Insert at `at`, dropping the oldest when full.
        var count = n
        var position = at
        if count == MeterState.depth {
            for i in 0..<(count - 1) { m.set(i, m.time(i + 1), m.value(i + 1)) }
            count -= 1
            position -= 1
            m.dropped = true
        }
        var i = count
        while i > position {
            m.set(i, m.time(i - 1), m.value(i - 1))
            i -= 1
        }
        m.set(position, time, value)
        m.count = Int32(count + 1)
        meters[Int(state.meter)] = m
    }

    // MARK: deduplication

    enum Seen { case fresh, duplicate, tooOld }

    func dedup(_ state: inout DeviceState, _ seq: Int64) -> Seen {
        if seq > state.highest {
            let shift = seq - state.highest
            if state.highest < 0 || shift > 128 {
                state.seenLow = 0
                state.seenHigh = 0
                if state.highest >= 0, shift == 129 { state.seenHigh = 1 << 63 }
            } else {
                // Shift the 128-bit map left by `shift`, then mark the old highest (bit shift-1).
                let s = UInt64(shift)
                if s >= 64 {
                    state.seenHigh = s == 64 ? state.seenLow : state.seenLow << (s - 64)
                    state.seenLow = 0
                } else {
                    state.seenHigh = (state.seenHigh << s) | (state.seenLow >> (64 - s))
                    state.seenLow <<= s
                }
                let bit = s - 1
                if bit < 64 { state.seenLow |= 1 << bit } else { state.seenHigh |= 1 << (bit - 64) }
            }
            state.highest = seq
            return .fresh
        }
        if seq == state.highest { return .duplicate }
        let d = UInt64(state.highest - seq - 1)
        if d >= 128 { return .tooOld }
        if d < 64 {
            if state.seenLow & (1 << d) != 0 { return .duplicate }
            state.seenLow |= 1 << d
        } else {
            if state.seenHigh & (1 << (d - 64)) != 0 { return .duplicate }
            state.seenHigh |= 1 << (d - 64)
        }
        return .fresh
    }

    // MARK: windows

    @inline(__always)
    func windowStart(_ time: Int64, _ resolution: Resolution, _ offsetMs: Int64) -> Int64 {
        let length = lengths[resolution.rawValue]
        let local = time + offsetMs
        var start = local / length * length
        if local < 0, start != local { start -= length }
        return start - offsetMs
    }

    /// Adds a value to the series' windows at every resolution; true if an emitted window changed.
    @discardableResult
    func add(series: Int, value: Double, time: Int64, city: Int) -> Bool {
        var late = false
        let offset = cities[city].offsetMs
        for r in 0..<3 {
            let slot = slotFor(series: series, resolution: r, start: windowStart(time, Resolution(rawValue: r)!, offset), city: city)
            slots[slot].partial.add(value, at: time)
            if slots[slot].emitted {
                slots[slot].dirty = true
                late = true
            }
        }
        return late
    }

    func addIncrement(series: Int, amount: Double, time: Int64, city: Int) {
        guard amount != 0 else { return }
        let offset = cities[city].offsetMs
        for r in 0..<3 {
            let slot = slotFor(series: series, resolution: r, start: windowStart(time, Resolution(rawValue: r)!, offset), city: city)
            slots[slot].partial.increment += amount
            if slots[slot].emitted { slots[slot].dirty = true }
        }
    }

    /// Counts the device once per window in a derived series.
    private func countDistinct(_ state: inout DeviceState, series: Int, time: Int64, city: Int, faulty: Bool) -> Bool {
        var late = false
        let offset = cities[city].offsetMs
        for r in 0..<3 {
            let start = windowStart(time, Resolution(rawValue: r)!, offset)
            let fresh = faulty ? state.faulted.mark(r, start: start, length: lengths[r]) : state.counted.mark(r, start: start, length: lengths[r])
            guard fresh else { continue }
            let slot = slotFor(series: series, resolution: r, start: start, city: city)
            slots[slot].partial.add(1, at: time)
            if slots[slot].emitted {
                slots[slot].dirty = true
                late = true
            }
        }
        return late
    }

    @inline(__always)
    private func slotFor(series: Int, resolution: Int, start: Int64, city: Int) -> Int {
        let c = series * 3 + resolution
        if c < cacheStart.count, cacheStart[c] == start, cacheSlot[c] >= 0 { return Int(cacheSlot[c]) }
        return slotSlow(series: series, resolution: resolution, start: start, city: city)
    }

    private func slotSlow(series: Int, resolution: Int, start: Int64, city: Int) -> Int {
        let key = WindowKey(series: Int32(series), resolution: Int8(resolution), start: start)
        let slot: Int
        if let s = windowIndex[key] {
            slot = Int(s)
        } else {
            let fresh = WindowSlot(series: Int32(series), city: Int32(city), start: start, resolution: Int8(resolution))
            if let free = freeSlots.popLast() {
                slot = Int(free)
                slots[slot] = fresh
            } else {
                slot = slots.count
                slots.append(fresh)
            }
            windowIndex[key] = Int32(slot)
        }
        let c = series * 3 + resolution
        if c >= cacheStart.count {
            cacheStart.append(contentsOf: repeatElement(.min, count: c + 1 - cacheStart.count + 3 * slotsPerGroup))
            cacheSlot.append(contentsOf: repeatElement(-1, count: cacheStart.count - cacheSlot.count))
        }
        // Keep the newest window in the cache: it is where nearly every reading goes.
        if start >= cacheStart[c] || cacheSlot[c] < 0 {
            cacheStart[c] = start
            cacheSlot[c] = Int32(slot)
        }
        return slot
    }

    /// Open windows (all resolutions): memory is proportional to this, not to messages.
    public var openWindows: Int { windowIndex.count }
    public var knownDevices: Int { devices.count }

    private func advance(city: Int, to time: Int64) {
        cities[city].newest = time
        let boundary = windowStart(time, .base, cities[city].offsetMs)
        if boundary > cities[city].lastBoundary {
            cities[city].lastBoundary = boundary
            sweep(city: city, final: false)
        }
    }

    /// Emits windows that closed in event time and corrections of emitted ones, computes the
    /// indicators of the windows that changed, and forgets windows beyond the lateness.
    /// `final` (shutdown) also writes the open windows, marked provisional.
    func sweep(city only: Int? = nil, final: Bool) {
        var purge: [Int] = []
        for i in slots.indices where slots[i].live {
            let c = Int(slots[i].city)
            if let only, c != only { continue }
            let newest = cities[c].newest
            let end = slots[i].start + lengths[Int(slots[i].resolution)]
            let closed = newest != .min && end <= newest
            if closed && !slots[i].emitted {
                slots[i].emitted = true
                slots[i].revision = 1
                emit(slot: i, closed: true)
                counters.windowsEmitted += 1
            } else if slots[i].emitted && slots[i].dirty {
                slots[i].revision += 1
                emit(slot: i, closed: true)
                counters.corrections += 1
            } else if final && !closed {
                emit(slot: i, closed: false)
            }
            slots[i].dirty = false
            if newest != .min, end <= newest - config.lateness * 1000 { purge.append(i) }
        }
        computeIndicators()
        for i in purge {
            let s = slots[i]
            windowIndex[WindowKey(series: s.series, resolution: s.resolution, start: s.start)] = nil
            let c = Int(s.series) * 3 + Int(s.resolution)
            if c < cacheSlot.count, cacheSlot[c] == Int32(i) {
                cacheSlot[c] = -1
                cacheStart[c] = .min
            }
            slots[i].live = false
            freeSlots.append(Int32(i))
        }
    }

    /// Emits corrections and indicator updates that are pending (the periodic flush calls this).
    public func flushCorrections() { sweep(final: false) }

    /// Emits every open window as provisional (at shutdown or at the end of a run).
    public func emitOpenWindows() { sweep(final: true) }

    private func emit(slot i: Int, closed: Bool) {
        let s = slots[i]
        let (group, attribute) = (Int(s.series) / slotsPerGroup, Int(s.series) % slotsPerGroup)
        let g = groups[group]
        let resolution = Resolution(rawValue: Int(s.resolution))!
        let name = seriesName(attribute)
        pendingWindows.append(WindowRecord(
            city: cities[Int(g.city)].id, domain: Domain.allCases[Int(g.domain)], district: district(of: group), attribute: name,
            resolution: resolution, start: s.start, end: s.start + lengths[Int(s.resolution)], partial: s.partial,
            revision: s.revision, closed: closed))
        let key = IndicatorKey(city: g.city, resolution: s.resolution, start: s.start)
        dirtyIndicators[key] = (dirtyIndicators[key] ?? true) && closed
    }

    func seriesName(_ attribute: Int) -> String {
        if attribute < schema.attributeCount {
            let (e, a) = schema.attribute(attribute)
            return "\(e.type).\(a.name)"
        }
        if attribute < schema.attributeCount + schema.entities.count {
            return "\(schema.entities[attribute - schema.attributeCount].type).devices"
        }
        return Derived(rawValue: attribute - schema.attributeCount - schema.entities.count)!.name
    }

    func district(of group: Int) -> String {
        let g = groups[group]
        let key = groupKeys.key(Int32(group))
        return String(decoding: key[Int(g.districtOffset)..<Int(g.districtOffset + g.districtLength)], as: UTF8.self)
    }

    /// The partial of a window if it is still open, merged over the districts of the city.
    func cityPartial(city: Int32, domain: Domain, attribute: Int, resolution: Int8, start: Int64) -> WindowPartial {
        var merged = WindowPartial()
        for (g, group) in groups.enumerated() where group.city == city && Int(group.domain) == domain.ordinal {
            let key = WindowKey(series: Int32(g * slotsPerGroup + attribute), resolution: resolution, start: start)
            if let slot = windowIndex[key] { merged.merge(slots[Int(slot)].partial) }
        }
        return merged
    }

    // MARK: registration (first message of a device)

    private func registerDevice(_ key: UnsafeBufferPointer<UInt8>, hash: UInt64) -> Int? {
        let text = String(decoding: key, as: UTF8.self)
        guard let parsed = TopicScheme.parse(text + "/attrs") else {
            lastDetail = "'\(text)/…' does not follow city/{city}/{domain}/{district}/{device}/attrs"
            return nil
        }
        guard parsed.device.utf8.count < Int16.max, key.count < Int16.max else { lastDetail = "topic too long"; return nil }
        let cityIndex: Int
        if let c = cities.firstIndex(where: { $0.id == parsed.city }) {
            cityIndex = c
        } else {
            let offset = config.city(parsed.city)?.utcOffset ?? 0
            cities.append(CityState(id: parsed.city, offsetMs: Int64((offset * 3_600_000).rounded())))
            cityIndex = cities.count - 1
        }
        let groupText = "city/\(parsed.city)/\(parsed.domain.rawValue)/\(parsed.district)"
        var groupBytes = Array(groupText.utf8)
        let group: Int32 = groupBytes.withUnsafeMutableBufferPointer { b in
            let gb = UnsafeBufferPointer(b)
            let h = ByteInterner.hash(gb)
            if let g = groupKeys.find(gb, hash: h) { return g }
            let g = groupKeys.insert(gb, hash: h)
            let districtOffset = groupText.utf8.count - parsed.district.utf8.count
            groups.append(GroupState(city: Int32(cityIndex), domain: Int8(parsed.domain.ordinal),
                                     districtOffset: Int16(districtOffset), districtLength: Int16(parsed.district.utf8.count)))
            return g
        }
        let id = topics.insert(key, hash: hash)
        groups[Int(group)].devices += 1
        var state = DeviceState(group: group)
        state.deviceOffset = Int16(key.count - parsed.device.utf8.count)
        state.deviceLength = Int16(parsed.device.utf8.count)
        devices.append(state)
        precondition(Int(id) == devices.count - 1)
        return Int(id)
    }

    /// The entity index named by a base name `urn:ngsi-ld:{Type}:{device}:` for this device.
    private func entityOf(baseName b: UnsafeBufferPointer<UInt8>, device: UnsafeBufferPointer<UInt8>) -> Int? {
        let prefix = 12  // "urn:ngsi-ld:"
        guard b.count > prefix + device.count + 2, equals(UnsafeBufferPointer(rebasing: b[0..<prefix]), "urn:ngsi-ld:"),
              b[b.count - 1] == UInt8(ascii: ":") else { return nil }
        let typeEnd = b.count - 2 - device.count
        guard b[typeEnd] == UInt8(ascii: ":"), equals(UnsafeBufferPointer(rebasing: b[(typeEnd + 1)..<(b.count - 1)]), device) else { return nil }
        let type = UnsafeBufferPointer(rebasing: b[prefix..<typeEnd])
        for (i, t) in entityTypeBytes.enumerated() where equals(type, t) { return i }
        return nil
    }

    // MARK: snapshot

    static let snapshotVersion: Int64 = 2

    /// The whole aggregation state (to be written with the journal position it covers).
    public func snapshot() -> [UInt8] {
        var w = SnapshotWriter()
        w.raw(Self.snapshotVersion)
        w.raw(counters)
        topics.write(to: &w)
        groupKeys.write(to: &w)
        w.array(devices)
        w.array(meters)
        w.array(groups)
        w.int(cities.count)
        for c in cities {
            w.string(c.id)
            w.raw(c.offsetMs)
            w.raw(c.newest)
            w.raw(c.lastBoundary)
        }
        let live = slots.filter(\.live)
        w.array(live)
        let revisions = indicatorRevisions.sorted { ($0.key.city, $0.key.resolution, $0.key.start) < ($1.key.city, $1.key.resolution, $1.key.start) }
        w.array(revisions.map(\.key))
        w.array(revisions.map(\.value))
        return w.bytes
    }

    public func restore(_ bytes: [UInt8]) throws(SnapshotError) {
        var r = SnapshotReader(bytes)
        guard try r.raw(Int64.self) == Self.snapshotVersion else { throw SnapshotError(description: "checkpoint of another format version") }
        counters = try r.raw(IngestCounters.self)
        topics = try ByteInterner.read(from: &r)
        groupKeys = try ByteInterner.read(from: &r)
        devices = try r.array()
        meters = try r.array()
        groups = try r.array()
        cities = []
        for _ in 0..<(try r.int()) {
            let id = try r.string()
            var c = CityState(id: id, offsetMs: try r.raw(Int64.self))
            c.newest = try r.raw(Int64.self)
            c.lastBoundary = try r.raw(Int64.self)
            cities.append(c)
        }
        slots = try r.array()
        freeSlots = []
        windowIndex = [:]
        for (i, s) in slots.enumerated() {
            windowIndex[WindowKey(series: s.series, resolution: s.resolution, start: s.start)] = Int32(i)
        }
        cacheStart = []
        cacheSlot = []
        let keys: [IndicatorKey] = try r.array()
        let values: [Int32] = try r.array()
        indicatorRevisions = Dictionary(uniqueKeysWithValues: zip(keys, values))
        dirtyIndicators = [:]
        guard r.isAtEnd else { throw SnapshotError(description: "checkpoint has trailing bytes") }
    }
}

@inline(__always)
func equals(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
    guard a.count == b.count else { return false }
    guard a.count > 0 else { return true }
    return memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
}

@inline(__always)
func equals(_ a: UnsafeBufferPointer<UInt8>, _ b: [UInt8]) -> Bool {
    b.withUnsafeBufferPointer { equals(a, $0) }
}

@inline(__always)
func equals(_ a: UnsafeBufferPointer<UInt8>, _ b: StaticString) -> Bool {
    equals(a, UnsafeBufferPointer(start: b.utf8Start, count: b.utf8CodeUnitCount))
}

func equals(_ a: UnsafeBufferPointer<UInt8>, _ b: String) -> Bool {
    var s = b
    return s.withUTF8 { equals(a, $0) }
}

@inline(__always)
func lastSlash(_ topic: UnsafeBufferPointer<UInt8>) -> Int? {
    var i = topic.count - 1
    while i > 0 {
        if topic[i] == UInt8(ascii: "/") { return i }
        i -= 1
    }
    return nil
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
