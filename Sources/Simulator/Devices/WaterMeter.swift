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
        // Every meter of the inventory serves its share of the residents; the connected ones are simulated.
        meanDaily = city.city.population * settings.litresPerCapitaDay / 1000 / Double(max(1, settings.fleet.inventory ?? settings.fleet.count))
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
        let used = rate * Double(interval) * city.waterDemand(from: time - interval, to: time) * city.waterSeason(time)
            * exp(0.25 * random.normal() - 0.03125)
        state.register += used
        if state.register >= WaterMeter.rollover { state.register -= WaterMeter.rollover }
        state.battery = max(0, state.battery - Float(Double(interval) / (8 * 365 * 86400)))
        values[0] = state.register
        values[1] = rate * 3600 * city.waterDemand(time) * city.waterSeason(time) * exp(0.2 * random.normal() - 0.02)
        values[2] = Double(state.battery)
    }

    func reboot(_ state: inout State) { state.register = 0 }
}

/// District metering: the inflow meter at each district's entry and pressure sensors in its
/// network (WaterObserved). Inflow is the district's use (its meters, connected or not) plus
/// leakage plus bursts. Leakage is pressure-driven (FAVAD, flow ~ pressure^1.15): highest at
/// night when demand is low and the network pressure high, lower in the daytime peaks and in
/// summer; `leakage` is the leak flow at the 4-bar night pressure as a share of the inflow at
/// mean use, so the loss the gateway measures moves with demand, season and bursts. Pressure
/// sags with demand and bursts and shows short transients.
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
    /// The network's set-point pressure (Pa), reached at night.
    static let setPoint = 400_000.0
    /// FAVAD leakage exponent for a mix of rigid and flexible pipes.
    static let leakageExponent = 1.15

    func isInflowMeter(_ device: DeviceInfo) -> Bool { device.index % settings.networkSensorsPerDistrict == 0 }

    /// Extra flow (m3/h) from a pipe burst in the district at `time`, or 0.
    func burst(district: Int, at time: Int64) -> Double { burstUnderWay(district: district, at: time)?.flow ?? 0 }

    /// The pipe burst under way in the district at `time`: its extra flow (m3/h) and when it began.
    func burstUnderWay(district: Int, at time: Int64) -> (flow: Double, since: Int64)? {
        let hour = time / 3600
        let chance = settings.burstsPerDistrictYear / 8760
        for start in (hour - 8)...hour {
            let slot = start &* 64 &+ Int64(district)
            guard city.shared(0x6275_7273, slot) < chance else { continue }
            let length = 2 + Int64(city.shared(0x6275_7274, slot) * 7)
            if hour < start + length {
                return (districtDaily[district] / 24 * (0.1 + 0.3 * city.shared(0x6275_7275, slot)), start * 3600)
            }
        }
        return nil
    }

    /// The district's flows at `time` (m3/s): metered use, leakage, burst; and the network
    /// pressure without sensor noise (Pa).
    func flows(district: Int, at time: Int64) -> (use: Double, leak: Double, burst: Double, pressure: Double) {
        let mean = districtDaily[district] / 86400
        let demand = city.waterDemand(time) * city.waterSeason(time)
        let burstFlow = burst(district: district, at: time) / 3600
        var pressure = Self.setPoint - 60_000 * (demand - 0.3)
        if burstFlow > 0 { pressure -= 90_000 }
        pressure = max(50_000, pressure)
        let leakAtSetPoint = mean * settings.leakage / (1 - settings.leakage)
        let leak = leakAtSetPoint * pow(pressure / Self.setPoint, Self.leakageExponent)
        return (mean * demand, leak, burstFlow, pressure)
    }

    /// Cubic metres flowing into the district over [from, to), by midpoint samples every 5
    /// minutes at most.
    func inflow(district: Int, from: Int64, to: Int64) -> Double {
        let steps = max(1, Int((to - from + 299) / 300))
        let width = Double(to - from) / Double(steps)
        var total = 0.0
        for step in 0..<steps {
            let f = flows(district: district, at: from + Int64(width * (Double(step) + 0.5)))
            total += (f.use + f.leak + f.burst) * width
        }
        return total
    }

    func initialState(_ device: DeviceInfo, at time: Int64) -> State {
        State(register: (mix64(device.key ^ 0x696e_666c).unitInterval * 1e6).rounded())
    }

    /// A pipe burst in the district (its extra flow in m3/h), labelled once per district: on
    /// its inflow meter.
    func events(_ state: State, _ device: DeviceInfo, time: Int64, values: [Double], into events: inout [Activity]) {
        guard isInflowMeter(device), let burst = burstUnderWay(district: device.district, at: time) else { return }
        events.append(Activity(kind: "pipe-burst", isFault: false, magnitude: burst.flow, since: burst.since))
    }

    func report(_ state: inout State, _ device: DeviceInfo, time: Int64, interval: Int64,
                random: inout RandomStream, values: inout [Double]) {
        let district = device.district
        let now = flows(district: district, at: time)
        if isInflowMeter(device) {
            state.register += inflow(district: district, from: time - interval, to: time) * (1 + 0.01 * random.normal())
            values[0] = state.register
            values[1] = (now.use + now.leak + now.burst) * 3600 * (1 + 0.02 * random.normal())
        } else {
            values[0] = .nan
            values[1] = .nan
        }
        // Pressure: OU noise around the network's pressure, rare transients.
        let phi = exp(-Double(interval) / 1800)
        let noise = phi * Double(state.pressureNoise) + (1 - phi * phi).squareRoot() * 4000 * random.normal()
        state.pressureNoise = Float(noise)
        var pressure = now.pressure + noise
        if random.chance(0.01) { pressure += random.uniform(-80_000, 80_000) }
        values[2] = max(50_000, pressure)
        values[3] = now.burst > 0 ? 1 : 0
    }
}
