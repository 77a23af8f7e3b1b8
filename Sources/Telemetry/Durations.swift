import Foundation

/// Durations as scenarios, settings and options write them.
public enum Durations {
    /// Seconds in `30s`, `15m`, `2h`, `1d`, `1w`, `1.5h` or a plain number of seconds.
    public static func parse(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let last = trimmed.last else { return nil }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        let (number, unit) = units[last].map { (trimmed.dropLast(), $0) } ?? (Substring(trimmed), 1)
        guard let value = Double(number), value.isFinite, value >= 0 else { return nil }
        return Int64((value * unit).rounded())
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
