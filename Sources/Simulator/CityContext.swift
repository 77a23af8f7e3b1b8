import Telemetry
import Foundation

/// What all devices of a city share, computed from the seed and the time alone: local clock,
/// the day's dusk and dawn, traffic demand, weather and water demand. Devices read it; nothing
/// in it depends on which devices run, so shards agree.
final class CityContext {
    let city: City
    let index: Int
    let key: UInt64
    let offsetSeconds: Int64
    private let switchElevation: Double
    /// Sun times of recent local days, direct-mapped by day (runs move forward a day at a time).
    private var nights = [(day: Int64, rise: Double, set: Double)](repeating: (Int64.min, 0, 0), count: 8)

    init(city: City, index: Int, seed: UInt64) {
        self.city = city
        self.index = index
        key = mix64(seed ^ nameKey("city/" + city.id))
        offsetSeconds = Int64((city.utcOffset * 3600).rounded())
        switchElevation = city.fleets.lighting?.switchElevation ?? -3
    }

    // MARK: Local clock

    /// Local days since 1970-01-01.
    @inline(__always)
    func localDay(_ time: Int64) -> Int64 {
        let local = time + offsetSeconds
        return local >= 0 ? local / 86400 : (local - 86399) / 86400
    }

    /// Local hour of day, 0..<24, fractional.
    @inline(__always)
    func localHour(_ time: Int64) -> Double {
        let local = time + offsetSeconds
        let second = ((local % 86400) + 86400) % 86400
        return Double(second) / 3600
    }

    /// 0 = Monday ... 6 = Sunday.
    @inline(__always)
    func weekday(_ time: Int64) -> Int { Int(((localDay(time) + 3) % 7 + 7) % 7) }

    @inline(__always)
    func isWeekend(_ time: Int64) -> Bool { weekday(time) >= 5 }

    /// Start of the local day containing `time`, in seconds since 1970 (UTC).
    @inline(__always)
    func dayStart(_ time: Int64) -> Int64 { localDay(time) * 86400 - offsetSeconds }

    /// 1 in mid-January, 0 in mid-July (northern hemisphere; flipped south of the equator).
    func winterness(_ time: Int64) -> Double {
        let days = Double(time) / 86400 - 14
        let value = 0.5 + 0.5 * cos(2 * Double.pi * days / 365.2425)
        return city.latitude >= 0 ? value : 1 - value
    }

    // MARK: Daylight

    /// Sun rise and set (at the lighting switch elevation) on the local day of `time`.
    func daylight(_ time: Int64) -> (rise: Double, set: Double) {
        let day = localDay(time)
        let cached = nights[Int(day & 7)]
        if cached.day == day { return (cached.rise, cached.set) }
        let start = day * 86400 - offsetSeconds
        let value = Solar.crossings(dayStart: start, utcOffset: city.utcOffset, latitude: city.latitude,
                                    longitude: city.longitude, elevation: switchElevation)
            // Polar day or night: decide by the sun at local noon.
            ?? (Solar.elevation(at: Double(start + 43200), latitude: city.latitude, longitude: city.longitude) > switchElevation
                ? (Double(start), Double(start + 86400)) : (Double(start + 43200), Double(start + 43200)))
        nights[Int(day & 7)] = (day, value.0, value.1)
        return value
    }

    /// Whether the street lights are on (the sun is below the switch elevation).
    func isDark(_ time: Double) -> Bool {
        let light = daylight(Int64(time.rounded(.down)))
        return time < light.rise || time >= light.set
    }

    /// Seconds of darkness within [from, to).
    func darkSeconds(from: Double, to: Double) -> Double {
        var total = 0.0
        var cursor = from
        while cursor < to {
            let dayStart = Double(self.dayStart(Int64(cursor.rounded(.down))))
            let dayEnd = min(to, dayStart + 86400)
            let light = daylight(Int64(cursor.rounded(.down)))
            let lit = max(0, min(dayEnd, light.set) - max(cursor, light.rise))
            total += (dayEnd - cursor) - lit
            cursor = dayEnd
        }
        return total
    }

    // MARK: Shared random factors

    /// A uniform draw shared by the whole city for (salt, slot), e.g. one per day.
    @inline(__always)
    func shared(_ salt: UInt64, _ slot: Int64) -> Double {
        mix64(key ^ mix64(salt &+ UInt64(bitPattern: slot) &* 0x9E37_79B9_7F4A_7C15)).unitInterval
    }

    /// A standard normal shared by the whole city for (salt, slot).
    func sharedNormal(_ salt: UInt64, _ slot: Int64) -> Double {
        let u1 = max(shared(salt, slot), 1e-300)
        let u2 = shared(salt &+ 1, slot)
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    // MARK: Traffic

    /// City-wide traffic demand, 0-1 of the weekday peak: a morning and an evening peak on
    /// weekdays, one broad afternoon hump at weekends, times a day-to-day factor.
    func trafficDemand(_ time: Int64) -> Double {
        let hour = localHour(time)
        func bump(_ centre: Double, _ width: Double) -> Double {
            let d = hour - centre
            return exp(-d * d / (2 * width * width))
        }
        let profile: Double
        switch weekday(time) {
        case 5, 6:
            profile = 0.07 + 0.55 * bump(14, 3.5) + 0.1 * bump(20, 2)
        default:
            profile = 0.06 + 0.82 * bump(8.4, 1.1) + 0.9 * bump(18.4, 1.5) + 0.42 * bump(13, 2.6)
        }
        let dayFactor = 1 + 0.05 * sharedNormal(0x7472_6166, localDay(time))
        return min(1.2 * motorisation, profile * dayFactor * motorisation)
    }

    /// Vehicles per inhabitant relative to Almaty's (470,000 for 2 million): a city with more
    /// cars per head loads its roads more, less than in proportion (elasticity 0.3: ownership
    /// also buys trips off-peak and comes with more road). 1 when the scenario gives no vehicles.
    private(set) lazy var motorisation: Double = {
        guard city.vehicles > 0, city.population > 0 else { return 1 }
        return pow(city.vehicles / city.population / CityContext.referenceVehiclesPerCapita, 0.3)
    }()

    static let referenceVehiclesPerCapita = 470_000.0 / 2_000_000

    // MARK: Weather

    /// Air temperature (Celsius): seasonal and daily cycle plus a day anomaly.
    func temperature(_ time: Int64) -> Double {
        let climate = city.climate
        let w = winterness(time)
        let seasonal = climate.temperatureJuly + (climate.temperatureJanuary - climate.temperatureJuly) * w
        let daily = 5 * cos(2 * Double.pi * (localHour(time) - 15) / 24)
        return seasonal + daily + temperatureAnomaly(localDay(time))
    }

    /// The day's departure from the seasonal temperature (Celsius).
    func temperatureAnomaly(_ day: Int64) -> Double { 3 * sharedNormal(0x7465_6d70, day) }

    /// The day's departure from the mean station pressure (hPa): anticyclones are high.
    func pressureAnomaly(_ day: Int64) -> Double { 6 * sharedNormal(0x7072_6573, day) }

    /// The day's mean wind speed (m/s, log-normal around 2.5: a sheltered basin).
    func wind(_ day: Int64) -> Double { 2.5 * exp(0.45 * sharedNormal(0x7769_6e64, day) - 0.1) }

    /// Whether snow lies on the local day: a winter day whose mean temperature is below zero.
    func snowCover(_ day: Int64) -> Bool {
        let noon = day * 86400 - offsetSeconds + 43200
        let w = winterness(noon)
        let climate = city.climate
        return w > 0.6 && climate.temperatureJuly + (climate.temperatureJanuary - climate.temperatureJuly) * w + temperatureAnomaly(day) < 0
    }

    /// Inversion strength of the local day: 0 none, up to 1.5 in a strong winter inversion.
    /// It follows the day's weather: a cold anomaly, high pressure (an anticyclone) and calm
    /// wind make it, snow cover strengthens it; `inversionChance` sets how often a mid-winter
    /// day's weather is still enough. Half of the day before carries over (the trapped air clears slowly).
    func inversion(_ time: Int64) -> Double {
        let day = localDay(time)
        func strength(_ d: Int64) -> Double {
            let noon = d * 86400 - offsetSeconds + 43200
            let chance = city.climate.inversionChance * (0.15 + 0.85 * winterness(noon))
            guard chance > 0 else { return 0 }
            // A stagnation score of the weather, standard normal: the chance sets how often it
            // is high enough; snow cover (cold ground) makes an inversion stronger.
            let score = (-0.5 * temperatureAnomaly(d) / 3 + 0.6 * pressureAnomaly(d) / 6 - 0.6 * log(wind(d) / 2.5) / 0.45)
                / (0.25 + 0.36 + 0.36).squareRoot()
            let threshold = CityContext.normalQuantile(1 - min(0.999, chance))
            return score > threshold ? min(1.5, 0.5 + 0.6 * (score - threshold) + (snowCover(d) ? 0.3 : 0)) : 0
        }
        return max(strength(day), 0.5 * strength(day - 1))
    }

    /// The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
    static func normalQuantile(_ p: Double) -> Double {
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let p = min(max(p, 1e-12), 1 - 1e-12)
        if p < 0.02425 {
            let q = (-2 * log(p)).squareRoot()
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        if p > 1 - 0.02425 { return -normalQuantile(1 - p) }
        let q = p - 0.5, r = q * q
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    }

    /// Heating smog's shape over the local day: most in the evening and night (stoves and boilers
    /// under a shallow night boundary layer), least in the afternoon, smooth between hours.
    func heatingShape(_ time: Int64) -> Double {
        let hour = localHour(time)
        return 1.0 * Self.dailyBump(hour, 22, 3.2) - 0.6 * Self.dailyBump(hour, 13.5, 2.2)
    }

    /// A Gaussian bump around a local hour, measured around the clock (23h is 2 h from 1h).
    @inline(__always)
    static func dailyBump(_ hour: Double, _ centre: Double, _ width: Double) -> Double {
        var d = abs(hour - centre)
        if d > 12 { d = 24 - d }
        return exp(-d * d / (2 * width * width))
    }

    // MARK: Water

    /// Seasonal water use relative to the year's mean: gardens and showers in summer (+12 %),
    /// less in winter (-12 %).
    func waterSeason(_ time: Int64) -> Double { 1 + 0.24 * (0.5 - winterness(time)) }

    /// Household water use relative to the daily mean (mean 1 over a day): low at night,
    /// morning and evening peaks, a later morning at weekends.
    func waterDemand(_ time: Int64) -> Double {
        let hour = localHour(time)
        func bump(_ centre: Double, _ width: Double) -> Double { Self.dailyBump(hour, centre, width) }
        let morning = isWeekend(time) ? 9.5 : 7.5
        let raw = 0.3 + 1.5 * bump(morning, 1.3) + 1.1 * bump(20, 1.8) + 0.5 * bump(13.5, 2.5)
        return raw / CityContext.waterDemandMean
    }

    static let waterDemandMean = 0.3 + (1.5 * 1.3 + 1.1 * 1.8 + 0.5 * 2.5) * (2 * Double.pi).squareRoot() / 24

    /// Mean of `waterDemand` over [from, to), by midpoint samples every 15 minutes at most.
    func waterDemand(from: Int64, to: Int64) -> Double {
        let steps = max(1, Int((to - from + 899) / 900))
        let width = Double(to - from) / Double(steps)
        var total = 0.0
        for step in 0..<steps {
            total += waterDemand(from + Int64(width * (Double(step) + 0.5)))
        }
        return total / Double(steps)
    }
}
