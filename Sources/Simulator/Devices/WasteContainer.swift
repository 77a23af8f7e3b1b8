import Foundation
import Telemetry

/// An ultrasonic fill-level sensor in a street container (WasteContainer).
///
/// Each container fills at its own rate (log-normal around `fillDays` to full), more in the
/// daytime and more at weekends, never less than before (fill is monotone between emptyings).
/// A collection round empties it every `collectionEveryDays` at `collectionHour` plus the
/// container's place on the route (or, with `collection: fill-level`, daily rounds empty it once
/// it reached the threshold); emptying resets the level and `dateLastEmptying`. The fill rate
/// comes from `kg-per-capita-day` over the container inventory when the scenario gives it. A full
/// container overflows: level 1 and the lid stands open. Rare alarms: fire (`burning`, with a
/// hot temperature) and tilt (`dropped`, until the next collection).
struct WasteContainer: DeviceModel {
    struct State {
        var fill: Float = 0
        var battery: Float = 1
        var lastEmptied: Int64 = 0
        var burningUntil: Int64 = 0
        var dropped = false
    }

    let settings: Fleets.Waste
    let city: CityContext
    static let family = Family.standard("WasteContainer")
    let domain = Self.family.schema.domain
    let entityType = Self.family.entityType
    let code = Self.family.schema.deviceCode
    let attributes = Self.family.attributes
    var batteryAttribute: Int? { 5 }
    static let density = WasteDensity.kgPerLitre
    var fillingDays: Double { settings.daysToFill(population: city.city.population) }
    /// Days between rounds: the schedule's, or daily rounds that empty only full-enough containers.
    var roundEveryDays: Int { settings.collection == .fillLevel ? 1 : settings.collectionEveryDays }

    /// Mean fill per hour, and the offset of the container on its collection route.
    func profile(_ device: DeviceInfo) -> (rate: Double, routeOffset: Int64, collectionDay: Int64) {
        let h = mix64(device.key ^ 0x7761_7374)
        let spread = 0.35 * RandomStream(key: h, counter: 0).normalOnce
        let rate = exp(spread - 0.35 * 0.35 / 2) / (fillingDays * 24)
        return (rate, Int64((h >> 16) % 14400), Int64((h >> 40) % UInt64(roundEveryDays)))
    }

    /// The last collection time at or before `time` for this container.
    func lastCollection(before time: Int64, _ profile: (rate: Double, routeOffset: Int64, collectionDay: Int64)) -> Int64 {
        let every = Int64(roundEveryDays)
        var day = city.localDay(time)
        // Back to the container's collection day in the cycle.
        let shift = ((day - profile.collectionDay) % every + every) % every
        day -= shift
        var moment = day * 86400 - city.offsetSeconds + Int64(settings.collectionHour * 3600) + profile.routeOffset
        if moment > time { moment -= every * 86400 }
        return moment
    }

    /// Deposit intensity relative to the mean: little at night, more at weekends.
    func rhythm(_ time: Int64) -> Double {
        let hour = city.localHour(time)
        let daytime = hour >= 7 && hour < 22 ? 1.4 : 0.25
        return daytime * (city.isWeekend(time) ? 1.25 : 0.9) / 1.1
    }

    func initialState(_ device: DeviceInfo, at time: Int64) -> State {
        let profile = profile(device)
        let last = lastCollection(before: time, profile)
        let hours = Double(time - last) / 3600
        return State(fill: Float(min(1, 0.02 + profile.rate * hours)), battery: Float(0.6 + 0.4 * mix64(device.key).unitInterval),
                     lastEmptied: last)
    }

    /// A fire (the temperature), a tilt, an overflow (the fill level), as the status says.
    func events(_ state: State, _ device: DeviceInfo, time: Int64, values: [Double], into events: inout [Activity]) {
        if time < state.burningUntil { events.append(Activity(kind: "container-fire", isFault: false, magnitude: values[2])) }
        if state.dropped { events.append(Activity(kind: "container-tilt", isFault: false, magnitude: 1)) }
        if values[0] >= 0.9995 { events.append(Activity(kind: "overflow", isFault: false, magnitude: values[0])) }
    }

    func report(_ state: inout State, _ device: DeviceInfo, time: Int64, interval: Int64,
                random: inout RandomStream, values: inout [Double]) {
        let profile = profile(device)
        let from = time - interval
        let collected = lastCollection(before: time, profile)
        var fill = Double(state.fill)
        let growth = { (a: Int64, b: Int64, random: inout RandomStream) -> Double in
            guard b > a else { return 0 }
            let hours = Double(b - a) / 3600
            return profile.rate * hours * self.rhythm((a + b) / 2) * exp(0.3 * random.normal() - 0.045)
        }
        if collected > from {
            // A round passed. On a schedule it empties the container; on fill-level rounds only
            // if the fill reached the threshold.
            let atRound = settings.collection == .fillLevel ? fill + growth(from, collected, &random) : 1
            if atRound >= settings.collectionThreshold {
                // Emptied: what was added before is collected, the rest stays.
                state.lastEmptied = collected
                state.dropped = false
                fill = 0.005 + 0.02 * random.unit() + growth(collected, time, &random)
            } else {
                fill = atRound + growth(collected, time, &random)
            }
        } else {
            fill += growth(from, time, &random)
        }
        // Full as the sensor reports it (three decimals): the lid no longer closes.
        let overflowing = fill >= 0.9995
        fill = min(1, fill)
        state.fill = Float(fill)
        // Rare alarms.
        if time >= state.burningUntil, random.chance(2e-6 * Double(interval) / 3600) {
            state.burningUntil = time + Int64(random.uniform(1800, 7200))
        }
        if !state.dropped, random.chance(5e-6 * Double(interval) / 3600) { state.dropped = true }
        let burning = time < state.burningUntil
        state.battery = max(0, state.battery - Float(Double(interval) / (3 * 365 * 86400)))
        let ambient = city.temperature(time) + 2 * random.normal() * 0.3
        values[0] = fill
        values[1] = fill * settings.capacityLitres * WasteContainer.density
        values[2] = burning ? random.uniform(60, 300) : ambient + 3 * fill
        values[3] = burning ? 2 : state.dropped ? 3 : overflowing ? 1 : 0
        values[4] = Double(state.lastEmptied)
        values[5] = Double(state.battery)
    }
}

extension RandomStream {
    /// One standard normal from a fresh stream (for per-device constants).
    var normalOnce: Double {
        var copy = self
        return copy.normal()
    }
}
