import Foundation
import Telemetry

/// Loop detectors and cameras counting vehicles on a road segment (TrafficFlowObserved).
///
/// Demand follows the city's weekday two-peak or weekend profile times a per-segment
/// autocorrelated factor; flow is capped by the segment's capacity (lanes x 1,800 veh/h);
/// counts are over-dispersed (negative binomial). Speed and occupancy follow Greenshields'
/// linear speed-density relation: as flow nears capacity occupancy rises towards half the jam
/// density and speed falls to half the free-flow speed; beyond it (queues, incidents) the
/// segment is congested and speed collapses. Incidents cut capacity to 40 % for 20-90 minutes,
/// and traffic passes them at about a third of free flow.
struct TrafficCounter: DeviceModel {
    struct State {
        var factor: Float = 0
        var incidentUntil: Int64 = 0
    }

    let settings: Fleets.Traffic
    let city: CityContext
    static let family = Family.standard("TrafficFlowObserved")
    let domain = Self.family.schema.domain
    let entityType = Self.family.entityType
    let code = Self.family.schema.deviceCode
    let attributes = Self.family.attributes

    struct Segment {
        let lanes: Double
        let freeFlow: Double
        /// Peak demand as a share of capacity.
        let loading: Double
    }

    func segment(_ device: DeviceInfo) -> Segment {
        let h = mix64(device.key ^ 0x7365_676d)
        let lanes = Double(1 + h % 4)
        let freeFlow = 40 + Double((h >> 8) % 41)
        let loading = 0.55 + 0.55 * ((h >> 20) & 0xFFFF).unitShare
        return Segment(lanes: lanes, freeFlow: freeFlow, loading: loading)
    }

    func initialState(_ device: DeviceInfo, at time: Int64) -> State { State() }

    /// An incident: the counter's road keeps 40 % of its capacity until it is cleared.
    func events(_ state: State, _ device: DeviceInfo, time: Int64, values: [Double], into events: inout [Activity]) {
        if time < state.incidentUntil { events.append(Activity(kind: "incident", isFault: false, magnitude: 0.6)) }
    }

    func report(_ state: inout State, _ device: DeviceInfo, time: Int64, interval: Int64,
                random: inout RandomStream, values: inout [Double]) {
        let segment = segment(device)
        let capacity = segment.lanes * 1800
        // Autocorrelated demand factor (AR(1) in log space, 30-minute memory).
        let phi = exp(-Double(interval) / 1800)
        let factor = phi * Double(state.factor) + (1 - phi * phi).squareRoot() * 0.12 * random.normal()
        state.factor = Float(factor)
        // Incidents start at a rate per day and congest the segment for a while.
        if time >= state.incidentUntil,
           random.chance(settings.incidentsPerDay * Double(interval) / 86400) {
            state.incidentUntil = time + Int64(random.uniform(1200, 5400))
        }
        let incident = time < state.incidentUntil
        let effective = incident ? capacity * 0.4 : capacity
        let demand = segment.loading * capacity * city.trafficDemand(time) * exp(factor)
        let flow = min(demand, effective)
        let hours = Double(interval) / 3600
        let count = random.overdispersed(flow * hours, shape: 25)
        // Greenshields: density share k/kj from the flow share, speed vf (1 - k/kj).
        let load = min(1, count / hours / effective)
        var density: Double
        let congested = demand > effective
        if congested {
            density = 0.5 + 0.45 * (1 - effective / demand)
        } else {
            density = 0.5 * (1 - (1 - load).squareRoot())
        }
        // The loop's occupancy is the time vehicles stand over it, so its noise is in
        // proportion (vehicle lengths, gaps), not a level of its own.
        density = min(0.95, max(0, density * (1 + 0.05 * random.normal())))
        var speed = max(3, segment.freeFlow * (1 - density) + 1.5 * random.normal())
        if incident {
            // Vehicles pass the incident's site slowly however light the traffic (a lane
            // closed, merging, onlookers): about a third of free flow, and the density that
            // flow at that speed makes (q = k v: k/kj = q/qmax x vf / 4v).
            let passing = max(3, segment.freeFlow * (0.35 + 0.04 * random.normal()))
            if speed > passing {
                speed = passing
                density = min(0.95, count / hours / capacity * segment.freeFlow / (4 * speed))
            }
        }
        values[0] = count
        values[1] = density * 0.9
        values[2] = count == 0 ? segment.freeFlow : speed
        values[3] = congested || speed < segment.freeFlow * 0.5 ? 1 : 0
        values[4] = segment.lanes
    }
}

extension UInt64 {
    /// The low 16 bits as a share in [0, 1].
    var unitShare: Double { Double(self & 0xFFFF) / 65535 }
}
