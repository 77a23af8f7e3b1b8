import Foundation
import Telemetry

/// One episode of the ground truth: a fault the injector put on a device, or a city event a
/// device model went through (a burst main, a burning container), from its first report to
/// the first report without it (or the end of the run).
public struct GroundTruthLabel: Sendable, Equatable, Hashable, Codable {
    public enum LabelClass: String, Sendable, Codable { case fault, event }

    public var city: String
    public var domain: String
    public var district: String
    public var device: String
    /// A fault kind (`stuck`, `drifting`, `spiking`, `silent`, `battery-sag`, `reboot`,
    /// `reconnect-storm`, `duplicate`, `delayed`) or an event kind (`incident`,
    /// `lamp-failure`, `container-fire`, `container-tilt`, `overflow`, `pipe-burst`).
    public var kind: String
    public var labelClass: LabelClass
    /// Event time, seconds since 1970: the first report with it, and the first without it
    /// (for a reboot or a lost connection, when the device is back).
    public var start: Int64
    public var end: Int64
    /// How strong: a spike's factor, a drift per day, a battery's sag per day, the longest
    /// delay in seconds, a reboot's or lost connection's seconds down, 1 for duplicates (0 for
    /// stuck and silent); a fire's temperature in °C, a burst's extra flow in m3/h, the share
    /// of capacity an incident takes away, a failed lamp's watts, an overflow's fill level.
    public var magnitude: Double

    public init(city: String, domain: String, district: String, device: String, kind: String, labelClass: LabelClass,
                start: Int64, end: Int64, magnitude: Double) {
        self.city = city
        self.domain = domain
        self.district = district
        self.device = device
        self.kind = kind
        self.labelClass = labelClass
        self.start = start
        self.end = end
        self.magnitude = magnitude
    }

    enum CodingKeys: String, CodingKey {
        case city, domain, district, device, kind, labelClass = "class", start, end, magnitude
    }

    public static let csvHeader = "city,domain,district,device,kind,class,start,end,magnitude"

    public var csvRow: String {
        "\(city),\(domain),\(district),\(device),\(kind),\(labelClass.rawValue),\(Timestamps.format(start)),\(Timestamps.format(end)),\(LabelWriter.number(magnitude))"
    }
}

/// What is under way at a device at one report, for the labels; `since`, when the model
/// knows when it began (a district's burst began before the sensor's report).
struct Activity {
    let kind: String
    let isFault: Bool
    let magnitude: Double
    var since: Int64? = nil
}

/// Follows every device's reports and turns the faults and events under way into episodes.
/// An episode opens at the first report with its kind and closes at the first report without
/// it; a reboot or lost connection closes when the device is back. Episodes still open at
/// the end close at the end of the run.
final class LabelRecorder {
    private struct Open {
        var kind: String
        var isFault: Bool
        var start: Int64
        var magnitude: Double
    }

    private let emit: (GroundTruthLabel) -> Void
    /// Open episodes by (fleet slot, device index).
    private var open: [Int: [Open]] = [:]
    private var activities: [Activity] = []

    init(emit: @escaping (GroundTruthLabel) -> Void) { self.emit = emit }

    func observe(_ fleet: FleetRunner, _ report: DeviceReport) {
        activities.removeAll(keepingCapacity: true)
        for kind in report.faults {
            switch kind {
            case .reboot, .reconnectStorm:
                // Down from this report until it is back: an episode of its own.
                let back = report.reconnectAt ?? report.time
                label(fleet, report.device, Open(kind: kind.rawValue, isFault: true, start: report.time, magnitude: Double(back - report.time)), end: back)
            case .delayed:
                activities.append(Activity(kind: kind.rawValue, isFault: true, magnitude: Double(report.sendMs - report.time * 1000) / 1000))
            case .duplicate:
                activities.append(Activity(kind: kind.rawValue, isFault: true, magnitude: 1))
            default:
                activities.append(Activity(kind: kind.rawValue, isFault: true, magnitude: fleet.faults.magnitude(of: kind, at: report.time)))
            }
        }
        activities.append(contentsOf: report.events)
        let key = fleet.slot << 40 | report.device
        var episodes = open[key] ?? []
        guard !episodes.isEmpty || !activities.isEmpty else { return }
        // Close what is no longer under way.
        episodes.removeAll { episode in
            guard !activities.contains(where: { $0.kind == episode.kind }) else { return false }
            label(fleet, report.device, episode, end: report.time)
            return true
        }
        for activity in activities {
            if let i = episodes.firstIndex(where: { $0.kind == activity.kind }) {
                episodes[i].magnitude = max(episodes[i].magnitude, activity.magnitude)
            } else {
                episodes.append(Open(kind: activity.kind, isFault: activity.isFault, start: min(report.time, activity.since ?? report.time),
                                     magnitude: activity.magnitude))
            }
        }
        open[key] = episodes.isEmpty ? nil : episodes
    }

    /// Closes every open episode at `end`, in a fixed order.
    func finish(fleets: [FleetRunner], end: Int64) {
        for key in open.keys.sorted() {
            let fleet = fleets[key >> 40], device = key & (1 << 40 - 1)
            for episode in open[key]! { label(fleet, device, episode, end: end) }
        }
        open.removeAll()
    }

    private func label(_ fleet: FleetRunner, _ device: Int, _ episode: Open, end: Int64) {
        let district = fleet.district(of: device)
        emit(GroundTruthLabel(city: fleet.city.city.id, domain: fleet.domain.rawValue, district: fleet.city.city.districts[district].id,
                              device: fleet.deviceID(device), kind: episode.kind, labelClass: episode.isFault ? .fault : .event,
                              start: episode.start, end: max(end, episode.start), magnitude: episode.magnitude))
    }
}

extension FaultInjector {
    /// The magnitude of the first `kind` fault whose window holds `time`.
    func magnitude(of kind: FaultKind, at time: Int64) -> Double {
        faults.first { $0.spec.kind == kind && time >= $0.from && time < $0.to }?.spec.magnitude ?? 0
    }
}

/// Writes labels as CSV (`.csv`) or JSON Lines (anything else), a row as each episode closes.
public final class LabelWriter {
    private let handle: FileHandle
    private let csv: Bool
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()
    private var buffer = ""
    public private(set) var written = 0

    public init(path: String) throws(SimulationError) {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw SimulationError("cannot create the labels file \(path); check that its directory exists and is writable")
        }
        self.handle = handle
        csv = path.hasSuffix(".csv")
        if csv { buffer = GroundTruthLabel.csvHeader + "\n" }
    }

    public func write(_ label: GroundTruthLabel) throws(SimulationError) {
        if csv {
            buffer += label.csvRow + "\n"
        } else {
            guard let data = try? encoder.encode(label) else { throw SimulationError("cannot encode a label") }
            buffer += String(decoding: data, as: UTF8.self) + "\n"
        }
        written += 1
        if buffer.utf8.count >= 1 << 16 { try flush() }
    }

    public func close() throws(SimulationError) {
        try flush()
        try? handle.close()
    }

    private func flush() throws(SimulationError) {
        do { try handle.write(contentsOf: Data(buffer.utf8)) } catch {
            throw SimulationError("cannot write the labels file: \(error); check the free space")
        }
        buffer = ""
    }

    /// A number without a needless fraction or exponent.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.6g", value)
    }
}
