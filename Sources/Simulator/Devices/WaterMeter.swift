import Foundation
import Telemetry

/// A building or household water meter (WaterConsumptionObserved).
///
/// Consumption follows the city's daily use curve (night minimum, morning and evening peaks,
/// later mornings at weekends) times the meter's own size (log-normal, mean 1, so the district
/// total matches the residents it serves). The register is cumulative (SenML sum) and rolls
/// over at 100,000 m3 like a five-digit mechanical counter; a reboot of the radio module
/// restarts it at zero. Battery-powered.
struct WaterMeter: DeviceModel {
    struct State {
        var register: Double = 0
        var battery: Float = 1
    }

    let settings: Fleets.Water
    let city: CityContext
    /// Mean cubic metres per meter per day.
    let meanDaily: Double
    static let family = Family.standard("WaterConsumptionObserved")
    let domain = Self.family.schema.domain
    let entityType = Self.family.entityType
    let code = Self.family.schema.deviceCode
    static let rollover = family.schema.attribute(named: "waterConsumption")!.rollover!
    let attributes = Self.family.attributes
    var batteryAttribute: Int? { 2 }

    init(settings: Fleets.Water, city: CityContext) {
        self.settings = settings
        self.city = city
        meanDaily = city.city.population * settings.litresPerCapitaDay / 1000 / Double(max(1, settings.fleet.count))
    }

    /// The meter's size relative to the mean (log-normal, mean 1).
    static func size(_ key: UInt64) -> Double {
        exp(0.5 * RandomStream(key: mix64(key ^ 0x7369_7a65), counter: 0).normalOnce - 0.125)
    }

    func initialState(_ device: DeviceInfo, at time: Int64) -> State {
        let h = mix64(device.key ^ 0x7265_6769)
        return State(register: (h.unitInterval * WaterMeter.rollover * 1000).rounded() / 1000,
                     battery: Float(0.5 + 0.5 * (h >> 7).unitInterval))
    }

    func report(_ state: inout State, _ device: DeviceInfo, time: Int64, interval: Int64,
                random: inout RandomStream, values: inout [Double]) {
        let rate = meanDaily * WaterMeter.size(device.key) / 86400
        let used = rate * Double(interval) * city.waterDemand(from: time - interval, to: time)
            * exp(0.25 * random.normal() - 0.03125)
        state.register += used
        if state.register >= WaterMeter.rollover { state.register -= WaterMeter.rollover }
        state.battery = max(0, state.battery - Float(Double(interval) / (8 * 365 * 86400)))
        values[0] = state.register
        values[1] = rate * 3600 * city.waterDemand(time) * exp(0.2 * random.normal() - 0.02)
        values[2] = Double(state.battery)
    }

    func reboot(_ state: inout State) { state.register = 0 }
}

/// District metering: the inflow meter at each district's entry and pressure sensors in its
/// network (WaterObserved). Inflow is the district's metered use divided by (1 - leakage), so
/// inflow minus metered use is the loss the gateway should find; pipe bursts add flow and drop
/// pressure for a few hours. Pressure sags with demand and shows short transients.
struct WaterNetworkSensor: DeviceModel {
    struct State {
        var register: Double = 0
        var pressureNoise: Float = 0
    }

    let settings: Fleets.Water
    let city: CityContext
    /// Mean cubic metres per day used by each district's meters.
    let districtDaily: [Double]
    static let family = Family.standard("WaterObserved")
    let domain = Self.family.schema.domain
    let entityType = Self.family.entityType
    let code = Self.family.schema.deviceCode
    let attributes = Self.family.attributes

    func isInflowMeter(_ device: DeviceInfo) -> Bool { device.index % settings.networkSensorsPerDistrict == 0 }

    /// Extra flow (m3/h) from a pipe burst in the district at `time`, or 0.
    func burst(district: Int, at time: Int64) -> Double {
        let hour = time / 3600
        let chance = settings.burstsPerDistrictYear / 8760
        for start in (hour - 8)...hour {
            let slot = start &* 64 &+ Int64(district)
            guard city.shared(0x6275_7273, slot) < chance else { continue }
            let length = 2 + Int64(city.shared(0x6275_7274, slot) * 7)
            if hour < start + length {
                return districtDaily[district] / 24 * (0.1 + 0.3 * city.shared(0x6275_7275, slot))
            }
        }
        return 0
    }

    func initialState(_ device: DeviceInfo, at time: Int64) -> State {
        State(register: (mix64(device.key ^ 0x696e_666c).unitInterval * 1e6).rounded())
    }

    func report(_ state: inout State, _ device: DeviceInfo, time: Int64, interval: Int64,
                random: inout RandomStream, values: inout [Double]) {
        let district = device.district
        let demand = city.waterDemand(from: time - interval, to: time)
        let supplied = districtDaily[district] / 86400 / (1 - settings.leakage)
        let burstFlow = burst(district: district, at: time)
        let inflowRate = supplied * city.waterDemand(time) * 3600 + burstFlow
        if isInflowMeter(device) {
            state.register += (supplied * demand * Double(interval) + burstFlow * Double(interval) / 3600)
                * (1 + 0.01 * random.normal())
            values[0] = state.register
            values[1] = inflowRate * (1 + 0.02 * random.normal())
        } else {
            values[0] = .nan
            values[1] = .nan
        }
        // Pressure: 4 bar set point, sags with demand and bursts, OU noise, rare transients.
        let phi = exp(-Double(interval) / 1800)
        let noise = phi * Double(state.pressureNoise) + (1 - phi * phi).squareRoot() * 4000 * random.normal()
        state.pressureNoise = Float(noise)
        var pressure = 400_000 - 60_000 * (city.waterDemand(time) - 0.3) + noise
        if burstFlow > 0 { pressure -= 90_000 }
        if random.chance(0.01) { pressure += random.uniform(-80_000, 80_000) }
        values[2] = max(50_000, pressure)
        values[3] = burstFlow > 0 ? 1 : 0
    }
}
