import Foundation

/// The sun's position (NOAA solar calculator equations, after Meeus): good to about a minute
/// for sunrise and sunset between the polar circles.
public enum Solar {
    static let radians = Double.pi / 180

    /// Declination (degrees) and equation of time (minutes) at `time` (seconds since 1970).
    static func declinationAndEquation(_ time: Double) -> (declination: Double, equation: Double) {
        let julianCentury = (time / 86400 + 2_440_587.5 - 2_451_545) / 36525
        let meanLongitude = (280.46646 + julianCentury * (36000.76983 + julianCentury * 0.0003032))
            .truncatingRemainder(dividingBy: 360)
        let meanAnomaly = 357.52911 + julianCentury * (35999.05029 - 0.0001537 * julianCentury)
        let eccentricity = 0.016708634 - julianCentury * (0.000042037 + 0.0000001267 * julianCentury)
        let center = sin(meanAnomaly * radians) * (1.914602 - julianCentury * (0.004817 + 0.000014 * julianCentury))
            + sin(2 * meanAnomaly * radians) * (0.019993 - 0.000101 * julianCentury)
            + sin(3 * meanAnomaly * radians) * 0.000289
        let trueLongitude = meanLongitude + center
        let omega = 125.04 - 1934.136 * julianCentury
        let apparentLongitude = trueLongitude - 0.00569 - 0.00478 * sin(omega * radians)
        let meanObliquity = 23 + (26 + (21.448 - julianCentury * (46.815 + julianCentury * (0.00059 - julianCentury * 0.001813))) / 60) / 60
        let obliquity = meanObliquity + 0.00256 * cos(omega * radians)
        let declination = asin(sin(obliquity * radians) * sin(apparentLongitude * radians)) / radians
        let y = pow(tan(obliquity * radians / 2), 2)
        let l0 = meanLongitude * radians
        let m = meanAnomaly * radians
        let equation = 4 / radians * (y * sin(2 * l0) - 2 * eccentricity * sin(m)
            + 4 * eccentricity * y * sin(m) * cos(2 * l0) - 0.5 * y * y * sin(4 * l0) - 1.25 * eccentricity * eccentricity * sin(2 * m))
        return (declination, equation)
    }

    /// Sun elevation above the horizon in degrees (no refraction).
    public static func elevation(at time: Double, latitude: Double, longitude: Double) -> Double {
        let (declination, equation) = declinationAndEquation(time)
        let utcMinutes = (time.truncatingRemainder(dividingBy: 86400) + 86400).truncatingRemainder(dividingBy: 86400) / 60
        let trueSolarMinutes = (utcMinutes + equation + 4 * longitude).truncatingRemainder(dividingBy: 1440)
        var hourAngle = trueSolarMinutes / 4 - 180
        if hourAngle < -180 { hourAngle += 360 }
        let cosZenith = sin(latitude * radians) * sin(declination * radians)
            + cos(latitude * radians) * cos(declination * radians) * cos(hourAngle * radians)
        return 90 - acos(min(1, max(-1, cosZenith))) / radians
    }

    /// When the sun crosses `elevation` degrees on the local day starting at `dayStart`
    /// (seconds since 1970): (rise, set), or nil on polar day or night.
    public static func crossings(dayStart: Int64, utcOffset: Double, latitude: Double, longitude: Double,
                                 elevation: Double) -> (rise: Double, set: Double)? {
        // Solar noon first, then the hour angle at the threshold, iterated once at each end.
        let approximateNoon = Double(dayStart) + 43200
        let (_, equationAtNoon) = declinationAndEquation(approximateNoon)
        let noonUTCMinutes = 720 - 4 * longitude - equationAtNoon
        let noon = Double(dayStart) + utcOffset * 3600 + noonUTCMinutes * 60
        func hourAngle(at time: Double) -> Double? {
            let (declination, _) = declinationAndEquation(time)
            let value = (sin(elevation * radians) - sin(latitude * radians) * sin(declination * radians))
                / (cos(latitude * radians) * cos(declination * radians))
            guard abs(value) <= 1 else { return nil }
            return acos(value) / radians
        }
        guard let h0 = hourAngle(at: noon) else { return nil }
        guard let riseAngle = hourAngle(at: noon - h0 * 240), let setAngle = hourAngle(at: noon + h0 * 240) else { return nil }
        return (noon - riseAngle * 240, noon + setAngle * 240)
    }
}
