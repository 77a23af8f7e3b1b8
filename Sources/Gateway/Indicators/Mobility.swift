import Telemetry

/// Mobility (ITU U4SSC collection of methodology for KPIs for smart sustainable cities, 2017:
/// EC:ICT:T:2C and EC:I:T:5A).
enum MobilityIndicators {
    static let all: [IndicatorDefinition] = [
        IndicatorDefinition(
            // U4SSC EC:ICT:T:2C (Traffic monitoring): percentage of major streets monitored by
            // ICT (length monitored / total length of major streets x 100).
            code: "U4SSC:EC:ICT:T:2C", name: "Traffic monitoring: percentage of major streets monitored by ICT", unit: "%",
            domain: .mobility,
            formula: "100 x traffic counters reporting x km-per-traffic-counter / major-street-km",
            needs: "TrafficFlowObserved.devices, km-per-traffic-counter, major-street-km",
            higherIsBetter: true) { i in
                guard let f = i.facts, f.majorStreetKm > 0 else { return nil }
                return percent(i.reporting("TrafficFlowObserved") * f.kmPerTrafficCounter, of: f.majorStreetKm)
            },
        IndicatorDefinition(
            // U4SSC EC:I:T:5A (Travel time index): the ratio of travel time in the peak period to
            // travel time at free flow. Its source, FHWA's Urban Congestion Report, takes the
            // weekday peaks 06-09 and 16-19 local time, weights segments by vehicle-km, and sets
            // free flow at the 85th percentile of off-peak speeds. Each counting station monitors
            // the same length of street (km-per-station), so its vehicles weigh as vehicle-km.
            code: "U4SSC:EC:I:T:5A", name: "Travel time index (peak-period travel time over free-flow travel time)", unit: "ratio",
            domain: .mobility,
            formula: "sum over weekday peak-period (06-09, 16-19 local) counts of vehicles x free-flow speed / speed, over the vehicles counted; each counter's free-flow speed is the 85th percentile of its off-peak speeds",
            needs: "TrafficFlowObserved.intensity and averageVehicleSpeed, utc-offset",
            higherIsBetter: false) { i in
                let vehicles = i.partial("peakVehicles@mobility").increment
                guard vehicles > 0 else { return nil }
                return i.partial("peakDelay@mobility").increment / vehicles
            },
    ]
}
