import Telemetry

/// Solid waste (ISO 37120 16.2, ISO 37122 16.4).
enum WasteIndicators {
    static let all: [IndicatorDefinition] = [
        IndicatorDefinition(
            code: "ISO37120:16.2", name: "Total collected municipal solid waste per capita", unit: "t/capita/year", domain: .waste,
            formula: "kg emptied from monitored containers in the window (cargoWeight before each emptying) / 1000 / population, scaled to a year",
            needs: "WasteContainer.cargoWeight and dateLastEmptying, population",
            higherIsBetter: false) { i in
                guard let population = i.facts?.population, population > 0, i.reporting("WasteContainer") > 0 else { return nil }
                return i.perYear(i.partial("collected@waste").increment / 1000) / population
            },
        IndicatorDefinition(
            code: "ISO37122:16.4", name: "Percentage of waste containers equipped with telemonitoring", unit: "%", domain: .waste,
            formula: "100 x containers reporting in the window / installed containers",
            needs: "WasteContainer.devices, installed containers (devices.waste or containers seen)",
            higherIsBetter: true) { i in percent(i.reporting("WasteContainer"), of: i.installed(.waste)) },
    ]
}
