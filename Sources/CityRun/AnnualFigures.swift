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

    func adjust(_ row: inout [String: Double], city: City) {
        if let v = row["ISO37120_7_6"] { row["ISO37120_7_6"] = v * darknessFactor(city) }
    }

    var methods: [String: String] {
        let period = "\(Timestamps.format(start)) to \(Timestamps.format(end)) (\(fixed(days, 2)) days)"
        if coversYear {
            return ["ISO37120:7.6": "a year of daily windows, \(period)", "ISO37120:16.2": "a year of daily windows, \(period)"]
        }
        return ["ISO37120:7.6": "\(period) scaled to a year by the hours of darkness at the city's coordinates (the year's mean night over the covered nights')",
                "ISO37120:16.2": "\(period) scaled to a year by days (no seasonal variation in the waste model)"]
    }
}
