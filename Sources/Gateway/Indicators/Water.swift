import Telemetry

/// Water (ISO 37120 chapter 23 as numbered in DESIGN.md, ISO 37122 23.3).
enum WaterIndicators {
    static let all: [IndicatorDefinition] = [
        IndicatorDefinition(
            code: "ISO37120:23.7", name: "Percentage of water loss (unaccounted-for water)", unit: "%", domain: .water,
            formula: "100 x (district inflow increments - consumption meter increments) / district inflow increments",
            needs: "WaterObserved.inflow (cumulative), WaterConsumptionObserved.waterConsumption (cumulative)",
            higherIsBetter: false) { i in
                let inflow = i.partial("WaterObserved.inflow").increment
                let used = i.partial("WaterConsumptionObserved.waterConsumption").increment
                guard inflow > 0 else { return nil }
                return 100 * (inflow - used) / inflow
            },
        IndicatorDefinition(
            code: "ISO37120:23.3", name: "Total domestic water consumption per capita", unit: "L/capita/day", domain: .water,
            formula: "consumption meter increments in the window (m3) x 1000 / population / window length in days",
            needs: "WaterConsumptionObserved.waterConsumption (cumulative), population",
            higherIsBetter: false) { i in
                guard let population = i.facts?.population, population > 0 else { return nil }
                let used = i.partial("WaterConsumptionObserved.waterConsumption")
                guard used.count > 0 else { return nil }
                return used.increment * 1000 / population / (i.seconds / 86_400)
            },
        IndicatorDefinition(
            code: "ISO37122:23.3", name: "Percentage of the water distribution network monitored by a smart water system",
            unit: "%", domain: .water,
            formula: "100 x network sensors reporting x km-per-network-sensor / water-network-km",
            needs: "WaterObserved.devices, km-per-network-sensor, water-network-km",
            higherIsBetter: true) { i in
                guard let f = i.facts, f.waterNetworkKm > 0 else { return nil }
                return percent(i.reporting("WaterObserved") * f.kmPerNetworkSensor, of: f.waterNetworkKm)
            },
    ]
}
