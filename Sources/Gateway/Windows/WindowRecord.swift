import Telemetry

/// The three window lengths: the base window (15 minutes by default), the hour and the day.
public enum Resolution: Int, Sendable, CaseIterable, Codable {
    case base = 0, hour = 1, day = 2

    public var name: String {
        switch self {
        case .base: "window"
        case .hour: "hour"
        case .day: "day"
        }
    }

    public init?(name: String) {
        switch name {
        case "window", "15m", "base": self = .base
        case "hour", "1h": self = .hour
        case "day", "1d": self = .day
        default: return nil
        }
    }
}

/// One emitted window of one series: the first emission when the window closed in event
/// time, then corrections with a higher revision when late data changed it.
public struct WindowRecord: Sendable, Equatable {
    public var city: String
    public var domain: Domain
    public var district: String
    /// `Entity.attribute`; `Entity.devices` (distinct devices reporting: `count`); or a derived
    /// series of the domain: `faulty` (distinct devices in fault), `collected` (kg emptied, in
    /// `increment`), `peakVehicles` and `peakDelay` (vehicles counted in the weekday peaks, and
    /// the same weighted by free-flow speed over speed), `nightInflow` and `nightUse` (m3 in the
    /// 02:00-04:00 band), `nightPressure` (pressure read in that band).
    public var attribute: String
    public var resolution: Resolution
    /// Window bounds, ms since 1970.
    public var start: Int64
    public var end: Int64
    public var partial: WindowPartial
    public var revision: Int32
    /// False while the window can still change (written at shutdown as provisional).
    public var closed: Bool

    public init(city: String, domain: Domain, district: String, attribute: String, resolution: Resolution, start: Int64, end: Int64,
                partial: WindowPartial, revision: Int32, closed: Bool) {
        self.city = city
        self.domain = domain
        self.district = district
        self.attribute = attribute
        self.resolution = resolution
        self.start = start
        self.end = end
        self.partial = partial
        self.revision = revision
        self.closed = closed
    }
}
