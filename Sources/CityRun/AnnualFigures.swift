import Simulator
import Telemetry

/// Annual indicators from the run's daily windows. A run that covers a year gives them
/// directly (the mean of the daily values, each a day scaled to a year, is the year's total).
/// A shorter run scales its days to a year by a seasonal method, and says so:
/// - street-lighting energy follows the hours of darkness at the city's coordinates, so the
///   covered days are scaled by the year's darkness over theirs;
/// - collected waste is scaled by days (the waste model has no season).
struct AnnualFigures {
    let start: Int64
    let end: Int64
    var days: Double { Double(end - start) / 86_400 }
    var coversYear: Bool { end - start >= 365 * 86_400 }

    init(scenario: Scenario, until: Int64) {
        start = scenario.start
        end = max(scenario.start + 1, min(until, scenario.start + scenario.duration))
    }

    /// The darkness factor of a city: the year's mean darkness a day over the covered days'.
    func darknessFactor(_ city: City) -> Double {
        guard !coversYear else { return 1 }
        let covered = city.darkSeconds(from: start, to: end) / days
        let year = city.darkSeconds(from: start, to: start + 365 * 86_400) / 365
        return covered > 0 ? year / covered : 1
    }

    /// Whether the period holds any night of the city: a period without one says nothing of
    /// its street lighting (the lamps burn only in the dark).
    func coversNight(_ city: City) -> Bool { coversYear || city.darkSeconds(from: start, to: end) > 0 }

    /// The days one round of the city's waste collection takes: a shorter period may hold no
    /// emptying of most containers, and its collected waste is no data, not zero.
    func collectionCycleDays(_ city: City) -> Double {
        guard let waste = city.fleets.waste, waste.collection == .schedule else { return 1 }
        return Double(max(1, waste.collectionEveryDays))
    }

    func coversCollection(_ city: City) -> Bool { days >= collectionCycleDays(city) }

    /// The city's annual figures from the run's daily means: scaled to a year, or removed
    /// (no data) when the period cannot give them.
    func adjust(_ row: inout [String: Double], city: City) {
        if !coversNight(city) {
            row["ISO37120_7_6"] = nil
        } else if let v = row["ISO37120_7_6"] {
            row["ISO37120_7_6"] = v * darknessFactor(city)
        }
        if !coversCollection(city) { row["ISO37120_16_2"] = nil }
    }

    /// How each annual figure was obtained, and for which cities the period gives none.
    func methods(_ cities: [City]) -> [String: String] {
        let period = "\(Timestamps.format(start)) to \(Timestamps.format(end)) (\(fixed(days, 2)) days)"
        var out: [String: String]
        if coversYear {
            out = ["ISO37120:7.6": "a year of daily windows, \(period)", "ISO37120:16.2": "a year of daily windows, \(period)"]
        } else {
            out = ["ISO37120:7.6": "\(period) scaled to a year by the hours of darkness at the city's coordinates (the year's mean night over the covered nights')",
                   "ISO37120:16.2": "\(period) scaled to a year by days (no seasonal variation in the waste model)"]
        }
        let dark = cities.filter { !coversNight($0) }.map(\.id)
        if !dark.isEmpty { out["ISO37120:7.6"]! += "; no data for \(dark.joined(separator: ", ")): the period holds no night there" }
        let short = cities.filter { !coversCollection($0) }.map { "\($0.id) (\(Int(collectionCycleDays($0))) d)" }
        if !short.isEmpty { out["ISO37120:16.2"]! += "; no data for \(short.joined(separator: ", ")): the period is shorter than one collection round" }
        return out
    }
}
