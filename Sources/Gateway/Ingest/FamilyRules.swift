import Telemetry

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

/// Rules of one family that turn a reading into a derived series.
struct FamilyRules {
    /// What a reading adds to a derived series.
    enum Update: Equatable {
        /// Kilograms collected: an increment at the reading's time.
        case collected(Double)
        /// A free-flow speed: a value at the reading's time.
        case freeFlowSpeed(Double)
    }

    /// Occupancy below which a traffic reading counts as free flow.
    static let freeFlowOccupancy = 0.1

    private let speed: Int, occupancy: Int, emptying: Int, cargo: Int

    init(schema: TelemetrySchema) {
        speed = schema.attributeID(entity: "TrafficFlowObserved", name: "averageVehicleSpeed") ?? -1
        occupancy = schema.attributeID(entity: "TrafficFlowObserved", name: "occupancy") ?? -1
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
            // Free-flow readings (a nearly empty road) form their own series: the travel time
            // index of a window is their mean speed over the mean speed of all readings.
            guard let s = value(speed, values), let o = value(occupancy, values), o < Self.freeFlowOccupancy else { return nil }
            return .freeFlowSpeed(s)
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
