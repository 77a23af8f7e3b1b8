/// What one device did at one report, as its fleet and the fault injector saw it. The
/// generator alone turns it into messages: the telemetry (its values are in the generator's
/// value buffer), the status changes, and the queueing of delayed and duplicated copies.
struct DeviceReport {
    struct StatusChange: Equatable {
        var online: Bool
        /// Event time, s.
        var time: Int64
        var sendMs: Int64
        /// Dropped without an orderly disconnect (the broker sends the last will).
        var abrupt: Bool
    }

    var device = 0
    /// Event time, s.
    var time: Int64 = 0
    var sendMs: Int64 = 0
    var sequence: UInt32 = 0
    /// When the device is back after a reboot or a lost connection, s: its message leaves after that.
    var reconnectAt: Int64?
    /// Nothing is sent (a silent fault, a flat battery).
    var silent = false
    var duplicate = false
    /// Status messages the faults cause, in order (offline at a reboot, online when back).
    var statusChanges: [StatusChange] = []
    /// Faults that acted, for the statistics.
    var faults: [FaultKind] = []
    /// City events under way at the device (only while labels are recorded).
    var events: [Activity] = []

    mutating func reset(device: Int, time: Int64) {
        self.device = device
        self.time = time
        sendMs = time * 1000
        sequence = 0
        reconnectAt = nil
        silent = false
        duplicate = false
        statusChanges.removeAll(keepingCapacity: true)
        faults.removeAll(keepingCapacity: true)
        events.removeAll(keepingCapacity: true)
    }

    /// True when the message leaves at another time than its event time or twice.
    var isDeferred: Bool { sendMs != time * 1000 || duplicate }
}

/// The scenario's faults for one fleet, applied to a device's report: those that act before
/// the reading (reboots and lost connections, silence) and those that act on its values
/// (stuck, drifting, spiking, battery sag, duplicates, delays). Draws come from the device's
/// own fault stream, so a fault never changes another device's data.
struct FaultInjector {
    typealias Active = (spec: FaultSpec, salt: UInt64, from: Int64, to: Int64)

    let faults: [Active]
    /// Attribute positions sensor faults act on, and those of them that are measurements
    /// (a spike multiplies one of these).
    let sensed: [Int]
    let measured: [Int]
    /// Each attribute's physical range: a drifting or spiking sensor saturates at its ends
    /// (a humidity sensor reads at most 100 %), as real ones do.
    let ranges: [ClosedRange<Double>]
    let batteryAttribute: Int?
    let interval: Int64
    /// End of the scenario, s.
    let end: Int64
    private let hasStuck: Bool
    /// Values a stuck device keeps sending, by device index.
    private var stuckValues: [Int: [Double]] = [:]

    init(faults: [Active], sensed: [Int], measured: [Int], ranges: [ClosedRange<Double>], batteryAttribute: Int?, interval: Int64, end: Int64) {
        self.faults = faults
        self.sensed = sensed
        self.measured = measured
        self.ranges = ranges
        self.batteryAttribute = batteryAttribute
        self.interval = interval
        self.end = end
        hasStuck = faults.contains { $0.spec.kind == .stuck }
    }

    @inline(__always)
    private func saturated(_ value: Double, _ attribute: Int) -> Double {
        min(ranges[attribute].upperBound, max(ranges[attribute].lowerBound, value))
    }

    @inline(__always)
    private func affects(_ fault: Active, _ key: UInt64) -> Bool { mix64(key ^ fault.salt).unitInterval < fault.spec.share }

    /// Faults that act before the reading. Returns how many reboots the device's state must
    /// take; status changes and silence go into the report.
    func beforeReading(_ device: DeviceInfo, random: inout RandomStream, report: inout DeviceReport) -> Int {
        let time = report.time
        var reboots = 0
        // (A reboot late in the window shows at the first report after it, possibly past the window.)
        for fault in faults where time >= fault.from && time - interval < fault.to {
            guard affects(fault, device.key) else { continue }
            switch fault.spec.kind {
            case .reboot, .reconnectStorm:
                // One moment per device inside the window (storms: all within the first seconds).
                let length = min(fault.to, end) - fault.from
                let spread = fault.spec.kind == .reboot ? Double(max(1, length)) : min(5, Double(length))
                let moment = fault.from + Int64(mix64(device.key ^ fault.salt ^ 0x6d6f_6d).unitInterval * spread)
                if moment > time - interval && moment <= time {
                    if fault.spec.kind == .reboot { reboots += 1 }
                    let back = time + max(1, Int64(fault.spec.magnitude * (fault.spec.kind == .reboot ? 1 : random.unit())))
                    report.statusChanges.append(.init(online: false, time: time, sendMs: time * 1000, abrupt: true))
                    report.statusChanges.append(.init(online: true, time: back, sendMs: back * 1000, abrupt: false))
                    report.reconnectAt = back
                    report.faults.append(fault.spec.kind)
                }
            case .silent:
                if time < fault.to { report.silent = true }
            default:
                break
            }
        }
        return reboots
    }

    /// Faults that act on the reading's values, the send time and the copies sent.
    mutating func onReading(_ device: DeviceInfo, values: inout [Double], random: inout RandomStream, report: inout DeviceReport) {
        let time = report.time
        var delayMs: Int64 = 0
        for fault in faults where time >= fault.from && time < fault.to {
            guard affects(fault, device.key) else { continue }
            switch fault.spec.kind {
            case .stuck:
                if let frozen = stuckValues[device.index] {
                    for i in sensed { values[i] = frozen[i] }
                } else {
                    stuckValues[device.index] = values
                }
                report.faults.append(.stuck)
            case .drifting:
                let days = Double(time - fault.from) / 86400
                for i in sensed where !values[i].isNaN { values[i] = saturated(values[i] * (1 + fault.spec.magnitude * days), i) }
                report.faults.append(.drifting)
            case .spiking:
                if !measured.isEmpty, random.chance(fault.spec.probability) {
                    // A spike that leaves the value as it was (a zero, or one at the end of
                    // the sensor's range) is none.
                    let i = measured[Int(random.next() % UInt64(measured.count))]
                    let spiked = saturated(values[i] * fault.spec.magnitude, i)
                    if !values[i].isNaN, spiked != values[i] {
                        values[i] = spiked
                        report.faults.append(.spiking)
                    }
                }
            case .batterySag:
                if let battery = batteryAttribute {
                    let days = Double(time - fault.from) / 86400
                    values[battery] = max(0, values[battery] - fault.spec.magnitude * days)
                    if values[battery] < 0.05 { report.silent = true }
                    report.faults.append(.batterySag)
                }
            case .duplicate:
                if random.chance(fault.spec.probability) { report.duplicate = true }
            case .delayed:
                if random.chance(fault.spec.probability) {
                    delayMs = max(delayMs, Int64(random.unit() * fault.spec.magnitude * 1000) + 1)
                }
            default:
                break
            }
        }
        if hasStuck, stuckValues[device.index] != nil, !faults.contains(where: { $0.spec.kind == .stuck && time >= $0.from && time < $0.to }) {
            stuckValues[device.index] = nil
        }
        if report.silent {
            report.faults.append(.silent)
        } else {
            if report.duplicate { report.faults.append(.duplicate) }
            if delayMs > 0 { report.faults.append(.delayed) }
        }
        report.sendMs = time * 1000 + delayMs
        // A message after a reconnect leaves once the device is back.
        if let back = report.reconnectAt { report.sendMs = max(report.sendMs, back * 1000 + 1) }
    }
}
