/// Writes SenML JSON (RFC 8428) into a reusable byte buffer, without Foundation and without
/// allocating per message. Numbers are written in fixed notation with at most the given number
/// of decimals and no trailing zeros, so the same values always give the same bytes.
///
/// A message is `[{"bn":…,"bt":…,"n":…,…},{"n":…},…]`: call `begin`, then one `number`,
/// `sum`, `bool` or `string` per record, then `end`. `bytes` is valid until the next `reset`.
public final class SenMLWriter {
    /// The shape written: SenML (the default), a flat JSON object or an NGSI-LD entity, with
    /// the same calls (see `PayloadFormat`).
    public var format = PayloadFormat.senml
    /// The NGSI-LD `observedAt` of the message being written.
    private var observedAt: [UInt8] = []
    private var storage: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    public private(set) var count = 0
    private var records = 0

    public init(capacity: Int = 1024) {
        self.capacity = max(64, capacity)
        storage = .allocate(capacity: self.capacity)
    }

    deinit { storage.deallocate() }

    /// The message written so far.
    public var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: storage, count: count) }

    public func reset() {
        count = 0
        records = 0
    }

    @inline(__always)
    private func reserve(_ extra: Int) {
        if count + extra > capacity { grow(count + extra) }
    }

    private func grow(_ needed: Int) {
        var size = capacity * 2
        while size < needed { size *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: size)
        bigger.update(from: storage, count: count)
        storage.deallocate()
        storage = bigger
        capacity = size
    }

    @inline(__always)
    private func put(_ text: StaticString) {
        let n = text.utf8CodeUnitCount
        reserve(n)
        (storage + count).update(from: text.utf8Start, count: n)
        count += n
    }

    @inline(__always)
    private func put(_ raw: UnsafeBufferPointer<UInt8>) {
        guard !raw.isEmpty else { return }
        reserve(raw.count)
        (storage + count).update(from: raw.baseAddress!, count: raw.count)
        count += raw.count
    }

    @inline(__always)
    private func put(_ byte: UInt8) {
        reserve(1)
        storage[count] = byte
        count += 1
    }

    /// Opens a message whose first record carries the base name (`urn:ngsi-ld:{type}:{id}:`)
    /// and the base time (event time, seconds since 1970).
    public func begin(entityType: StaticBytes, deviceID: UnsafeBufferPointer<UInt8>, time: Int64) {
        records = 0
        switch format {
        case .senml: break
        case .json:
            put(#"{"ts":"#)
            appendInteger(time * 1000)
            put(#","values":{"#)
            return
        case .ngsiLD:
            put(#"{"id":""#)
            put(Envelope.baseNamePrefix)
            put(entityType.buffer)
            put(UInt8(ascii: ":"))
            put(deviceID)
            put(#"","type":""#)
            put(entityType.buffer)
            put(UInt8(ascii: "\""))
            observedAt = Array(Timestamps.format(time).utf8)
            return
        }
        put(#"[{"bn":""#)
        put(Envelope.baseNamePrefix)
        put(entityType.buffer)
        put(UInt8(ascii: ":"))
        put(deviceID)
        put(#":","bt":"#)
        appendInteger(time)
    }

    /// A SenML pack whose base time has milliseconds (written with up to three decimals).
    public func begin(entityType: StaticBytes, deviceID: UnsafeBufferPointer<UInt8>, timeMs: Int64) {
        let seconds = timeMs >= 0 ? timeMs / 1000 : (timeMs - 999) / 1000
        begin(entityType: entityType, deviceID: deviceID, time: seconds)
        let ms = timeMs - seconds * 1000
        guard format == .senml, ms != 0 else { return }
        put(UInt8(ascii: "."))
        put(UInt8(truncatingIfNeeded: ms / 100) &+ 48)
        put(UInt8(truncatingIfNeeded: ms / 10 % 10) &+ 48)
        put(UInt8(truncatingIfNeeded: ms % 10) &+ 48)
    }

    public func begin(entityType: StaticBytes, deviceID: [UInt8], time: Int64) {
        deviceID.withUnsafeBufferPointer { begin(entityType: entityType, deviceID: $0, time: time) }
    }

    @inline(__always)
    private func open(_ name: StaticBytes) {
        switch format {
        case .senml:
            if records > 0 { put(#"},{"n":""#) } else { put(#","n":""#) }
        case .json:
            if records > 0 { put(#",""#) } else { put(UInt8(ascii: "\"")) }
        case .ngsiLD:
            put(#",""#)
        }
        records += 1
        put(name.buffer)
        switch format {
        case .senml: put(UInt8(ascii: "\""))
        case .json: put(#"":"#)
        case .ngsiLD: put(#"":{"type":"Property","value":"#)
        }
    }

    /// After a value: the unit (SenML), or the time and unit code that close an NGSI-LD property.
    @inline(__always)
    private func close(unit: StaticBytes?) {
        switch format {
        case .senml:
            guard let unit else { return }
            put(#","u":""#)
            put(unit.buffer)
            put(UInt8(ascii: "\""))
        case .json: return
        case .ngsiLD:
            put(#","observedAt":""#)
            observedAt.withUnsafeBufferPointer { put($0) }
            if let unit, let code = PayloadFormat.unitCodes[unit.description] {
                put(#"","unitCode":""#)
                for byte in code.utf8 { put(byte) }
            }
            put(#""}"#)
        }
    }

    /// A measurement: `{"n":name,"u":unit,"v":value}`.
    public func number(_ name: StaticBytes, unit: StaticBytes?, _ value: Double, decimals: Int) {
        numeric(name, unit: unit, value, decimals: decimals, field: #","v":"#)
    }

    /// A cumulative meter reading: `{"n":name,"u":unit,"s":value}` (SenML sum).
    public func sum(_ name: StaticBytes, unit: StaticBytes?, _ value: Double, decimals: Int) {
        numeric(name, unit: unit, value, decimals: decimals, field: #","s":"#)
    }

    /// A number under its SenML `field` (`v` or `s`); the other formats write the value alone.
    @inline(__always)
    private func numeric(_ name: StaticBytes, unit: StaticBytes?, _ value: Double, decimals: Int, field: StaticString) {
        open(name)
        if format == .senml {
            close(unit: unit)
            put(field)
            appendFixed(value, decimals: decimals)
        } else {
            appendFixed(value, decimals: decimals)
            close(unit: unit)
        }
    }

    public func bool(_ name: StaticBytes, _ value: Bool) {
        open(name)
        if format == .senml { put(value ? #","vb":true"# : #","vb":false"#) } else {
            put(value ? "true" : "false")
            close(unit: nil)
        }
    }

    /// A string value; `value` must not need JSON escaping (names and enumerations do not).
    public func string(_ name: StaticBytes, _ value: StaticBytes) { string(name, bytes: value.buffer) }

    /// A string value of any text that needs no JSON escaping.
    public func string(_ name: StaticBytes, text: [UInt8]) { text.withUnsafeBufferPointer { string(name, bytes: $0) } }

    private func string(_ name: StaticBytes, bytes: UnsafeBufferPointer<UInt8>) {
        open(name)
        if format == .senml { put(#","vs":""#) } else { put(UInt8(ascii: "\"")) }
        put(bytes)
        put(UInt8(ascii: "\""))
        if format != .senml { close(unit: nil) }
    }

    public func end() {
        switch format {
        case .senml: put("}]")
        case .json: put("}}")
        case .ngsiLD: put(#","@context":"https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"}"#)
        }
    }

    // MARK: Numbers

    public func appendInteger(_ value: Int64) {
        if value < 0 {
            put(UInt8(ascii: "-"))
            appendUnsigned(value.magnitude)
        } else {
            appendUnsigned(UInt64(value))
        }
    }

    public func appendUnsigned(_ value: UInt64) {
        reserve(20)
        var n = value
        var digits = 0
        repeat {
            digits += 1
            n /= 10
        } while n > 0
        n = value
        var at = count + digits - 1
        repeat {
            storage[at] = UInt8(truncatingIfNeeded: n % 10) &+ 48
            n /= 10
            at -= 1
        } while n > 0
        count += digits
    }

    private static let powers: [Double] = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]
    private static let integerPowers: [UInt64] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000,
                                                  10_000_000, 100_000_000, 1_000_000_000]

    /// `value` rounded half away from zero to `decimals` (0...9) places, trailing zeros dropped.
    /// Values that are not finite cannot be written as JSON numbers, so they are a programming
    /// error here; values beyond 1e15 fall back to the shortest round-trip form.
    /// A negative `decimals` writes the shortest form that reads back as the same Double.
    public func appendFixed(_ value: Double, decimals: Int) {
        precondition(value.isFinite, "SenML values must be finite")
        if decimals < 0 {
            for byte in (value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : value.description).utf8 { put(byte) }
            return
        }
        let decimals = min(max(decimals, 0), 9)
        let magnitude = abs(value)
        guard magnitude < 1e15 / SenMLWriter.powers[decimals] else {
            for byte in value.description.utf8 { put(byte) }
            return
        }
        let scaled = UInt64((magnitude * SenMLWriter.powers[decimals]).rounded())
        if scaled == 0 {
            put(UInt8(ascii: "0"))
            return
        }
        if value < 0 { put(UInt8(ascii: "-")) }
        let unit = SenMLWriter.integerPowers[decimals]
        appendUnsigned(scaled / unit)
        var fraction = scaled % unit
        guard fraction != 0 else { return }
        var places = decimals
        while fraction % 10 == 0 {
            fraction /= 10
            places -= 1
        }
        reserve(places + 1)
        storage[count] = UInt8(ascii: ".")
        var at = count + places
        for _ in 0..<places {
            storage[at] = UInt8(truncatingIfNeeded: fraction % 10) &+ 48
            fraction /= 10
            at -= 1
        }
        count += places + 1
    }
}

/// An ASCII string kept as bytes for the life of the program, for names and units that are
/// written millions of times (no reference counting on the hot path).
public struct StaticBytes: @unchecked Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let buffer: UnsafeBufferPointer<UInt8>

    public init(_ text: String) {
        let bytes = Array(text.utf8)
        let storage = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(1, bytes.count))
        _ = storage.initialize(from: bytes)
        buffer = UnsafeBufferPointer(start: storage.baseAddress, count: bytes.count)
    }

    public init(stringLiteral value: String) { self.init(value) }

    public var bytes: [UInt8] { Array(buffer) }
    public var description: String { String(decoding: buffer, as: UTF8.self) }
    public static func == (a: StaticBytes, b: StaticBytes) -> Bool { a.buffer.elementsEqual(b.buffer) }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes: UnsafeRawBufferPointer(buffer)) }
}
