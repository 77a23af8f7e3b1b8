import Telemetry

/// Mobility (ITU U4SSC EC:ICT:T:2C and EC:I:T:5A).
enum MobilityIndicators {
    static let all: [IndicatorDefinition] = [
        IndicatorDefinition(
            code: "U4SSC:EC:ICT:T:2C", name: "Traffic monitoring: percentage of major streets monitored by ICT", unit: "%",
            domain: .mobility,
            formula: "100 x traffic counters reporting x km-per-traffic-counter / major-street-km",
            needs: "TrafficFlowObserved.devices, km-per-traffic-counter, major-street-km",
            higherIsBetter: true) { i in
                guard let f = i.facts, f.majorStreetKm > 0 else { return nil }
                return percent(i.reporting("TrafficFlowObserved") * f.kmPerTrafficCounter, of: f.majorStreetKm)
            },
        IndicatorDefinition(
            code: "U4SSC:EC:I:T:5A", name: "Travel time index (travel time over free-flow travel time)", unit: "ratio",
            domain: .mobility,
            formula: "mean speed of the window's free-flow readings (occupancy < 0.1) / mean averageVehicleSpeed of all its readings",
            needs: "TrafficFlowObserved.averageVehicleSpeed, occupancy",
            higherIsBetter: false) { i in
                guard let free = i.partial("freeFlowSpeed@mobility").mean, let speed = i.partial("TrafficFlowObserved.averageVehicleSpeed").mean,
                      speed > 0 else { return nil }
                return max(1, free / speed)
            },
    ]
}
