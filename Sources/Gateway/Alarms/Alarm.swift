import Foundation
import Telemetry
import YAMLReader

/// What a detector of the gateway watches for: the data quality of a device, or an event in
/// the city its readings show.
public enum AlarmKind: Int, CaseIterable, Sendable, Codable {
    case stuck, spike, silent, batteryLow, reboot
    case containerFire, overflow, containerTilt, pipeBurst, lampFailure, incident
    /// Data quality, numbered after the events so that checkpoints written before it still read.
    case drift

    public var name: String {
        switch self {
        case .stuck: "stuck"
        case .spike: "spike"
        case .silent: "silent"
        case .batteryLow: "battery-low"
        case .reboot: "reboot"
        case .containerFire: "container-fire"
        case .overflow: "overflow"
        case .containerTilt: "container-tilt"
        case .pipeBurst: "pipe-burst"
        case .lampFailure: "lamp-failure"
        case .incident: "incident"
        case .drift: "drift"
        }
    }

    public init?(name: String) {
        guard let kind = AlarmKind.allCases.first(where: { $0.name == name }) else { return nil }
        self = kind
    }

    /// The ground-truth label kind (`simulate --labels`) an alarm of this kind answers.
    public var label: String {
        switch self {
        case .spike: "spiking"
        case .batteryLow: "battery-sag"
        case .drift: "drifting"
        default: name
        }
    }

    /// Data quality (the device misbehaves) rather than an event in the city.
    public var isDataQuality: Bool { rawValue <= AlarmKind.reboot.rawValue || self == .drift }

    /// One alarm per district, not per device (every pressure sensor of a district sees its burst).
    public var perDistrict: Bool { self == .pipeBurst }

    public var severity: String {
        switch self {
        case .containerFire, .pipeBurst: "critical"
        case .incident, .overflow, .silent: "major"
        case .lampFailure, .containerTilt: "minor"
        case .stuck, .spike, .batteryLow, .reboot, .drift: "warning"
        }
    }
}

/// An alarm: raised by a detector at an event time, cleared when the condition ends (an
/// instant one, such as a spike or a reboot, is cleared when raised). One open alarm per
/// (device, kind), or per (district, kind) for district events. Its identity is (device, kind,
/// raised): replaying the same readings writes the same rows.
public struct Alarm: Sendable, Equatable, Codable {
    public var city: String
    public var domain: String
    public var district: String
    public var device: String
    public var kind: String
    public var severity: String
    /// Event time, ms since 1970.
    public var raised: Int64
    public var cleared: Int64?
    /// The reading that raised it (the attribute's value, or the silence in seconds).
    public var value: Double

    public init(city: String, domain: String, district: String, device: String, kind: String, severity: String,
                raised: Int64, cleared: Int64?, value: Double) {
        self.city = city
        self.domain = domain
        self.district = district
        self.device = device
        self.kind = kind
        self.severity = severity
        self.raised = raised
        self.cleared = cleared
        self.value = value
    }
}

extension Alarm {
    /// The retained topic of this alarm's device and kind.
    public var topic: String { TopicScheme.alarm(city: city, domain: domain, district: district, device: device, kind: kind) }

    /// The alarm as published: its fields and `state` (`raised` or `cleared`), keys sorted.
    public var message: [UInt8] {
        struct Published: Encodable {
            let alarm: Alarm
            func encode(to encoder: any Encoder) throws {
                try alarm.encode(to: encoder)
                var container = encoder.container(keyedBy: Key.self)
                try container.encode(alarm.cleared == nil ? "raised" : "cleared", forKey: Key(stringValue: "state")!)
            }
            struct Key: CodingKey {
                var stringValue: String
                var intValue: Int? { nil }
                init?(stringValue: String) { self.stringValue = stringValue }
                init?(intValue: Int) { nil }
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(Published(alarm: self))) ?? Data())
    }
}

/// The detectors' thresholds (`detectors:` in the gateway configuration).
public struct DetectorSettings: Sendable, Equatable {
    /// Reporting intervals without a reading before a device is silent.
    public var silentIntervals = 2.0
    /// A spike: over this many times the median of the device's last five values.
    public var spikeFactor = 4.0
    /// A traffic counter's spike: over this many times that median, while occupancy x speed /
    /// count departs this many times from its own median.
    public var spikeWitnessedFactor = 2.0
    public var spikeDeparture = 3.0
    /// Drift: a station's air pressure this share away from its district's other stations,
    /// this many readings in a row.
    public var driftShare = 0.01
    public var driftReadings = 3
    /// Readings with the same measurements in a row before a station is stuck.
    public var stuckRepeats = 3
    /// Battery share under which a meter's battery is low.
    public var batteryLow = 0.15
    /// Container temperature (°C) from which it burns.
    public var fireCelsius = 55.0
    /// Fill level from which a container overflows.
    public var overflowLevel = 0.999
    /// Pressure step down (kPa) of a burst.
    public var burstDropKPa = 60.0
    /// Power (W) under which a lamp that must burn has failed, and the sun's elevation (°)
    /// under which it must burn.
    public var lampWatts = 5.0
    public var lampSunElevation = -6.0
    /// An incident: speed under this share of free flow while the road carries under this
    /// share of its lanes' capacity.
    public var incidentSpeedShare = 0.5
    public var incidentLoadShare = 0.6

    public init() {}

    /// Reads the `detectors:` mapping; every field is optional, each refused out of its range.
    public init(_ field: YAMLField) throws(ConfigError) {
        self.init()
        let m = try field.mapping(allowed: ["silent-intervals", "spike-factor", "spike-witnessed-factor", "spike-departure",
                                            "drift-share", "drift-readings", "stuck-repeats", "battery-low", "fire-celsius", "overflow-level",
                                            "burst-drop-kpa", "lamp-watts", "lamp-sun-elevation", "incident-speed-share", "incident-load-share"])
        if let f = m["silent-intervals"] { silentIntervals = try f.double(in: 1...100) }
        if let f = m["spike-factor"] { spikeFactor = try f.double(in: 1.5...1000) }
        if let f = m["spike-witnessed-factor"] { spikeWitnessedFactor = try f.double(in: 1.2...1000) }
        if let f = m["spike-departure"] { spikeDeparture = try f.double(in: 1.2...1000) }
        if let f = m["drift-share"] { driftShare = try f.double(in: 0.001...1) }
        if let f = m["drift-readings"] { driftReadings = try f.int(in: 1...1000) }
        if let f = m["stuck-repeats"] { stuckRepeats = try f.int(in: 2...1000) }
        if let f = m["battery-low"] { batteryLow = try f.double(in: 0...1) }
        if let f = m["fire-celsius"] { fireCelsius = try f.double(in: 30...1000) }
        if let f = m["overflow-level"] { overflowLevel = try f.double(in: 0.5...1) }
        if let f = m["burst-drop-kpa"] { burstDropKPa = try f.double(in: 5...1000) }
        if let f = m["lamp-watts"] { lampWatts = try f.double(in: 0...1000) }
        if let f = m["lamp-sun-elevation"] { lampSunElevation = try f.double(in: -18...0) }
        if let f = m["incident-speed-share"] { incidentSpeedShare = try f.double(in: 0.05...1) }
        if let f = m["incident-load-share"] { incidentLoadShare = try f.double(in: 0.05...2) }
    }
}
