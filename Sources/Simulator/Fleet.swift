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

    var faults: FaultInjector
    /// Whether reports carry the model's city events (for the ground-truth labels).
    var labelling = false
    /// How the model's values are written.
    let attributes: [Attribute]
    let scenarioStart: Int64

    init<Model: DeviceModel>(model: Model, city: CityContext, settings: FleetSettings, districtStarts: [Int],
                             scenario: Scenario, shard: Shard) {
        self.city = city
        domain = model.domain
        entityType = model.entityType
        code = model.code
        scenarioStart = scenario.start
        let active: [FaultInjector.Active] = scenario.faults.enumerated().compactMap { offset, spec in
            guard spec.family == nil || spec.family == model.domain, spec.city == nil || spec.city == city.city.id else { return nil }
            let from = scenario.start + spec.start
            let to = spec.duration.map { from + $0 } ?? Int64.max
            return (spec, nameKey("fault/\(offset)/\(spec.kind.rawValue)"), from, to)
        }
        faults = FaultInjector(faults: active, sensed: model.attributes.indices.filter { model.attributes[$0].sensed },
                               measured: model.attributes.indices.filter {
                                   guard model.attributes[$0].sensed, case .measure = model.attributes[$0].kind else { return false }
                                   return true
                               },
                               ranges: model.attributes.map(\.range),
                               batteryAttribute: model.batteryAttribute, interval: settings.interval,
                               end: scenario.start + scenario.duration)
        attributes = model.attributes
        interval = settings.interval
        count = settings.count
        connection = settings
        self.districtStarts = districtStarts
        fleetKey = nameKey("\(city.city.id)/\(model.code)")
        seed = scenario.seed
        end = scenario.start + scenario.duration
        idPrefix = Array("\(city.city.code)-\(model.code)-".utf8)
        idDigits = FleetRunner.idDigits(count: settings.count)
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

    /// Digits of the index in a fleet's device ids (at least 6, more for larger fleets).
    static func idDigits(count: Int) -> Int { max(6, String(max(0, count - 1)).count) }

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

    static let online = Array(Envelope.statusOnline.description.utf8)
    static let offline = Array(Envelope.statusOffline.description.utf8)

    /// Reports the device at the cursor and advances: its values into `values`, what it and
    /// its faults did into `report`. Each model's fleet overrides it.
    func emit(into report: inout DeviceReport, values: inout [Double]) { fatalError("FleetRunner.emit is implemented by each model's fleet") }

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
    override func emit(into report: inout DeviceReport, values: inout [Double]) { self.report(model, &states, into: &report, values: &values) }
}

final class LightingFleet: FleetRunner {
    let model: Streetlight
    var states: [Streetlight.State] = []
    init(_ model: Streetlight, city: CityContext, settings: FleetSettings, districtStarts: [Int], scenario: Scenario, shard: Shard) {
        self.model = model
        super.init(model: model, city: city, settings: settings, districtStarts: districtStarts, scenario: scenario, shard: shard)
        states = makeStates(model)
    }
    override func emit(into report: inout DeviceReport, values: inout [Double]) { self.report(model, &states, into: &report, values: &values) }
}

final class WasteFleet: FleetRunner {
    let model: WasteContainer
    var states: [WasteContainer.State] = []
    init(_ model: WasteContainer, city: CityContext, settings: FleetSettings, districtStarts: [Int], scenario: Scenario, shard: Shard) {
        self.model = model
        super.init(model: model, city: city, settings: settings, districtStarts: districtStarts, scenario: scenario, shard: shard)
        states = makeStates(model)
    }
    override func emit(into report: inout DeviceReport, values: inout [Double]) { self.report(model, &states, into: &report, values: &values) }
}

final class WaterMeterFleet: FleetRunner {
    let model: WaterMeter
    var states: [WaterMeter.State] = []
    init(_ model: WaterMeter, city: CityContext, settings: FleetSettings, districtStarts: [Int], scenario: Scenario, shard: Shard) {
        self.model = model
        super.init(model: model, city: city, settings: settings, districtStarts: districtStarts, scenario: scenario, shard: shard)
        states = makeStates(model)
    }
    override func emit(into report: inout DeviceReport, values: inout [Double]) { self.report(model, &states, into: &report, values: &values) }
}

final class WaterNetworkFleet: FleetRunner {
    let model: WaterNetworkSensor
    var states: [WaterNetworkSensor.State] = []
    init(_ model: WaterNetworkSensor, city: CityContext, settings: FleetSettings, districtStarts: [Int], scenario: Scenario, shard: Shard) {
        self.model = model
        super.init(model: model, city: city, settings: settings, districtStarts: districtStarts, scenario: scenario, shard: shard)
        states = makeStates(model)
    }
    override func emit(into report: inout DeviceReport, values: inout [Double]) { self.report(model, &states, into: &report, values: &values) }
}

final class AirQualityFleet: FleetRunner {
    let model: AirQualityStation
    var states: [AirQualityStation.State] = []
    init(_ model: AirQualityStation, city: CityContext, settings: FleetSettings, districtStarts: [Int], scenario: Scenario, shard: Shard) {
        self.model = model
        super.init(model: model, city: city, settings: settings, districtStarts: districtStarts, scenario: scenario, shard: shard)
        states = makeStates(model)
    }
    override func emit(into report: inout DeviceReport, values: inout [Double]) { self.report(model, &states, into: &report, values: &values) }
}

extension FleetRunner {
    /// Every device's state just before the first report.
    func makeStates<Model: DeviceModel>(_ model: Model) -> [Model.State] {
        let first = scenarioStart - interval
        return order.map { model.initialState(info(Int($0)), at: first) }
    }

    /// Reports the device at the cursor and advances.
    @inline(__always)
    func report<Model: DeviceModel>(_ model: Model, _ states: inout [Model.State], into report: inout DeviceReport, values: inout [Double]) {
        let time = nextTime
        let at = position
        position += 1
        defer { updateNext() }
        let index = Int(order[at])
        let device = info(index)
        let absolutePeriod = UInt64(bitPattern: (time - Int64(phases[at])) / interval)
        report.reset(device: index, time: time)

        var faultRandom = RandomStream(key: device.key ^ 0x6661_756c, counter: absolutePeriod << 24)
        for _ in 0..<faults.beforeReading(device, random: &faultRandom, report: &report) { model.reboot(&states[at]) }
        var random = RandomStream(key: device.key, counter: absolutePeriod << 24)
        model.report(&states[at], device, time: time, interval: interval, random: &random, values: &values)
        if labelling { model.events(states[at], device, time: time, values: values, into: &report.events) }
        faults.onReading(device, values: &values, random: &faultRandom, report: &report)
        guard !report.silent else { return }
        sequence[at] &+= 1
        report.sequence = sequence[at]
    }
}
