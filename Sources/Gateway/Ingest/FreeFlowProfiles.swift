/// Each traffic counter's off-peak speeds as a histogram (2.5 km/h bins up to 160 km/h), for
/// its free-flow speed: the 85th percentile of off-peak speeds, as FHWA's Urban Congestion
/// Report defines free flow for the travel time index.
struct FreeFlowProfiles: Equatable {
    static let bins = 64
    static let width = 2.5
    /// Off-peak readings a counter needs before its free-flow speed is trusted (two hours of
    /// five-minute counts).
    static let minimumSamples = 24

    private(set) var counts: [UInt16] = []

    init() {}
    init(counts: [UInt16]) { self.counts = counts }

    var profiles: Int { counts.count / Self.bins }

    /// A new, empty profile; returns its number.
    mutating func add() -> Int32 {
        counts.append(contentsOf: repeatElement(0, count: Self.bins))
        return Int32(profiles - 1)
    }

    /// Counts an off-peak speed. A full bin halves the whole profile, so old speeds fade.
    mutating func record(_ profile: Int32, speed: Double) {
        let base = Int(profile) * Self.bins
        let bin = Swift.min(Self.bins - 1, Swift.max(0, Int(speed / Self.width)))
        if counts[base + bin] == .max {
            for i in base..<(base + Self.bins) { counts[i] /= 2 }
        }
        counts[base + bin] += 1
    }

    /// The 85th percentile of the profile's speeds (bin centre), once it has enough of them.
    func freeFlow(_ profile: Int32) -> Double? {
        let base = Int(profile) * Self.bins
        var total = 0
        for i in base..<(base + Self.bins) { total += Int(counts[i]) }
        guard total >= Self.minimumSamples else { return nil }
        let rank = (Double(total) * 0.85).rounded(.up)
        var cumulative = 0
        for bin in 0..<Self.bins {
            cumulative += Int(counts[base + bin])
            if Double(cumulative) >= rank { return (Double(bin) + 0.5) * Self.width }
        }
        return nil
    }
}

/// Local-time periods the indicators distinguish.
enum LocalPeriods {
    static let hourMs: Int64 = 3_600_000
    static let dayMs: Int64 = 86_400_000

    /// Local days since 1970 of a local time (ms).
    @inline(__always)
    static func day(_ localMs: Int64) -> Int64 { localMs >= 0 ? localMs / dayMs : (localMs - dayMs + 1) / dayMs }

    /// The weekday peak periods of FHWA's Urban Congestion Report, which U4SSC's travel time
    /// index follows: 06:00-09:00 and 16:00-19:00 local time, Monday to Friday.
    static func isPeak(localMs: Int64) -> Bool {
        let d = day(localMs)
        guard ((d + 3) % 7 + 7) % 7 < 5 else { return false }
        let ms = localMs - d * dayMs
        return (6 * hourMs..<9 * hourMs).contains(ms) || (16 * hourMs..<19 * hourMs).contains(ms)
    }

    /// The night band of the minimum night flow: 02:00-04:00 local time.
    static let night = (2 * hourMs)..<(4 * hourMs)

    static func isNight(localMs: Int64) -> Bool { night.contains(localMs - day(localMs) * dayMs) }

    /// The parts of the local-time span (from, to] inside night bands, as local-time spans.
    static func nightParts(from: Int64, to: Int64, _ body: (Int64, Int64) -> Void) {
        guard to > from else { return }
        var d = day(from)
        while d * dayMs + night.lowerBound < to {
            let lower = Swift.max(from, d * dayMs + night.lowerBound), upper = Swift.min(to, d * dayMs + night.upperBound)
            if upper > lower { body(lower, upper) }
            d += 1
        }
    }
}
