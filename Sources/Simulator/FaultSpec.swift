import Telemetry

public enum FaultKind: String, Sendable, CaseIterable {
    case stuck, drifting, spiking, silent
    case batterySag = "battery-sag"
    case reboot
    case reconnectStorm = "reconnect-storm"
    case duplicate, delayed
}

/// A seeded fault: a share of a family's devices misbehaves in a time window.
public struct FaultSpec: Sendable {
    public var kind: FaultKind
    public var family: Domain?
    public var city: String?
    /// Share of the matching devices affected (chosen by seed and device id).
    public var share: Double
    /// Window start as an offset from the scenario start, and its length (nil: to the end).
    public var start: Int64
    public var duration: Int64?
    /// Per-message chance for spiking, duplicate and delayed.
    public var probability: Double
    /// Spike factor, drift per day (relative), or maximum delay in seconds.
    public var magnitude: Double

    public init(kind: FaultKind, family: Domain? = nil, city: String? = nil, share: Double, start: Int64 = 0,
                duration: Int64? = nil, probability: Double? = nil, magnitude: Double? = nil) {
        self.kind = kind
        self.family = family
        self.city = city
        self.share = share
        self.start = start
        self.duration = duration
        self.probability = probability ?? FaultSpec.defaultProbability(kind)
        self.magnitude = magnitude ?? FaultSpec.defaultMagnitude(kind)
    }

    public static func defaultProbability(_ kind: FaultKind) -> Double {
        switch kind {
        case .spiking: 0.05
        case .duplicate, .delayed: 0.1
        default: 1
        }
    }

    public static func defaultMagnitude(_ kind: FaultKind) -> Double {
        switch kind {
        case .spiking: 8
        case .drifting: 0.1
        case .delayed: 600
        case .reconnectStorm, .reboot: 60
        case .batterySag: 0.5
        default: 0
        }
    }

    /// How long, at most, the fault holds a reading back after its event time, s: the delay of
    /// a delayed message, the time a rebooting or disconnected device takes to come back.
    public var holdsBack: Int64 {
        switch kind {
        case .delayed, .reboot, .reconnectStorm: Int64(magnitude.rounded(.up)) + 1
        default: 0
        }
    }
}

extension Scenario {
    /// The longest time any of the scenario's faults holds a reading back, s (see `FaultSpec.holdsBack`).
    public var longestFaultDelay: Int64 { faults.map(\.holdsBack).max() ?? 0 }

    /// Why a gateway with `lateness` (s) would drop readings of this scenario by construction:
    /// the lateness must cover the longest fault delay and, through a broker (`throughBroker`),
    /// how far connections may drift apart (`mqtt.max-drift`). Nil when it does.
    public func latenessProblem(_ lateness: Int64, throughBroker: Bool) -> String? {
        let drift = throughBroker ? mqtt.maxDrift : 0
        let needed = drift + longestFaultDelay
        guard lateness < needed else { return nil }
        if !throughBroker {
            return "a lateness of \(lateness) s is shorter than the scenario's longest fault delay of \(longestFaultDelay) s: readings would be dropped by construction; allow at least \(needed) s"
        }
        return "a lateness of \(lateness) s is shorter than the \(mqtt.maxDrift) s the scenario's connections may drift apart (mqtt.max-drift) plus its longest fault delay of \(longestFaultDelay) s: readings would be dropped by construction; allow at least \(needed) s, or lower mqtt.max-drift"
    }
}
