import Foundation
import Telemetry

/// An air-quality monitoring station (AirQualityObserved).
///
/// Each pollutant is an Ornstein-Uhlenbeck process in log space (3-hour memory) around a
/// baseline: PM2.5 around the city's seasonal mean (January to July), raised in winter evenings
/// and nights by heating smog, multiplied on inversion days (pollution trapped in the basin, as
/// in Almaty), plus a traffic share; PM10 is PM2.5 plus coarse dust; NO2 follows the city's
/// traffic demand with a per-station road exposure; O3 forms in sunlight and is titrated by NO2;
/// CO follows traffic and heating. Weather (temperature, humidity, pressure) comes from the city.
struct AirQualityStation: DeviceModel {
    struct State {
        var pm: Float = 0
        var no2: Float = 0
        var o3: Float = 0
    }

    let city: CityContext
    static let family = Family.standard("AirQualityObserved")
    let domain = Self.family.schema.domain
    let entityType = Self.family.entityType
    let code = Self.family.schema.deviceCode
    let attributes = Self.family.attributes

    /// How close the station is to traffic (0.5 park to 1.6 kerbside).
    func exposure(_ device: DeviceInfo) -> Double {
        0.5 + 1.1 * mix64(device.key ^ 0x726f_6164).unitInterval
    }

    func initialState(_ device: DeviceInfo, at time: Int64) -> State { State() }

    func report(_ state: inout State, _ device: DeviceInfo, time: Int64, interval: Int64,
                random: inout RandomStream, values: inout [Double]) {
        let climate = city.city.climate
        let winter = city.winterness(time)
        let traffic = city.trafficDemand(time)
        let exposure = exposure(device)
        let inversion = city.inversion(time)
        // OU in log space: x' = phi x + sqrt(1 - phi^2) sigma e.
        let phi = exp(-Double(interval) / 10800)
        let spread = (1 - phi * phi).squareRoot()
        func step(_ x: Float, _ sigma: Double) -> Double { phi * Double(x) + spread * sigma * random.normal() }
        let pmNoise = step(state.pm, 0.25)
        let no2Noise = step(state.no2, 0.2)
        let o3Noise = step(state.o3, 0.2)
        state.pm = Float(pmNoise)
        state.no2 = Float(no2Noise)
        state.o3 = Float(o3Noise)

        let seasonal = climate.pm25July + (climate.pm25January - climate.pm25July) * winter
        let evening = city.heatingShape(time)
        let heating = 1 + 0.45 * climate.heatingSmog * winter * evening
        let trapped = 1 + 1.2 * inversion
        let pm25 = seasonal * heating * trapped * exp(pmNoise) + 6 * traffic * exposure
        let dust = (1 - winter) * 10 * (1 + traffic) * exp(0.5 * pmNoise)
        let pm10 = pm25 * 1.35 + dust
        let no2 = (12 + 45 * traffic * exposure + 12 * winter * climate.heatingSmog) * (1 + 0.5 * inversion) * exp(no2Noise)
        let sun = max(0, Solar.elevation(at: Double(time), latitude: city.city.latitude, longitude: city.city.longitude)) / 70
        let o3 = max(2, (25 + 90 * sun * (1.2 - winter)) * exp(o3Noise) - 0.35 * no2)
        let co = (0.25 + 1.2 * traffic * exposure * 0.5 + 0.8 * winter * climate.heatingSmog * max(0, evening)) * (1 + 0.6 * inversion) * exp(0.5 * no2Noise)
        let temperature = city.temperature(time) + 0.5 * random.normal()
        let humidity = min(0.99, max(0.08, 0.55 + 0.25 * winter - 0.012 * (temperature - 10) + 0.04 * random.normal()))
        values[0] = pm25
        values[1] = pm10
        values[2] = no2
        values[3] = o3
        values[4] = co
        values[5] = temperature
        values[6] = humidity
        values[7] = climate.pressure + city.pressureAnomaly(city.localDay(time)) + 0.3 * random.normal()
    }
}
