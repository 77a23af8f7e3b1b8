import Telemetry

/// Street lighting (ISO 37120:2018 7.6, ISO 37122:2019 7.6).
enum LightingIndicators {
    static let all: [IndicatorDefinition] = [
        IndicatorDefinition(
            // ISO 37120:2018 7.6: total electrical energy used by public street lighting (kWh) /
            // total length of lighted streets (km), per year.
            code: "ISO37120:7.6", name: "Electricity consumption of public street lighting per km of lighted street",
            unit: "kWh/km/year", domain: .lighting,
            formula: "sum of per-lamp energy-meter increments in the window, scaled from the working lamps reporting (those not in fault) to the pole inventory, / lit-street-km, scaled to a year",
            needs: "Streetlight.energy (cumulative), faulty lamps, lighting inventory, lit-street-km",
            higherIsBetter: false) { i in
                guard let km = i.facts?.litStreetKm, km > 0 else { return nil }
                let energy = i.partial("Streetlight.energy")
                // A failed lamp draws (next to) nothing: the city's lighting is what its working
                // lamps draw, so failures do not make the lit street look cheaper to light.
                let working = i.reporting("Streetlight") - Double(i.partial("faulty@lighting").count)
                guard energy.count > 0, working > 0 else { return nil }
                return i.perYear(i.overInventory(energy.increment, reporting: working, .lighting, entity: "Streetlight")) / km
            },
        IndicatorDefinition(
            // ISO 37122:2019 7.6: number of street lights managed by a light performance
            // management system / total number of street lights x 100.
            code: "ISO37122:7.6", name: "Percentage of street lighting managed by a light performance management system",
            unit: "%", domain: .lighting,
            formula: "100 x street lights reporting in the window / the city's street-light inventory",
            needs: "Streetlight.devices, lighting inventory",
            higherIsBetter: true) { i in percent(i.reporting("Streetlight"), of: i.inventory(.lighting)) },
    ]
}
