import Telemetry

/// Solid waste (ISO 37120:2018 16.2, ISO 37122:2019 16.4).
enum WasteIndicators {
    static let all: [IndicatorDefinition] = [
        IndicatorDefinition(
            // ISO 37120:2018 16.2: total collected municipal solid waste (tonnes) / total city
            // population, per year: everything collected, not only the monitored containers.
            code: "ISO37120:16.2", name: "Total collected municipal solid waste per capita", unit: "t/capita/year", domain: .waste,
            formula: "kg emptied from the reporting containers in the window (cargoWeight before each emptying), scaled to the container inventory, / 1000 / population, scaled to a year",
            needs: "WasteContainer.cargoWeight and dateLastEmptying, waste inventory, population",
            higherIsBetter: false) { i in
                let reporting = i.reporting("WasteContainer")
                guard let population = i.facts?.population, population > 0, reporting > 0 else { return nil }
                return i.perYear(i.overInventory(i.partial("collected@waste").increment, reporting: reporting, .waste, entity: "WasteContainer") / 1000) / population
            },
        IndicatorDefinition(
            // ISO 37122:2019 16.4: number of waste containers equipped with remote fill-level
            // sensors (telemonitoring) / total number of waste containers x 100.
            code: "ISO37122:16.4", name: "Percentage of waste containers equipped with telemonitoring", unit: "%", domain: .waste,
            formula: "100 x containers reporting in the window / the city's container inventory",
            needs: "WasteContainer.devices, waste inventory",
            higherIsBetter: true) { i in percent(i.reporting("WasteContainer"), of: i.inventory(.waste)) },
    ]
}
