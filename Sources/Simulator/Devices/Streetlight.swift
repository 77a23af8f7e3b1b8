import Foundation
import Telemetry

/// A street-lighting pole with a lamp controller (Streetlight).
///
/// The lamp burns while the sun is below the switch elevation at the city's coordinates (an
/// astronomical clock), dimmed between `dimFrom` and `dimTo` local time. Power is the lamp's
/// rating (LED 60-150 W; high-pressure sodium 150 or 250 W plus 12 % ballast loss) times the
/// dim level, and about 1.5 W of controller standby when off. The energy meter integrates that
/// exactly over each reporting interval. Lamps fail at a rate per burning hour (sodium twice as
/// often) and stay `defectiveLamp` until a repair crew comes one to five days later.
struct Streetlight: DeviceModel {
    struct State {
        var energy: Double = 0
        var failedUntil: Int64 = 0
    }

    let settings: Fleets.Lighting
    let city: CityContext
    static let family = Family.standard("Streetlight")
    let domain = Self.family.schema.domain
    let entityType = Self.family.entityType
    let code = Self.family.schema.deviceCode
    let attributes = Self.family.attributes
    static let standby = 1.5

    struct Lamp {
        let led: Bool
        let watts: Double
    }

    func lamp(_ device: DeviceInfo) -> Lamp {
        let h = mix64(device.key ^ 0x6c61_6d70)
        if h.unitInterval < settings.ledShare {
            return Lamp(led: true, watts: [60, 80, 100, 120, 150][Int((h >> 3) % 5)])
        }
        return Lamp(led: false, watts: ((h >> 3) % 3 == 0 ? 250 : 150) * 1.12)
    }

    /// Mean days from a failure to its repair (repairs take one to five days).
    static let meanRepairDays = 3.0

    func initialState(_ device: DeviceInfo, at time: Int64) -> State {
        // Meters installed at different times: totals start anywhere up to two years of burning.
        let lamp = lamp(device)
        var state = State(energy: (mix64(device.key ^ 0x656e_6572).unitInterval * 8000 * lamp.watts / 1000).rounded())
        // The fleet starts in its steady state: the share failed is the failure rate per hour
        // of the day (burning about half of it) times the repair time, and a failed lamp has
        // part of its repair time still to wait.
        let failuresPerHour = settings.failuresPer1000h / 1000 * (lamp.led ? 1 : 2) * city.darkSeconds(from: Double(time - 86400), to: Double(time)) / 86400
        let repairHours = Self.meanRepairDays * 24
        let failed = failuresPerHour * repairHours / (1 + failuresPerHour * repairHours)
        let h = mix64(device.key ^ 0x6661_696c)
        if h.unitInterval < failed {
            // Waiting times seen at a random moment are length-biased: for repairs uniform in
            // 1-5 days, 1.72 days remain on average.
            state.failedUntil = time + Int64(mix64(h).unitInterval * 2 * 1.72 * 86400)
        }
        return state
    }

    /// Dim level at `time` while dark: 1, or `dimLevel` inside the dimming hours.
    func level(_ time: Double) -> Double {
        let hour = city.localHour(Int64(time.rounded(.down)))
        let dimmed = settings.dimFrom <= settings.dimTo
            ? (hour >= settings.dimFrom && hour < settings.dimTo)
            : (hour >= settings.dimFrom || hour < settings.dimTo)
        return dimmed ? settings.dimLevel : 1
    }

    /// Burning seconds and dim-weighted burning seconds in [from, to): darkness integrated
    /// exactly, and the part of it inside the dimming hours weighted by the dim level.
    func burn(from: Int64, to: Int64) -> (seconds: Double, weighted: Double) {
        let start = Double(from)
        let end = Double(to)
        let dark = city.darkSeconds(from: start, to: end)
        guard settings.dimLevel < 1, settings.dimFrom != settings.dimTo else { return (dark, dark) }
        var dimmedDark = 0.0
        // Dimming periods that start on the day before `from` through the day of `to`.
        let wraps = settings.dimFrom > settings.dimTo
        let length = ((wraps ? settings.dimTo + 24 : settings.dimTo) - settings.dimFrom) * 3600
        var day = city.dayStart(from) - 86400
        while Double(day) < end {
            let periodStart = Double(day) + settings.dimFrom * 3600
            let lower = max(start, periodStart)
            let upper = min(end, periodStart + length)
            if upper > lower { dimmedDark += city.darkSeconds(from: lower, to: upper) }
            day += 86400
        }
        return (dark, dark - (1 - settings.dimLevel) * dimmedDark)
    }

    /// A failed lamp, until the repair crew comes.
    func events(_ state: State, _ device: DeviceInfo, time: Int64, values: [Double], into events: inout [Activity]) {
        if time < state.failedUntil { events.append(Activity(kind: "lamp-failure", isFault: false, magnitude: lamp(device).watts)) }
    }

    func report(_ state: inout State, _ device: DeviceInfo, time: Int64, interval: Int64,
                random: inout RandomStream, values: inout [Double]) {
        let lamp = lamp(device)
        let from = time - interval
        let (burning, weighted) = burn(from: from, to: time)
        // Failures happen while burning.
        let failRate = settings.failuresPer1000h / 1000 * (lamp.led ? 1 : 2)
        let wasFailed = from < state.failedUntil
        if !wasFailed, random.chance(failRate * burning / 3600) {
            state.failedUntil = time + Int64(random.uniform(86400, 5 * 86400))
        }
        let failed = time < state.failedUntil
        let lampEnergy = failed && !wasFailed ? weighted * 0.5 : (wasFailed ? 0 : weighted)
        state.energy += (lamp.watts * lampEnergy + Streetlight.standby * Double(interval)) / 3_600_000
        let on = city.isDark(Double(time))
        let dim = on ? level(Double(time)) : 0
        let power = on && !failed ? lamp.watts * dim * (1 + 0.02 * random.normal()) + Streetlight.standby : Streetlight.standby
        values[0] = on ? 1 : 0
        values[1] = dim
        values[2] = power
        values[3] = state.energy
        values[4] = failed ? 1 : 0
        values[5] = lamp.led ? 0 : 1
    }

    func reboot(_ state: inout State) { state.energy = 0 }
}
