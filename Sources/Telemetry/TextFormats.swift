import Foundation

/// Durations as scenarios, settings and options write them.
public enum Durations {
    /// The longest duration anything accepts: a century. Times in milliseconds stay far from
    /// overflowing with it, whatever they are added to.
    public static let maximum: Int64 = 100 * 365 * 86_400

    /// Seconds in `30s`, `15m`, `2h`, `1d`, `1w`, `1.5h` or a plain number of seconds; nil when
    /// the text is not a duration or is longer than `maximum`.
    public static func parse(_ text: String) -> Int64? {
        guard let seconds = seconds(text), seconds <= Double(maximum) else { return nil }
        return Int64(seconds.rounded())
    }

    /// Why a text is refused as a duration, for an error message; nil when it is one.
    public static func problem(_ text: String) -> String? {
        guard let seconds = seconds(text) else { return "'\(text)' is not a duration; write it like 30s, 15m, 2h, 1d, 1w or 1y (365 days)" }
        guard seconds <= Double(maximum) else { return "'\(text)' is longer than the allowed 100 years (\(maximum) s)" }
        return nil
    }

    /// Seconds, with their fraction, in a duration's text; nil when it is not one.
    public static func seconds(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let last = trimmed.last else { return nil }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800, "y": 365 * 86400]
        let (number, unit) = units[last].map { (trimmed.dropLast(), $0) } ?? (Substring(trimmed), 1)
        guard let value = Double(number), value.isFinite, value >= 0, (value * unit).isFinite else { return nil }
        return value * unit
    }

    /// `90` -> `1m30s`, `86400` -> `1d`.
    public static func format(_ seconds: Int64) -> String {
        if seconds == 0 { return "0s" }
        var rest = seconds
        var text = ""
        for (unit, size) in [("d", Int64(86400)), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            text += "\(rest / size)\(unit)"
            rest %= size
        }
        return text
    }
}

/// Times as scenarios, summaries and messages write them (ISO 8601, whole seconds).
public enum Timestamps {
    /// Seconds since 1970 from ISO 8601 with an offset or Z (`2026-01-15T00:00:00+05:00`), or a date (UTC midnight).
    public static func parse(_ text: String) -> Int64? {
        if let seconds = utc(text) { return seconds }
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return Int64(date.timeIntervalSince1970.rounded()) }
        formatter.formatOptions = [.withFullDate]
        if let date = formatter.date(from: text) { return Int64(date.timeIntervalSince1970.rounded()) }
        return nil
    }

    /// `2026-01-15T05:00:00Z` (what `format` writes) read by hand, days from the civil date
    /// after Hinnant: a date formatter costs far more than a row of a long table. Nil for any
    /// other shape, and for a date or time that does not exist.
    static func utc(_ text: String) -> Int64? {
        var b = (UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0),
                 UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0))
        var count = 0
        let fits: Bool = withUnsafeMutableBytes(of: &b) { raw in
            for byte in text.utf8 {
                guard count < 20 else { return false }
                raw[count] = byte
                count += 1
            }
            return count == 20
        }
        guard fits else { return nil }
        return withUnsafeBytes(of: &b) { raw -> Int64? in
            guard raw[4] == 45, raw[7] == 45, raw[10] == 84, raw[13] == 58, raw[16] == 58, raw[19] == 90 else { return nil }
            func number(_ from: Int, _ length: Int) -> Int64? {
                var n: Int64 = 0
                for i in from..<(from + length) {
                    guard raw[i] >= 48, raw[i] <= 57 else { return nil }
                    n = n * 10 + Int64(raw[i] - 48)
                }
                return n
            }
            guard var y = number(0, 4), let m = number(5, 2), let d = number(8, 2), let hh = number(11, 2), let mm = number(14, 2),
                  let ss = number(17, 2), (1...12).contains(m), hh < 24, mm < 60, ss < 60 else { return nil }
            let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
            let lengths: [Int64] = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
            guard d >= 1, d <= lengths[Int(m - 1)] else { return nil }
            if m <= 2 { y -= 1 }
            let era = (y >= 0 ? y : y - 399) / 400
            let yoe = y - era * 400
            let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
            let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
            return (era * 146_097 + doe - 719_468) * 86400 + hh * 3600 + mm * 60 + ss
        }
    }

    /// `2026-01-15T05:00:00Z`, in UTC. Worked out by hand (days to civil date, after Hinnant)
    /// rather than by a date formatter, which costs far more than the row it writes.
    public static func format(_ seconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let rest = seconds - days * 86400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let digits = String(year)
        let paddedYear = year >= 0 && digits.count < 4 ? String(repeating: "0", count: 4 - digits.count) + digits : digits
        return "\(paddedYear)-\(two(month))-\(two(day))T\(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60))Z"
    }
}

/// FNV-1a 64 of bytes: stable keys for names (cities, fleets, faults), scenario hashes and
/// message samples.
@inlinable
public func fnv1a<Bytes: Sequence>(_ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01b3
    }
    return hash
}

extension Array where Element == UInt8 {
    /// Appends `value` in decimal, zero-padded to at least `minimumDigits`, without allocating
    /// beyond the array's own growth.
    public mutating func appendDecimal(_ value: UInt64, minimumDigits: Int = 1) {
        let first = count
        var n = value
        repeat {
            append(UInt8(truncatingIfNeeded: n % 10) &+ 48)
            n /= 10
        } while n > 0
        while count - first < minimumDigits { append(UInt8(ascii: "0")) }
        // Reversed in place (reversing a slice of the array would copy it).
        var (low, high) = (first, count - 1)
        while low < high {
            swapAt(low, high)
            low += 1
            high -= 1
        }
    }
}
