import Foundation
import YAMLReader

/// A load profile (`load:` in a scenario): stages over wall time or simulated time that set the
/// message rate (the speed: simulated seconds per wall second) and the share of devices that
/// publish, each as a step or a linear ramp, so a load test can find where the broker or the
/// gateway falls behind. Between stages and after the last one the values hold.
public struct LoadProfile: Sendable, Equatable {
    public enum Clock: String, Sendable { case wall, simulated }

    public struct Stage: Sendable, Equatable {
        /// Start and length on the profile's clock, seconds from the scenario's start.
        public var at: Double
        public var length: Double
        public var speed: (from: Double, to: Double)
        public var active: (from: Double, to: Double)

        public static func == (a: Stage, b: Stage) -> Bool {
            a.at == b.at && a.length == b.length && a.speed == b.speed && a.active == b.active
        }
    }

    public var clock: Clock
    public var stages: [Stage]

    /// Segments covering [0, infinity) with the holds filled in: start, length (infinite for the
    /// last), speed and share at both ends; and the other clock's time at each start.
    private var segments: [(start: Double, length: Double, speed: (Double, Double), active: (Double, Double), other: Double)] = []

    public init(clock: Clock, stages: [Stage]) {
        self.clock = clock
        self.stages = stages
        var t = 0.0, other = 0.0
        var parts: [(Double, Double, (Double, Double), (Double, Double))] = []
        for (i, stage) in stages.enumerated() {
            if stage.at > t, i > 0 {
                let last = stages[i - 1]
                parts.append((t, stage.at - t, (last.speed.to, last.speed.to), (last.active.to, last.active.to)))
            }
            parts.append((stage.at, stage.length, stage.speed, stage.active))
            t = stage.at + stage.length
        }
        if let last = stages.last { parts.append((t, .infinity, (last.speed.to, last.speed.to), (last.active.to, last.active.to))) }
        for part in parts {
            segments.append((part.0, part.1, part.2, part.3, other))
            if part.1.isFinite { other += Self.across(part.1, part.2, clock: clock) }
        }
    }

    public static func == (a: LoadProfile, b: LoadProfile) -> Bool { a.clock == b.clock && a.stages == b.stages }

    /// The other clock's time that `t` seconds of a segment with a linear speed take: simulated
    /// seconds in `t` wall seconds, or wall seconds for `t` simulated ones.
    private static func across(_ t: Double, _ speed: (Double, Double), clock: Clock) -> Double {
        across(t, length: t, speed, clock: clock)
    }

    private static func across(_ t: Double, length: Double, _ speed: (Double, Double), clock: Clock) -> Double {
        let a = speed.0, k = length.isFinite && length > 0 ? (speed.1 - speed.0) / length : 0
        switch clock {
        case .wall: return a * t + k * t * t / 2
        case .simulated: return k == 0 ? t / a : log((a + k * t) / a) / k
        }
    }

    /// Wall seconds after the start at which a message `simulated` seconds into the scenario is due.
    public func wallOffset(simulated s: Double) -> Double {
        switch clock {
        case .simulated:
            let i = segment(containing: s) { $0.start }
            let seg = segments[i]
            return seg.other + Self.across(s - seg.start, length: seg.length, seg.speed, clock: .simulated)
        case .wall:
            // The segment whose simulated span holds s, then the wall time in it (a quadratic).
            let i = segment(containing: s) { $0.other }
            let seg = segments[i]
            let delta = s - seg.other, a = seg.speed.0
            let k = seg.length.isFinite && seg.length > 0 ? (seg.speed.1 - seg.speed.0) / seg.length : 0
            let t = k == 0 ? delta / a : (-a + (a * a + 2 * k * delta).squareRoot()) / k
            return seg.start + t
        }
    }

    /// The share of devices that publish at `simulated` seconds into the scenario, due at `wall`.
    public func activeShare(simulated s: Double, wall w: Double) -> Double {
        let t = clock == .wall ? w : s
        let seg = segments[segment(containing: t) { $0.start }]
        guard seg.length.isFinite, seg.length > 0 else { return seg.active.0 }
        return seg.active.0 + (seg.active.1 - seg.active.0) * min(1, max(0, (t - seg.start) / seg.length))
    }

    private func segment(containing t: Double, _ start: ((start: Double, length: Double, speed: (Double, Double), active: (Double, Double), other: Double)) -> Double) -> Int {
        var lo = 0, hi = segments.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if start(segments[mid]) <= t { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }
}

extension LoadProfile {
    /// Reads `load:`: `clock` (wall or simulated) and `stages`, each with `at` (default: where
    /// the one before ends), `for`, and `speed` and `active` as a value or a ramp `from..to`.
    static func parse(_ field: YAMLField, scenarioSpeed: Scenario.Speed) throws(ConfigError) -> LoadProfile {
        let map = try field.mapping(allowed: ["clock", "stages"])
        var clock = Clock.wall
        if let c = map["clock"] {
            let text = try c.string()
            guard let value = Clock(rawValue: text) else { throw c.error("'\(text)' is not a clock; use wall or simulated") }
            clock = value
        }
        let list = try map.required("stages").list()
        guard !list.isEmpty else { throw try map.required("stages").error("at least one stage is needed") }
        var stages: [Stage] = []
        var end = 0.0
        for item in list {
            let m = try item.mapping(allowed: ["at", "for", "speed", "active"])
            var at = end
            if let f = m["at"] { at = Double(try f.duration(minimum: 0)) }
            if stages.isEmpty, at != 0 { throw (m["at"] ?? item).error("the first stage starts at 0 s, the scenario's start") }
            if at < end {
                throw (m["at"] ?? item).error("this stage starts at \(Int(at)) s, inside the one before it (which ends at \(Int(end)) s); stages follow each other")
            }
            let length = Double(try m.required("for").duration(minimum: 1))
            let before = stages.last.map { ($0.speed.to, $0.active.to) }
            let speed: (Double, Double)
            if let f = m["speed"] {
                speed = try ramp(f, in: 0.001...1e9, what: "a speed (simulated seconds per wall second)")
            } else if let previous = before?.0 {
                speed = (previous, previous)
            } else if case .factor(let x) = scenarioSpeed {
                speed = (x, x)
            } else {
                throw item.error("the first stage needs a speed: the scenario runs at max, which a profile cannot ramp")
            }
            var active = (before?.1 ?? 1, before?.1 ?? 1)
            if let f = m["active"] { active = try ramp(f, in: 0...1, what: "a share of devices") }
            stages.append(Stage(at: at, length: length, speed: speed, active: active))
            end = at + length
        }
        return LoadProfile(clock: clock, stages: stages)
    }

    /// A value, or a linear ramp written `from..to`.
    private static func ramp(_ field: YAMLField, in range: ClosedRange<Double>, what: String) throws(ConfigError) -> (Double, Double) {
        let text = try field.string()
        let parts = text.split(separator: "..", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.compactMap(Double.init)
        guard (parts.count == 1 || parts.count == 2), values.count == parts.count, values.allSatisfy(range.contains) else {
            throw field.error("'\(text)' is not \(what) from \(range.lowerBound) to \(range.upperBound), nor a ramp like \(range.lowerBound)..\(range.upperBound)")
        }
        return (values[0], values.last!)
    }
}
