import Telemetry

/// Air quality (ISO 37120:2018 chapter 8 Environment and climate change, ISO 37122:2019 8.2,
/// U4SSC EN:AQ:1C air pollution). ISO 37120 asks for annual means; the gateway gives the mean
/// of each window, and `run` the mean of the daily windows of the period it covers.
enum EnvironmentIndicators {
    static let all: [IndicatorDefinition] = [
        IndicatorDefinition(
            // ISO 37120:2018 8.1: fine particulate matter (PM2.5) concentration (ug/m3).
            code: "ISO37120:8.1", name: "Fine particulate matter (PM2.5) concentration", unit: "ug/m3", domain: .environment,
            formula: "mean of pm25 over all station readings in the window", needs: "AirQualityObserved.pm25",
            higherIsBetter: false) { $0.partial("AirQualityObserved.pm25").mean },
        IndicatorDefinition(
            // ISO 37120:2018 8.2: particulate matter (PM10) concentration (ug/m3).
            code: "ISO37120:8.2", name: "Particulate matter (PM10) concentration", unit: "ug/m3", domain: .environment,
            formula: "mean of pm10 over all station readings in the window", needs: "AirQualityObserved.pm10",
            higherIsBetter: false) { $0.partial("AirQualityObserved.pm10").mean },
        IndicatorDefinition(
            // U4SSC EN:AQ:1C (Air pollution): the concentration of each pollutant, here NO2.
            code: "U4SSC:EN:AQ:1C:NO2", name: "Air pollution: nitrogen dioxide (NO2) concentration", unit: "ug/m3", domain: .environment,
            formula: "mean of no2 over all station readings in the window", needs: "AirQualityObserved.no2",
            higherIsBetter: false) { $0.partial("AirQualityObserved.no2").mean },
        IndicatorDefinition(
            // U4SSC EN:AQ:1C (Air pollution), O3.
            code: "U4SSC:EN:AQ:1C:O3", name: "Air pollution: ozone (O3) concentration", unit: "ug/m3", domain: .environment,
            formula: "mean of o3 over all station readings in the window", needs: "AirQualityObserved.o3",
            higherIsBetter: false) { $0.partial("AirQualityObserved.o3").mean },
        IndicatorDefinition(
            // ISO 37122:2019 8.2: number of real-time remote air quality monitoring stations per
            // square kilometre (km2).
            code: "ISO37122:8.2", name: "Real-time remote air quality monitoring stations per km2", unit: "1/km2", domain: .environment,
            formula: "stations reporting in the window / city area (km2)", needs: "AirQualityObserved.devices, area-km2",
            higherIsBetter: true) { i in
                guard let area = i.facts?.areaKm2, area > 0 else { return nil }
                return i.reporting("AirQualityObserved") / area
            },
    ]
}
