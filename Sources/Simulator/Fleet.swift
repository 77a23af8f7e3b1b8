import Foundation
import Telemetry

/// The part of a fleet the generator drives without knowing the device model.
class FleetRunner {
    let city: CityContext
    let domain: Domain
    let entityType: StaticBytes
    let code: String
    let interval: Int64
    /// All devices of the fleet (across shards).
    let count: Int
    /// First device index of each district, plus `count` at the end.
    let districtStarts: [Int]
    let fleetKey: UInt64
    let seed: UInt64
    let connection: FleetSettings
    /// Position of this fleet in its generator.
    var slot = 0
    /// Devices of this shard, in the order they report within a period, and their phases.
    var order: [UInt32] = []
    var phases: [UInt32] = []
    var sequence: [UInt32] = []
    // Cursor over (period, position).
    var period: Int64 = 0
    var position = 0
    var nextTime = Int64.max
    let end: Int64
    let topicParts: [(attrs: ([UInt8], [UInt8]), status: ([UInt8], [UInt8]))]
    private let idPrefix: [UInt8]
    private let idDigits: Int

    let faults: [(spec: FaultSpec, salt: UInt64, from: Int64, to: Int64)]
    let hasStuck: Bool
    var stuckValues: [Int: [Double]] = [:]
    let sensed: [Int]
    let scenarioStart: Int64

    init<Model: DeviceModel>(model: Model, city: CityContext, settings: FleetSettings, districtStarts: [Int],
                             scenario: Scenario, shard: Shard) {
        self.city = city
        domain = model.domain
        entityType = model.entityType
        code = model.code
        scenarioStart = scenario.start
        faults = scenario.faults.enumerated().compactMap { offset, spec in
            guard spec.family == nil || spec.family == model.domain, spec.city == nil || spec.city == city.city.id else { return nil }
            let from = scenario.start + spec.start
            let to = spec.duration.map { from + $0 } ?? Int64.max
            return (spec, nameKey("fault/\(offset)/\(spec.kind.rawValue)"), from, to)
        }
        hasStuck = faults.contains { $0.spec.kind == .stuck }
        sensed = model.attributes.indices.filter { model.attributes[$0].sensed }
        interval = settings.interval
        count = settings.count
        connection = settings
        self.districtStarts = districtStarts
        fleetKey = nameKey("\(city.city.id)/\(model.code)")
        seed = scenario.seed
        end = scenario.start + scenario.duration
        idPrefix = Array("\(city.city.code)-\(model.code)-".utf8)
        idDigits = max(6, String(max(0, settings.count - 1)).count)
        let domain = model.domain
        topicParts = city.city.districts.map { district in
            func split(_ kind: String) -> ([UInt8], [UInt8]) {
                let text = scenario.mqtt.topic
                    .replacingOccurrences(of: "{city}", with: city.city.id)
                    .replacingOccurrences(of: "{domain}", with: domain.rawValue)
                    .replacingOccurrences(of: "{district}", with: district.id)
                    .replacingOccurrences(of: "{kind}", with: kind)
                let range = text.range(of: "{device}")!
                return (Array(text[..<range.lowerBound].utf8), Array(text[range.upperBound...].utf8))
            }
            return (split("attrs"), split("status"))
        }
        // This shard's devices, ordered by their reporting phase within the interval.
        var entries: [(phase: UInt32, index: UInt32)] = []
        for index in 0..<settings.count {
            let key = deviceKey(index)
            guard shard.owns(key) else { continue }
            entries.append((UInt32(mix64(key ^ 0x7068_6173) % UInt64(interval)), UInt32(index)))
        }
        entries.sort { ($0.phase, $0.index) < ($1.phase, $1.index) }
        order = entries.map(\.index)
        phases = entries.map(\.phase)
        sequence = [UInt32](repeating: 0, count: entries.count)
        // First report at or after the start.
        period = scenario.start >= 0 ? scenario.start / interval : (scenario.start - interval + 1) / interval
        position = 0
        while position < phases.count, period * interval + Int64(phases[position]) < scenario.start { position += 1 }
        updateNext()
    }

    var localCount: Int { order.count }

    @inline(__always)
    func deviceKey(_ index: Int) -> UInt64 { mix64(seed ^ mix64(fleetKey &+ UInt64(index) &* 0x9E37_79B9)) }

    @inline(__always)
    func district(of index: Int) -> Int {
        var low = 0
        var high = districtStarts.count - 2
        while low < high {
            let mid = (low + high + 1) / 2
            if districtStarts[mid] <= index { low = mid } else { high = mid - 1 }
        }
        return low
    }

    func info(_ index: Int) -> DeviceInfo {
        DeviceInfo(index: index, key: deviceKey(index), district: district(of: index))
    }

    final func updateNext() {
        if position >= phases.count {
            guard !phases.isEmpty else {
                nextTime = .max
                return
            }
            period += 1
            position = 0
        }
        let time = period * interval + Int64(phases[position])
        nextTime = time < end ? time : .max
    }

    /// The device id (`alm-sl-000042`) into `bytes`.
    final func writeDeviceID(_ index: Int, into bytes: inout [UInt8]) {
        bytes.append(contentsOf: idPrefix)
        bytes.appendDecimal(UInt64(index), minimumDigits: idDigits)
    }

    public func deviceID(_ index: Int) -> String {
        var bytes: [UInt8] = []
        writeDeviceID(index, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    final func writeTopic(_ index: Int, status: Bool, into bytes: inout [UInt8]) {
        let parts = topicParts[district(of: index)]
        let (prefix, suffix) = status ? parts.status : parts.attrs
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: prefix)
        writeDeviceID(index, into: &bytes)
        bytes.append(contentsOf: suffix)
    }

    static let online = Array("online".utf8)
    static let offline = Array("offline".utf8)

    /// Writes the report of the device at the cursor into the generator and advances; false when
    /// the device sent nothing now (silent, or its message was delayed). Each model's fleet overrides it.
    func emit(_ generator: Generator) -> Bool { fatalError("FleetRunner.emit is implemented by each model's fleet") }

    /// Writes a status message for `index` into `message`.
    final func writeStatus(_ index: Int, online: Bool, at time: Int64, abrupt: Bool, into message: inout SimMessage) {
        message.kind = .status
        writeTopic(index, status: true, into: &message.topic)
        message.payload.removeAll(keepingCapacity: true)
        message.payload.append(contentsOf: online ? FleetRunner.online : FleetRunner.offline)
        message.retain = true
        message.eventTime = time
        message.sendTime = time * 1000
        message.domain = domain
        message.fleet = slot
        message.device = index
        message.abrupt = abrupt
    }
}

/// One fleet per device model: the model and its devices' states. Each is a concrete class so
/// that `report` below is specialised for the model (a generic class would look up the model's
/// type metadata on every message).
final class TrafficFleet: FleetRunner {
    let model: TrafficCounter
    var states: [TrafficCounter.State] = []
    init(_ model: TrafficCounter, city: CityContext, settings: FleetSettings, districtStarts: [Int], scenario: Scenario, shard: Shard) {
        self.model = model
        super.init(model: model, city: city, settings: settings, districtStarts: districtStarts, scenario: scenario, shard: shard)
        states = makeStates(model)
    }
    override func emit(_ generator: Generator) -> Bool { report(model, &states, generator) }
}

final class LightingFleet: FleetRunner {
    let model: Streetlight
    var states: [Streetlight.State] = []
    init(_ model: Streetlight, city: CityContext, settings: FleetSettings, districtStarts: [Int], scenario: Scenario, shard: Shard) {
        self.model = model
        super.init(model: model, city: city, settings: settings, districtStarts: districtStarts, scenario: scenario, shard: shard)
        states = makeStates(model)
    }
    override func emit(_ generator: Generator) -> Bool { report(model, &states, generator) }
}

final class WasteFleet: FleetRunner {
    let model: WasteContainer
    var states: [WasteContainer.State] = []
    init(_ model: WasteContainer, city: CityContext, settings: FleetSettings, districtStarts: [Int], scenario: Scenario, shard: Shard) {
        self.model = model
        super.init(model: model, city: city, settings: settings, districtStarts: districtStarts, scenario: scenario, shard: shard)
        states = makeStates(model)
    }
    override func emit(_ generator: Generator) -> Bool { report(model, &states, generator) }
}

final class WaterMeterFleet: FleetRunner {
    let model: WaterMeter
    var states: [WaterMeter.State] = []
    init(_ model: WaterMeter, city: CityContext, settings: FleetSettings, districtStarts: [Int], scenario: Scenario, shard: Shard) {
        self.model = model
        super.init(model: model, city: city, settings: settings, districtStarts: districtStarts, scenario: scenario, shard: shard)
        states = makeStates(model)
    }
    override func emit(_ generator: Generator) -> Bool { report(model, &states, generator) }
}

final class WaterNetworkFleet: FleetRunner {
    let model: WaterNetworkSensor
    var states: [WaterNetworkSensor.State] = []
    init(_ model: WaterNetworkSensor, city: CityContext, settings: FleetSettings, districtStarts: [Int], scenario: Scenario, shard: Shard) {
        self.model = model
        super.init(model: model, city: city, settings: settings, districtStarts: districtStarts, scenario: scenario, shard: shard)
        states = makeStates(model)
    }
    override func emit(_ generator: Generator) -> Bool { report(model, &states, generator) }
}

final class AirQualityFleet: FleetRunner {
    let model: AirQualityStation
    var states: [AirQualityStation.State] = []
    init(_ model: AirQualityStation, city: CityContext, settings: FleetSettings, districtStarts: [Int], scenario: Scenario, shard: Shard) {
        self.model = model
        super.init(model: model, city: city, settings: settings, districtStarts: districtStarts, scenario: scenario, shard: shard)
        states = makeStates(model)
    }
    override func emit(_ generator: Generator) -> Bool { report(model, &states, generator) }
}

extension FleetRunner {
    /// Every device's state just before the first report.
    func makeStates<Model: DeviceModel>(_ model: Model) -> [Model.State] {
        let first = scenarioStart - interval
        return order.map { model.initialState(info(Int($0)), at: first) }
    }

    /// Writes the report of the device at the cursor into the generator and advances; false when
    /// the device sent nothing now (silent, or its message was delayed).
    @inline(__always)
    func report<Model: DeviceModel>(_ model: Model, _ states: inout [Model.State], _ generator: Generator) -> Bool {
        let time = nextTime
        let at = position
        position += 1
        defer { updateNext() }
        let index = Int(order[at])
        let device = info(index)
        let absolutePeriod = UInt64(bitPattern: (time - Int64(phases[at])) / interval)

        // Faults that act before the reading: reboots and lost connections.
        var faultRandom = RandomStream(key: device.key ^ 0x6661_756c, counter: absolutePeriod << 24)
        var silent = false
        var delayMs: Int64 = 0
        var duplicate = false
        var reconnectAt: Int64?
        // (A reboot late in the window shows at the first report after it, possibly past the window.)
        for fault in faults where time >= fault.from && time - interval < fault.to {
            guard mix64(device.key ^ fault.salt).unitInterval < fault.spec.share else { continue }
            switch fault.spec.kind {
            case .reboot, .reconnectStorm:
                // One moment per device inside the window (storms: all within the first seconds).
                let length = min(fault.to, end) - fault.from
                let spread = fault.spec.kind == .reboot ? Double(max(1, length)) : min(5, Double(length))
                let moment = fault.from + Int64(mix64(device.key ^ fault.salt ^ 0x6d6f_6d).unitInterval * spread)
                if moment > time - interval && moment <= time {
                    if fault.spec.kind == .reboot { model.reboot(&states[at]) }
                    let back = time + max(1, Int64(fault.spec.magnitude * (fault.spec.kind == .reboot ? 1 : faultRandom.unit())))
                    generator.schedule(status: false, fleet: self, device: index, at: time, sendMs: time * 1000, abrupt: true)
                    generator.schedule(status: true, fleet: self, device: index, at: back, sendMs: back * 1000, abrupt: false)
                    reconnectAt = back
                    generator.count(fault.spec.kind)
                }
            case .silent:
                if time < fault.to { silent = true }
            default:
                break
            }
        }

        var values: [Double] = []
        swap(&values, &generator.values)
        defer { swap(&values, &generator.values) }
        var random = RandomStream(key: device.key, counter: absolutePeriod << 24)
        model.report(&states[at], device, time: time, interval: interval, random: &random, values: &values)

        // Faults that act on the reading.
        for fault in faults where time >= fault.from && time < fault.to {
            guard mix64(device.key ^ fault.salt).unitInterval < fault.spec.share else { continue }
            switch fault.spec.kind {
            case .stuck:
                if let frozen = stuckValues[index] {
                    for i in sensed { values[i] = frozen[i] }
                } else {
                    stuckValues[index] = values
                }
                generator.count(.stuck)
            case .drifting:
                let days = Double(time - fault.from) / 86400
                for i in sensed where !values[i].isNaN { values[i] *= 1 + fault.spec.magnitude * days }
                generator.count(.drifting)
            case .spiking:
                if !sensed.isEmpty, faultRandom.chance(fault.spec.probability) {
                    let i = sensed[Int(faultRandom.next() % UInt64(sensed.count))]
                    if !values[i].isNaN { values[i] *= fault.spec.magnitude }
                    generator.count(.spiking)
                }
            case .batterySag:
                if let battery = model.batteryAttribute {
                    let days = Double(time - fault.from) / 86400
                    values[battery] = max(0, values[battery] - fault.spec.magnitude * days)
                    if values[battery] < 0.05 { silent = true }
                    generator.count(.batterySag)
                }
            case .duplicate:
                if faultRandom.chance(fault.spec.probability) { duplicate = true }
            case .delayed:
                if faultRandom.chance(fault.spec.probability) {
                    delayMs = max(delayMs, Int64(faultRandom.unit() * fault.spec.magnitude * 1000) + 1)
                }
            default:
                break
            }
        }
        if hasStuck, stuckValues[index] != nil, !faults.contains(where: { $0.spec.kind == .stuck && time >= $0.from && time < $0.to }) {
            stuckValues[index] = nil
        }
        if silent {
            generator.count(.silent)
            return false
        }
        sequence[at] &+= 1
        var sendMs = time * 1000 + delayMs
        if let reconnectAt { sendMs = max(sendMs, reconnectAt * 1000 + 1) }
        generator.encode(fleet: self, device: index, time: time, sendMs: sendMs, sequence: sequence[at],
                         attributes: model.attributes, values: values)
        if duplicate { generator.count(.duplicate) }
        if delayMs > 0 { generator.count(.delayed) }
        if sendMs != time * 1000 || duplicate {
            generator.deferCurrent(duplicate: duplicate)
            return false
        }
        return true
    }
}
