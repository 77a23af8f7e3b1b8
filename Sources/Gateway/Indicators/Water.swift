import Foundation
import Telemetry

/// Water (ISO 37120:2018 chapter 21 and 23 as numbered in DESIGN.md, ISO 37122:2019 23.3).
enum WaterIndicators {
    static let all: [IndicatorDefinition] = [
        IndicatorDefinition(
            // ISO 37120:2018 23.7: (volume of water supplied - volume of water utilised) / volume
            // supplied x 100, from the district balance.
            code: "ISO37120:23.7", name: "Percentage of water loss (unaccounted-for water)", unit: "%", domain: .water,
            formula: "100 x (district inflow increments - consumption meter increments scaled to the meter inventory) / district inflow increments, over the districts whose inflow meter reported in the window",
            needs: "WaterObserved.inflow (cumulative), WaterConsumptionObserved.waterConsumption (cumulative), water inventory",
            higherIsBetter: false) { i in
                let zones = i.balanceZones()
                guard zones.inflow > 0 else { return nil }
                return 100 * (zones.inflow - zones.used) / zones.inflow
            },
        IndicatorDefinition(
            // The same water loss estimated the way a utility without complete metering does it:
            // the minimum night flow (IWA Water Loss Specialist Group; UK Managing Leakage report
            // E). Night leakage = (night inflow - legitimate night use) over the 02:00-04:00
            // band; a day's leakage = that hourly rate x the night-day factor, the hours at night
            // pressure equivalent to the day, 24 x (mean pressure / night pressure)^1.15 (FAVAD).
            code: "ISO37120:23.7:MNF", name: "Percentage of water loss estimated from the minimum night flow", unit: "%",
            domain: .water,
            formula: "100 x (night inflow - night metered use scaled to the meter inventory) / 2 h x 24 x (mean pressure / night pressure)^1.15 / the day's inflow, over the districts whose inflow meter reported; daily windows only",
            needs: "WaterObserved.inflow and pressure, WaterConsumptionObserved.waterConsumption, water inventory, utc-offset",
            higherIsBetter: false) { i in
                guard i.seconds >= 86_400 else { return nil }
                let zones = i.balanceZones()
                let inflow = zones.inflow
                let nightInflow = i.partial("nightInflow@water", where: WaterIndicators.inflow).increment
                guard inflow > 0, nightInflow > 0, let nightPressure = i.partial("nightPressure@water").mean,
                      let pressure = i.partial("WaterObserved.pressure").mean, nightPressure > 0 else { return nil }
                let nightUse = i.overInventory(i.partial("nightUse@water", where: WaterIndicators.inflow).increment,
                                               reporting: i.reporting("WaterConsumptionObserved"), .water, entity: "WaterConsumptionObserved")
                let leakPerHour = max(0, nightInflow - nightUse) / 2
                let nightDayFactor = 24 * pow(pressure / nightPressure, 1.15)
                return 100 * leakPerHour * nightDayFactor * (i.seconds / 86_400) / inflow
            },
        IndicatorDefinition(
            // ISO 37120:2018 23.3: total domestic water consumption (litres) / population / days.
            code: "ISO37120:23.3", name: "Total domestic water consumption per capita", unit: "L/capita/day", domain: .water,
            formula: "consumption meter increments in the window (m3), scaled to the meter inventory, x 1000 / population / window length in days",
            needs: "WaterConsumptionObserved.waterConsumption (cumulative), water inventory, population",
            higherIsBetter: false) { i in
                guard let population = i.facts?.population, population > 0 else { return nil }
                let used = i.partial("WaterConsumptionObserved.waterConsumption")
                guard used.count > 0 else { return nil }
                let total = i.overInventory(used.increment, reporting: i.reporting("WaterConsumptionObserved"), .water, entity: "WaterConsumptionObserved")
                return total * 1000 / population / (i.seconds / 86_400)
            },
        IndicatorDefinition(
            // ISO 37122:2019 23.3: length of the distribution network monitored by a smart water
            // system / total length x 100.
            code: "ISO37122:23.3", name: "Percentage of the water distribution network monitored by a smart water system",
            unit: "%", domain: .water,
            formula: "100 x network sensors reporting x km-per-network-sensor / water-network-km",
            needs: "WaterObserved.devices, km-per-network-sensor, water-network-km",
            higherIsBetter: true) { i in
                guard let f = i.facts, f.waterNetworkKm > 0 else { return nil }
                return percent(i.reporting("WaterObserved") * f.kmPerNetworkSensor, of: f.waterNetworkKm)
            },
        IndicatorDefinition(
            // U4SSC EC:ICT:WS:1C (Smart water meters): percentage implementation of smart water
            // meters, here the meters reporting over the city's meter inventory.
            code: "U4SSC:EC:ICT:WS:1C", name: "Smart water meters: percentage of the water meters read remotely", unit: "%",
            domain: .water,
            formula: "100 x consumption meters reporting in the window / the city's water-meter inventory",
            needs: "WaterConsumptionObserved.devices, water inventory",
            higherIsBetter: true) { i in percent(i.reporting("WaterConsumptionObserved"), of: i.inventory(.water)) },
    ]

    /// The district inflow meters' series: a district is in the water balance of a window when
    /// its inflow meter reported in it.
    static let inflow = "WaterObserved.inflow"
}

extension IndicatorInputs {
    /// The water balance over the zones (districts) whose inflow meter reported, as the IWA
    /// balance is drawn for the metered zones only: their inflow, and the consumption their
    /// meters measured, scaled from the meters reporting in the city to the meter inventory.
    /// A zone whose inflow meter is silent leaves the balance with its consumption, so a
    /// broken meter takes no water out of the loss.
    func balanceZones() -> (inflow: Double, used: Double) {
        let inflow = partial(WaterIndicators.inflow, where: WaterIndicators.inflow).increment
        let used = overInventory(partial("WaterConsumptionObserved.waterConsumption", where: WaterIndicators.inflow).increment,
                                 reporting: reporting("WaterConsumptionObserved"), .water, entity: "WaterConsumptionObserved")
        return (inflow, used)
    }
}
