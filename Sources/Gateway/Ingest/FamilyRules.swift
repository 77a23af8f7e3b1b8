import Telemetry

/// Derived series every domain group has besides its attributes.
enum Derived: Int, CaseIterable {
    /// 1 per distinct device that reported a fault in the window.
    case faulty = 0
    /// Kilograms emptied from waste containers (in `increment`).
    case collected
    /// Vehicles counted in the weekday peak periods (`increment`), and the same weighted by
    /// each counter's free-flow speed over its speed (travel time over free-flow travel time).
    case peakVehicles, peakDelay
    /// District inflow and metered use in the night band 02:00-04:00 (`increment`, m3), and the
    /// network pressure read in it (values).
    case nightInflow, nightUse, nightPressure

    var name: String {
        switch self {
        case .faulty: "faulty"
        case .collected: "collected"
        case .peakVehicles: "peakVehicles"
        case .peakDelay: "peakDelay"
        case .nightInflow: "nightInflow"
        case .nightUse: "nightUse"
        case .nightPressure: "nightPressure"
        }
    }
}

/// Rules of one family that turn a reading into a derived series.
struct FamilyRules {
    /// What a reading adds to a derived series.
    enum Update: Equatable {
        /// Kilograms collected: an increment at the reading's time.
        case collected(Double)
        /// A traffic count: the segment's mean speed and the vehicles counted.
        case traffic(speed: Double, vehicles: Double)
        /// A network pressure reading (Pa).
        case pressure(Double)
    }

    private let speed: Int, intensity: Int, emptying: Int, cargo: Int, pressure: Int

    init(schema: TelemetrySchema) {
        speed = schema.attributeID(entity: "TrafficFlowObserved", name: "averageVehicleSpeed") ?? -1
        intensity = schema.attributeID(entity: "TrafficFlowObserved", name: "intensity") ?? -1
        pressure = schema.attributeID(entity: "WaterObserved", name: "pressure") ?? -1
        emptying = schema.attributeID(entity: "WasteContainer", name: "dateLastEmptying") ?? -1
        cargo = schema.attributeID(entity: "WasteContainer", name: "cargoWeight") ?? -1
    }

    /// The update a reading makes, given the device's state before it (which it advances).
    func apply(domain: Domain, time: Int64, values: [ReadingValue], to state: inout DeviceState) -> Update? {
        switch domain {
        case .waste:
            // An emptying shows as a newer dateLastEmptying: the load before it was collected.
            guard time > state.newest, let emptied = value(emptying, values), let load = value(cargo, values) else { return nil }
            let collected = state.newest != .min && emptied > state.lastEmptying ? state.lastCargo : nil
            state.lastEmptying = emptied
            state.lastCargo = load
            return collected.map { .collected($0) }
        case .mobility:
            guard let s = value(speed, values), let n = value(intensity, values) else { return nil }
            return .traffic(speed: s, vehicles: n)
        case .water:
            return value(pressure, values).map { .pressure($0) }
        default:
            return nil
        }
    }

    @inline(__always)
    private func value(_ attribute: Int, _ values: [ReadingValue]) -> Double? {
        for v in values where v.attribute == attribute { return v.value }
        return nil
    }
}
