import Telemetry

/// Street lighting (ISO 37120 7.6, ISO 37122 7.6).
enum LightingIndicators {
    static let all: [IndicatorDefinition] = [
        IndicatorDefinition(
            code: "ISO37120:7.6", name: "Electricity consumption of public street lighting per km of lighted street",
            unit: "kWh/km/year", domain: .lighting,
            formula: "sum of per-lamp energy-meter increments in the window / lit-street-km, scaled to a year",
            needs: "Streetlight.energy (cumulative), lit-street-km",
            higherIsBetter: false) { i in
                guard let km = i.facts?.litStreetKm, km > 0 else { return nil }
                let energy = i.partial("Streetlight.energy")
                guard energy.count > 0 else { return nil }
                return i.perYear(energy.increment) / km
            },
        IndicatorDefinition(
            code: "ISO37122:7.6", name: "Percentage of street lighting managed by a light performance management system",
            unit: "%", domain: .lighting,
            formula: "100 x street lights reporting in the window / installed street lights",
            needs: "Streetlight.devices, installed lights (devices.lighting or lights seen)",
            higherIsBetter: true) { i in percent(i.reporting("Streetlight"), of: i.installed(.lighting)) },
    ]
}
