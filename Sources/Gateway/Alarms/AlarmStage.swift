import Telemetry

/// What the detectors remember of one device between its readings (checkpointed as it lies).
struct DeviceWatch: BitwiseCopyable {
    /// Event time (ms) of the newest reading, and the gap before it.
    var last: Int64 = -1
    var gap: Int64 = 0
    /// The newest reading's measured values, hashed, and how many readings in a row repeated them.
    var signature: UInt64 = 0
    var repeats: Int32 = 0
    /// A network sensor's pressure (Pa) before a step down.
    var baseline: Double = .nan
    /// The last `depth` values of up to three watched attributes (for spikes), a ring; for a
    /// network sensor, its last three pressures outside a step down.
    var history: (Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var filled: UInt8 = 0
    var next: UInt8 = 0
    /// Readings in a row in a condition that must last to raise an alarm: a network sensor's
    /// pressure far under its usual level, a counter's road jammed under its capacity.
    var low: UInt8 = 0

    static let depth = 5

    /// The median of the ring of attribute `attribute`.
    func median(_ attribute: Int) -> Double {
        var recent = (0..<Int(filled)).map { Double(value(attribute, $0)) }
        recent.sort()
        return recent[recent.count / 2]
    }

    func value(_ attribute: Int, _ slot: Int) -> Float {
        withUnsafeBytes(of: history) { $0.load(fromByteOffset: (attribute * Self.depth + slot) * 4, as: Float.self) }
    }

    mutating func set(_ attribute: Int, _ slot: Int, _ value: Float) {
        withUnsafeMutableBytes(of: &history) { $0.storeBytes(of: value, toByteOffset: (attribute * Self.depth + slot) * 4, as: Float.self) }
    }
}

/// An open alarm as a checkpoint keeps it; `group` >= 0 for a district alarm.
struct OpenAlarm: BitwiseCopyable, Equatable {
    var device: Int32
    var group: Int32
    var kind: Int8
    var raised: Int64
    var value: Double
}

/// The gateway's detectors, a stage on the stream of accepted readings. Each keeps to the
/// readings of one device (and the district's, for bursts) and to event time, so replaying the
/// same readings raises and clears the same alarms.
///
/// With the default thresholds (`DetectorSettings`, `detectors:` in the configuration):
/// data quality: stuck (a station's whole set of measurements repeated three times), spike
/// (a value over four times the median of the device's last five, inside the physical range;
/// for a traffic counter, over twice that median while its other measurements do not follow),
/// drift (a station's air pressure 1 % away from its district's other stations, three readings),
/// silent (no reading for two of the device's reporting intervals, found when the city's
/// windows close), battery low (under 15 %, cleared at 25 %), reboot (a meter that restarted
/// from zero). Events: container fire (over 55 °C, cleared under 45 °C), overflow (filled to
/// 99.9 %, cleared under 95 %), container tilt (its status), pipe burst (a network sensor's
/// pressure stepping 60 kPa down and staying there a second reading; one alarm per district), lamp
/// failure (a lamp that draws under 5 W while the sun is 6° below the horizon at the city's
/// coordinates), traffic incident (under half the counter's free-flow speed while the road
/// carries under 60 % of its lanes' capacity, two readings in a row).
final class AlarmStage {
    struct Plan {
        var numeric: [Int] = []
        var stuck = false
        var spike: [Int] = []
        var spikeFloor: [Double] = []
        /// The spike attributes are a counter's count, occupancy and speed, which witness each
        /// other: occupancy x speed / count stays in proportion on a road whatever its traffic.
        var witnessed = false
        /// An attribute every station of a district reads alike (air pressure), for drift.
        var drift = -1
        var temperature = -1, fill = -1, status = -1, tiltIndex = -1, battery = -1, pressure = -1, power = -1, speed = -1
        var count = -1, lanes = -1
    }

    private(set) var watches: [DeviceWatch] = []
    /// The stations watched for drift, by district group (derived from `watches`).
    private var stations: [Int: [Int]] = [:]
    private var peerValues: [Double] = []
    /// Open alarms by key: device << 8 | kind, or 1 << 62 | group << 8 | kind for a district.
    private(set) var open: [Int64: OpenAlarm] = [:]
    /// Raised and cleared alarms not yet drained.
    var output: [Alarm] = []
    let plans: [Plan]
    private let registry: DeviceRegistry
    let settings: DetectorSettings

    init(schema: TelemetrySchema, registry: DeviceRegistry, settings: DetectorSettings = DetectorSettings()) {
        self.registry = registry
        self.settings = settings
        plans = schema.entities.indices.map { e in
            let entity = schema.entities[e]
            func id(_ name: String) -> Int { schema.attributeID(entity: entity.type, name: name) ?? -1 }
            var plan = Plan()
            plan.numeric = entity.attributes.indices.filter { entity.attributes[$0].kind == .number }.map { schema.attributeBase[e] + $0 }
            switch entity.type {
            case "AirQualityObserved":
                plan.stuck = true
                plan.spike = [id("pm25"), id("no2")]
                plan.spikeFloor = [10, 10]
                plan.drift = id("atmosphericPressure")
            case "TrafficFlowObserved":
                plan.spike = [id("intensity"), id("occupancy"), id("averageVehicleSpeed")]
                plan.spikeFloor = [3, 0.01, 5]
                plan.witnessed = plan.spike.allSatisfy { $0 >= 0 }
                plan.speed = id("averageVehicleSpeed")
                plan.count = id("intensity")
                plan.lanes = id("laneCount")
            case "Streetlight":
                plan.power = id("powerConsumption")
            case "WasteContainer":
                plan.temperature = id("temperature")
                plan.fill = id("fillingLevel")
                plan.status = id("status")
                plan.tiltIndex = entity.attributes.first { $0.name == "status" }?.allowed.firstIndex(of: "dropped") ?? -1
            case "WaterConsumptionObserved":
                plan.battery = id("batteryLevel")
            case "WaterObserved":
                plan.pressure = id("pressure")
            default:
                break
            }
            plan.spike = plan.spike.filter { $0 >= 0 }
            return plan
        }
    }

    /// Alarms open now, per kind.
    var active: [AlarmKind: Int] {
        var counts: [AlarmKind: Int] = [:]
        for alarm in open.values { if let kind = AlarmKind(rawValue: Int(alarm.kind)) { counts[kind, default: 0] += 1 } }
        return counts
    }

    /// Restores the detectors' memory from a checkpoint.
    func restore(watches: [DeviceWatch], open alarms: [OpenAlarm]) {
        self.watches = watches
        stations = [:]
        for device in watches.indices where !watches[device].baseline.isNaN {
            let state = registry.devices[device]
            if state.entity >= 0, plans[Int(state.entity)].drift >= 0 { stations[Int(state.group), default: []].append(device) }
        }
        open = Dictionary(uniqueKeysWithValues: alarms.map { (key($0.kind, device: Int($0.device), group: Int($0.group)), $0) })
    }

    var openList: [OpenAlarm] { open.sorted { $0.key < $1.key }.map(\.value) }

    // MARK: detection

    /// One accepted reading of `device` at `time` (ms). `freeFlow`: a traffic counter's
    /// free-flow speed, when known; `dark`: for a street lamp, whether it must burn now.
    /// Returns whether the reading is faulty by the detectors: a spike, or a stuck or
    /// flat-battery or drift alarm open on the device.
    @discardableResult
    func observe(device: Int, entity: Int, values: [ReadingValue], time: Int64, freeFlow: Double?, dark: Bool?) -> Bool {
        while watches.count <= device { watches.append(DeviceWatch()) }
        var w = watches[device]
        let plan = plans[entity]
        clear(.silent, device: device, at: time)
        if time > w.last {
            if w.last >= 0 { w.gap = time - w.last }
            w.last = time
        }
        func value(_ attribute: Int) -> Double? {
            guard attribute >= 0 else { return nil }
            for v in values where v.attribute == attribute { return v.value }
            return nil
        }
        if plan.stuck {
            var hasher = Hasher()
            var measured = 0
            for v in values where plan.numeric.contains(v.attribute) {
                hasher.combine(v.attribute)
                hasher.combine(v.value.bitPattern)
                measured += 1
            }
            let signature = UInt64(bitPattern: Int64(hasher.finalize()))
            if measured >= 3, signature == w.signature {
                w.repeats += 1
                if Int(w.repeats) >= settings.stuckRepeats - 1 { raise(.stuck, device: device, at: time, value: value(plan.numeric[0]) ?? 0) }
            } else {
                w.repeats = 0
                clear(.stuck, device: device, at: time)
            }
            w.signature = signature
        }
        var spiked: Double?
        if plan.witnessed {
            spiked = witnessedSpike(w, plan: plan, value: value)
        } else if Int(w.filled) >= DeviceWatch.depth - 1 {
            for (k, attribute) in plan.spike.enumerated() {
                guard let x = value(attribute) else { continue }
                // The median of five shrugs off the spike itself, and a level that really moved
                // is the median after three readings.
                if x > settings.spikeFactor * w.median(k) + plan.spikeFloor[k] { spiked = x }
            }
        }
        for (k, attribute) in plan.spike.enumerated() {
            if let x = value(attribute) { w.set(k, Int(w.next), Float(x)) }
        }
        if !plan.spike.isEmpty {
            w.next = UInt8((Int(w.next) + 1) % DeviceWatch.depth)
            w.filled = UInt8(min(DeviceWatch.depth, Int(w.filled) + 1))
        }
        if let spiked { instant(.spike, device: device, at: time, value: spiked) }
        if let b = value(plan.battery) {
            if b < settings.batteryLow { raise(.batteryLow, device: device, at: time, value: b) } else if b >= settings.batteryLow + 0.1 { clear(.batteryLow, device: device, at: time) }
        }
        if let t = value(plan.temperature) {
            if t >= settings.fireCelsius { raise(.containerFire, device: device, at: time, value: t) } else if t < settings.fireCelsius - 10 { clear(.containerFire, device: device, at: time) }
        }
        if let f = value(plan.fill) {
            if f >= settings.overflowLevel { raise(.overflow, device: device, at: time, value: f) } else if f < settings.overflowLevel - 0.05 { clear(.overflow, device: device, at: time) }
        }
        if let s = value(plan.status), plan.tiltIndex >= 0 {
            let index = s >= 0 ? Int(s) : Int(-s) - 1
            if index == plan.tiltIndex { raise(.containerTilt, device: device, at: time, value: 1) } else { clear(.containerTilt, device: device, at: time) }
        }
        if let p = value(plan.pressure) {
            let group = Int(registry.devices[device].group)
            let districtKey = key(Int8(AlarmKind.pipeBurst.rawValue), device: device, group: group)
            // A burst is a step: 60 kPa under the median of the three readings before it, and
            // still there at the next reading (a transient comes back at once, and a median
            // shrugs one off; demand moves pressure slowly, and the median follows it). It ends
            // when pressure is back within 60 kPa of that level.
            if w.low == 0, w.filled == 3 {
                var recent = (0..<Int(w.filled)).map { Double(w.value(0, $0)) }
                recent.sort()
                w.baseline = recent[recent.count / 2]
            }
            w.low = !w.baseline.isNaN && p < w.baseline - settings.burstDropKPa * 1000 ? w.low &+ 1 : 0
            if let burst = open[districtKey] {
                if Int(burst.device) == device, w.low == 0 { clear(.pipeBurst, device: device, group: group, at: time) }
            } else if w.low >= 2 {
                raise(.pipeBurst, device: device, group: group, at: time, value: p)
            }
            if w.low == 0 {
                w.set(0, Int(w.next), Float(p))
                w.next = UInt8((Int(w.next) + 1) % 3)
                w.filled = UInt8(min(3, Int(w.filled) + 1))
            }
        }
        if let p = value(plan.drift) { drift(device: device, pressure: p, time: time, watch: &w) }
        if let dark, let power = value(plan.power) {
            if dark {
                if power < settings.lampWatts { raise(.lampFailure, device: device, at: time, value: power) } else { clear(.lampFailure, device: device, at: time) }
            }
        }
        // An incident: the road jammed (under half its free-flow speed) while it carries under
        // 60 % of its lanes' capacity (1,800 vehicles an hour a lane); a road jammed by
        // demand carries its capacity.
        if let speed = value(plan.speed), let free = freeFlow, free > 0, let count = value(plan.count), let lanes = value(plan.lanes),
           lanes > 0, w.gap > 0 {
            let load = count * 3_600_000 / Double(w.gap) / (lanes * 1800)
            // Two readings in a row: one short count is noise.
            w.low = speed < settings.incidentSpeedShare * free && load < settings.incidentLoadShare ? w.low &+ 1 : 0
            if w.low >= 2 {
                raise(.incident, device: device, at: time, value: speed)
            } else if speed >= (settings.incidentSpeedShare + 0.1) * free || load >= settings.incidentLoadShare + 0.2 {
                clear(.incident, device: device, at: time)
            }
        }
        watches[device] = w
        guard !open.isEmpty else { return spiked != nil }
        return spiked != nil || open[key(Int8(AlarmKind.stuck.rawValue), device: device, group: -1)] != nil
            || open[key(Int8(AlarmKind.batteryLow.rawValue), device: device, group: -1)] != nil
            || open[key(Int8(AlarmKind.drift.rawValue), device: device, group: -1)] != nil
    }

    /// A traffic counter's spike: one of count, occupancy and speed over `spike-witnessed-factor`
    /// times the median of the counter's last five (plus a floor), while occupancy x speed / count
    /// departs `spike-departure` times from its own median the way that measurement moves it.
    /// Traffic that really changes (a rush, a queue) moves all three together and keeps the
    /// ratio; a sensor's spike moves one alone.
    private func witnessedSpike(_ w: DeviceWatch, plan: Plan, value: (Int) -> Double?) -> Double? {
        guard w.filled >= 3, let count = value(plan.spike[0]), let occupancy = value(plan.spike[1]), let speed = value(plan.spike[2]) else { return nil }
        func ratio(_ count: Double, _ occupancy: Double, _ speed: Double) -> Double { (occupancy + 0.005) * speed / (count + 2) }
        var past = (0..<Int(w.filled)).map { ratio(Double(w.value(0, $0)), Double(w.value(1, $0)), Double(w.value(2, $0))) }
        past.sort()
        let usual = past[past.count / 2], now = ratio(count, occupancy, speed)
        let current = [count, occupancy, speed]
        for k in 0..<3 where current[k] > settings.spikeWitnessedFactor * w.median(k) + plan.spikeFloor[k] {
            // A count spike lowers the ratio; an occupancy or speed spike raises it.
            if k == 0 ? now * settings.spikeDeparture < usual : now > usual * settings.spikeDeparture { return current[k] }
        }
        return nil
    }

    /// Drift: a station whose air pressure, which every station of a district reads alike,
    /// departs from the median of the district's other stations by more than `drift-share` for
    /// `drift-readings` readings in a row; cleared when it is back.
    /// Peers a drift check compares with at most (about): a district's stations are sampled above it.
    static let driftPeers = 24

    private func drift(device: Int, pressure: Double, time: Int64, watch w: inout DeviceWatch) {
        let group = Int(registry.devices[device].group)
        if w.baseline.isNaN { stations[group, default: []].append(device) }
        w.baseline = pressure
        peerValues.removeAll(keepingCapacity: true)
        // A district of many stations is sampled: every k-th of them, so that a reading costs
        // the same in a district of 20 stations and of 2,000 (their median is as good).
        let peers = stations[group] ?? []
        let step = max(1, peers.count / AlarmStage.driftPeers)
        for peer in stride(from: device % step, to: peers.count, by: step).lazy.map({ peers[$0] })
            where peer != device && watches[peer].last >= 0 && !watches[peer].baseline.isNaN {
            peerValues.append(watches[peer].baseline)
        }
        // Three other stations at least, or the median is one station's word against another's.
        guard peerValues.count >= 3 else { return }
        peerValues.sort()
        let median = peerValues[peerValues.count / 2]
        if abs(pressure - median) > settings.driftShare * abs(median) {
            w.low = w.low &+ 1
            if Int(w.low) >= settings.driftReadings { raise(.drift, device: device, at: time, value: pressure) }
        } else {
            w.low = 0
            clear(.drift, device: device, at: time)
        }
    }

    /// A meter of `device` restarted from zero at `time`: it rebooted.
    func meterReset(device: Int, at time: Int64) {
        instant(.reboot, device: device, at: time, value: 0)
    }

    /// Raises `silent` for the devices of `city` whose newest reading is older than two of
    /// their reporting intervals (and a minute) at the city's clock `now` (ms).
    func sweepSilence(city: Int, now: Int64) {
        for device in watches.indices {
            let w = watches[device]
            guard w.last >= 0, w.gap > 0, Double(now - w.last) > settings.silentIntervals * Double(w.gap) + 60_000, registry.city(ofDevice: device) == city else { continue }
            raise(.silent, device: device, at: now, value: Double(now - w.last) / 1000)
        }
    }

    // MARK: life cycle

    private func key(_ kind: Int8, device: Int, group: Int) -> Int64 {
        group >= 0 ? 1 << 62 | Int64(group) << 8 | Int64(kind) : Int64(device) << 8 | Int64(kind)
    }

    private func raise(_ kind: AlarmKind, device: Int, group: Int = -1, at time: Int64, value: Double) {
        let k = key(Int8(kind.rawValue), device: device, group: group)
        guard open[k] == nil else { return }
        let alarm = OpenAlarm(device: Int32(device), group: Int32(group), kind: Int8(kind.rawValue), raised: time, value: value)
        open[k] = alarm
        output.append(describe(alarm, cleared: nil))
    }

    private func clear(_ kind: AlarmKind, device: Int, group: Int = -1, at time: Int64) {
        guard !open.isEmpty, let alarm = open.removeValue(forKey: key(Int8(kind.rawValue), device: device, group: group)) else { return }
        output.append(describe(alarm, cleared: max(time, alarm.raised)))
    }

    /// An alarm raised and cleared by one reading.
    private func instant(_ kind: AlarmKind, device: Int, at time: Int64, value: Double) {
        guard open[key(Int8(kind.rawValue), device: device, group: -1)] == nil else { return }
        output.append(describe(OpenAlarm(device: Int32(device), group: -1, kind: Int8(kind.rawValue), raised: time, value: value), cleared: time))
    }

    private func describe(_ alarm: OpenAlarm, cleared: Int64?) -> Alarm {
        let d = Int(alarm.device)
        let state = registry.devices[d]
        let kind = AlarmKind(rawValue: Int(alarm.kind))!
        let name = String(decoding: registry.topics.key(Int32(d))[registry.deviceRange(d)], as: UTF8.self)
        return Alarm(city: registry.cities[registry.city(ofDevice: d)], domain: registry.domain(ofDevice: d).rawValue,
                     district: registry.district(ofGroup: Int(state.group)), device: name, kind: kind.name, severity: kind.severity,
                     raised: alarm.raised, cleared: cleared, value: alarm.value)
    }
}
