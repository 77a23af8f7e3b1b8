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
        return min(1.2, profile * dayFactor)
    }

    // MARK: Weather

    /// Air temperature (Celsius): seasonal and daily cycle plus a day anomaly.
    func temperature(_ time: Int64) -> Double {
        let climate = city.climate
        let w = winterness(time)
        let seasonal = climate.temperatureJuly + (climate.temperatureJanuary - climate.temperatureJuly) * w
        let daily = 5 * cos(2 * Double.pi * (localHour(time) - 15) / 24)
        return seasonal + daily + 3 * sharedNormal(0x7465_6d70, localDay(time))
    }

    /// Inversion strength of the local day: 0 none, up to about 1.5 in a strong winter inversion,
    /// carried over partly from the day before.
    func inversion(_ time: Int64) -> Double {
        let day = localDay(time)
        let chance = city.climate.inversionChance * (0.2 + 0.8 * winterness(time))
        func raw(_ d: Int64) -> Double {
            shared(0x696e_7600, d) < chance ? 0.5 + shared(0x696e_7601, d) : 0
        }
        return 0.65 * raw(day) + 0.35 * raw(day - 1)
    }

    // MARK: Water

    /// Household water use relative to the daily mean (mean 1 over a day): low at night,
    /// morning and evening peaks, a later morning at weekends.
    func waterDemand(_ time: Int64) -> Double {
        let hour = localHour(time)
        func bump(_ centre: Double, _ width: Double) -> Double {
            var d = abs(hour - centre)
            if d > 12 { d = 24 - d }
            return exp(-d * d / (2 * width * width))
        }
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
