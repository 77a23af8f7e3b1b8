/// Writes SenML JSON (RFC 8428) into a reusable byte buffer, without Foundation and without
/// allocating per message. Numbers are written in fixed notation with at most the given number
/// of decimals and no trailing zeros, so the same values always give the same bytes.
///
/// A message is `[{"bn":…,"bt":…,"n":…,…},{"n":…},…]`: call `begin`, then one `number`,
/// `sum`, `bool` or `string` per record, then `end`.
public struct SenMLWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    private var records = 0

    public init(capacity: Int = 1024) { bytes.reserveCapacity(capacity) }

    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        records = 0
    }

    /// Opens a message whose first record carries the base name (`urn:ngsi-ld:{type}:{id}:`)
    /// and the base time (event time, seconds since 1970).
    public mutating func begin(entityType: StaticBytes, deviceID: some Collection<UInt8>, time: Int64) {
        records = 0
        bytes.append(contentsOf: #"[{"bn":"urn:ngsi-ld:"#.utf8)
        bytes.append(contentsOf: entityType.bytes)
        bytes.append(UInt8(ascii: ":"))
        bytes.append(contentsOf: deviceID)
        bytes.append(contentsOf: #":","bt":"#.utf8)
        appendInteger(time)
    }

    private mutating func open(_ name: StaticBytes) {
        if records > 0 { bytes.append(contentsOf: #"},{"n":""#.utf8) } else { bytes.append(contentsOf: #","n":""#.utf8) }
        records += 1
        bytes.append(contentsOf: name.bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func unit(_ unit: StaticBytes?) {
        guard let unit else { return }
        bytes.append(contentsOf: #","u":""#.utf8)
        bytes.append(contentsOf: unit.bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// A measurement: `{"n":name,"u":unit,"v":value}`.
    public mutating func number(_ name: StaticBytes, unit: StaticBytes?, _ value: Double, decimals: Int) {
        open(name)
        self.unit(unit)
        bytes.append(contentsOf: #","v":"#.utf8)
        appendFixed(value, decimals: decimals)
    }

    /// A cumulative meter reading: `{"n":name,"u":unit,"s":value}` (SenML sum).
    public mutating func sum(_ name: StaticBytes, unit: StaticBytes?, _ value: Double, decimals: Int) {
        open(name)
        self.unit(unit)
        bytes.append(contentsOf: #","s":"#.utf8)
        appendFixed(value, decimals: decimals)
    }

    public mutating func bool(_ name: StaticBytes, _ value: Bool) {
        open(name)
        bytes.append(contentsOf: value ? #","vb":true"#.utf8 : #","vb":false"#.utf8)
    }

    /// A string value; `value` must not need JSON escaping (names and enumerations do not).
    public mutating func string(_ name: StaticBytes, _ value: StaticBytes) {
        open(name)
        bytes.append(contentsOf: #","vs":""#.utf8)
        bytes.append(contentsOf: value.bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func end() {
        bytes.append(contentsOf: "}]".utf8)
    }

    // MARK: Numbers

    public mutating func appendInteger(_ value: Int64) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            appendUnsigned(value == .min ? UInt64(Int64.max) + 1 : UInt64(-value))
        } else {
            appendUnsigned(UInt64(value))
        }
    }

    public mutating func appendUnsigned(_ value: UInt64) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                      UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = value
        var count = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            repeat {
                raw[19 - count] = UInt8(truncatingIfNeeded: n % 10) &+ 48
                n /= 10
                count += 1
            } while n > 0
            bytes.append(contentsOf: raw[(20 - count)...])
        }
    }

    private static let powers: [Double] = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]
    private static let integerPowers: [UInt64] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000,
                                                  10_000_000, 100_000_000, 1_000_000_000]

    /// `value` rounded half away from zero to `decimals` (0...9) places, trailing zeros dropped.
    /// Values that are not finite are written as 0 would break JSON, so they are a programming
    /// error here; values beyond 1e15 fall back to the shortest round-trip form.
    public mutating func appendFixed(_ value: Double, decimals: Int) {
        precondition(value.isFinite, "SenML values must be finite")
        let decimals = min(max(decimals, 0), 9)
        let magnitude = abs(value)
        guard magnitude < 1e15 / SenMLWriter.powers[decimals] else {
            bytes.append(contentsOf: value.description.utf8)
            return
        }
        let scaled = UInt64((magnitude * SenMLWriter.powers[decimals]).rounded())
        if scaled == 0 {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        let unit = SenMLWriter.integerPowers[decimals]
        appendUnsigned(scaled / unit)
        var fraction = scaled % unit
        guard fraction != 0 else { return }
        var places = decimals
        while fraction % 10 == 0 {
            fraction /= 10
            places -= 1
        }
        bytes.append(UInt8(ascii: "."))
        var divisor = SenMLWriter.integerPowers[places - 1]
        while divisor > 0 {
            bytes.append(UInt8(truncatingIfNeeded: (fraction / divisor) % 10) &+ 48)
            divisor /= 10
        }
    }
}

/// An ASCII string kept as bytes, for names and units that are written millions of times.
public struct StaticBytes: Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let bytes: [UInt8]
    public init(_ text: String) { bytes = Array(text.utf8) }
    public init(stringLiteral value: String) { self.init(value) }
    public var description: String { String(decoding: bytes, as: UTF8.self) }
}
