#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A slice of text inside a SenML pack: either of the payload itself or, for strings that
/// contained JSON escapes, of the reader's scratch buffer, where the unescaped bytes live.
public struct SenMLText: Sendable, Equatable {
    public var start: Int32
    public var count: Int32
    public var unescaped: Bool

    public static let none = SenMLText(start: 0, count: -1, unescaped: false)
    public var isPresent: Bool { count >= 0 }
}

/// One SenML record as read, before any schema: name, unit and exactly one value.
public struct SenMLRecord: Sendable {
    public enum Value: Sendable, Equatable {
        case number(Double)
        /// The `s` field: a cumulative sum, as meters report it.
        case sum(Double)
        case bool(Bool)
        case string(SenMLText)
        case data(SenMLText)
    }
    public var name = SenMLText.none
    public var unit = SenMLText.none
    public var value: Value = .number(0)
    /// `t` of the record (relative or absolute, as RFC 8428 says), 0 when absent.
    public var time = 0.0
    public var hasValue = false
}

/// Why a payload is not a SenML pack. `offset` is the byte where reading stopped.
public struct SenMLParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        case malformedJSON = "malformed-json"
        case notSenML = "not-senml"
        case notFinite = "not-finite"
        case tooManyRecords = "too-many-records"
    }
    public var reason: Reason
    public var offset: Int
    public var detail: String
    public var description: String { "\(reason.rawValue) at byte \(offset): \(detail)" }
}

/// A streaming reader of SenML JSON (RFC 8428) packs that does not allocate per message: it
/// fills a reusable record array and points into the payload instead of copying strings.
///
/// It accepts any valid JSON (whitespace, any key order, escapes, exponents) and rejects what
/// SenML forbids: a pack that is not an array of objects, fields of the wrong JSON type,
/// records with no value or two values, unknown keys ending in `_` (must-understand fields),
/// base names that change inside the pack (one pack = one device here), non-finite numbers.
public struct SenMLReader: ~Copyable {
    public private(set) var records: [SenMLRecord] = []
    public private(set) var count = 0
    public private(set) var baseName = SenMLText.none
    public private(set) var baseTime = 0.0
    public private(set) var hasBaseTime = false
    public private(set) var baseUnit = SenMLText.none
    /// Unescaped copies of strings that contained escapes.
    public private(set) var scratch: [UInt8] = []
    public let maxRecords: Int

    public init(maxRecords: Int = 256) {
        self.maxRecords = maxRecords
        records.reserveCapacity(16)
    }

    public subscript(i: Int) -> SenMLRecord { records[i] }

    /// Reads one pack; afterwards `count` records are valid.
    public mutating func read(_ bytes: UnsafeBufferPointer<UInt8>) throws(SenMLParseError) {
        count = 0
        baseName = .none
        baseUnit = .none
        baseTime = 0
        hasBaseTime = false
        scratch.removeAll(keepingCapacity: true)
        var p = SenMLParser(bytes: bytes)
        p.skipSpace()
        guard p.at < bytes.count, bytes[p.at] == UInt8(ascii: "[") else {
            // Another JSON value is valid JSON but not SenML; anything else is not JSON.
            var whole = p
            var json = p.at < bytes.count
            if json {
                do {
                    try whole.skipValue(depth: 0)
                    whole.skipSpace()
                    json = whole.at == bytes.count
                } catch { json = false }
            }
            throw p.fail(json ? .notSenML : .malformedJSON, "a SenML pack is a JSON array of records")
        }
        p.at += 1
        p.skipSpace()
        if p.peek == UInt8(ascii: "]") {
            throw p.fail(.notSenML, "the pack has no records")
        }
        while true {
            p.skipSpace()
            if p.peek == UInt8(ascii: "]") { throw p.fail(.malformedJSON, "a comma before ']'") }
            guard p.peek == UInt8(ascii: "{") else { throw p.fail(p.at < bytes.count ? .notSenML : .malformedJSON, "each record is a JSON object") }
            guard count < maxRecords else { throw p.fail(.tooManyRecords, "more than \(maxRecords) records in one pack") }
            try readRecord(&p)
            p.skipSpace()
            guard p.at < bytes.count else { throw p.fail(.malformedJSON, "the pack ends without ']'") }
            let c = bytes[p.at]
            p.at += 1
            if c == UInt8(ascii: ",") { continue }
            if c == UInt8(ascii: "]") { break }
            throw p.fail(.malformedJSON, "expected ',' or ']' after a record")
        }
        p.skipSpace()
        if p.at != bytes.count { throw p.fail(.malformedJSON, "text after the closing ']'") }
    }

    private mutating func readRecord(_ p: inout SenMLParser) throws(SenMLParseError) {
        p.at += 1
        var record = SenMLRecord()
        var values = 0
        p.skipSpace()
        if p.peek == UInt8(ascii: "}") {
            p.at += 1
            throw p.fail(.notSenML, "an empty record")
        }
        while true {
            p.skipSpace()
            let key = try p.string(&scratch)
            p.skipSpace()
            guard p.peek == UInt8(ascii: ":") else { throw p.fail(.malformedJSON, "expected ':' after a key") }
            p.at += 1
            p.skipSpace()
            let k = key.unescaped ? Key.other : Key(p.bytes, key)
            switch k {
            case .bn:
                let text = try p.expectString(&scratch, field: "bn")
                if baseName.isPresent, !equal(baseName, text, p.bytes) {
                    throw p.fail(.notSenML, "a second, different base name in one pack")
                }
                baseName = text
            case .bt:
                baseTime = try p.expectNumber(field: "bt")
                hasBaseTime = true
            case .bu:
                baseUnit = try p.expectString(&scratch, field: "bu")
            case .n:
                record.name = try p.expectString(&scratch, field: "n")
            case .u:
                record.unit = try p.expectString(&scratch, field: "u")
            case .t:
                record.time = try p.expectNumber(field: "t")
            case .v:
                record.value = .number(try p.expectNumber(field: "v"))
                values += 1
            case .s:
                record.value = .sum(try p.expectNumber(field: "s"))
                values += 1
            case .vb:
                record.value = .bool(try p.expectBool(field: "vb"))
                values += 1
            case .vs:
                record.value = .string(try p.expectString(&scratch, field: "vs"))
                values += 1
            case .vd:
                record.value = .data(try p.expectString(&scratch, field: "vd"))
                values += 1
            case .bver, .bv, .bs, .ut:
                _ = try p.expectNumber(field: k.name)
            case .other:
                if key.count > 0, byte(key, key.count - 1, p.bytes) == UInt8(ascii: "_") {
                    throw p.fail(.notSenML, "unknown must-understand field '\(text(key, p.bytes))'")
                }
                try p.skipValue(depth: 0)
            }
            p.skipSpace()
            guard p.at < p.bytes.count else { throw p.fail(.malformedJSON, "a record ends without '}'") }
            let c = p.bytes[p.at]
            p.at += 1
            if c == UInt8(ascii: ",") { continue }
            if c == UInt8(ascii: "}") { break }
            throw p.fail(.malformedJSON, "expected ',' or '}' in a record")
        }
        if values > 1 { throw p.fail(.notSenML, "a record with more than one value field") }
        record.hasValue = values == 1
        if !record.unit.isPresent { record.unit = baseUnit }
        if count < records.count { records[count] = record } else { records.append(record) }
        count += 1
    }

    /// The bytes of a text, wherever they live.
    @inline(__always)
    public func withBytes<R>(_ text: SenMLText, in payload: UnsafeBufferPointer<UInt8>,
                             _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        guard text.count > 0 else { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
        if text.unescaped {
            return try scratch.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[Int(text.start)..<Int(text.start + text.count)])) }
        }
        return try body(UnsafeBufferPointer(rebasing: payload[Int(text.start)..<Int(text.start + text.count)]))
    }

    /// A text as a Swift string (for messages and rare paths, not the hot one).
    public func string(_ text: SenMLText, in payload: UnsafeBufferPointer<UInt8>) -> String {
        withBytes(text, in: payload) { String(decoding: $0, as: UTF8.self) }
    }

    private func byte(_ text: SenMLText, _ i: Int32, _ payload: UnsafeBufferPointer<UInt8>) -> UInt8 {
        text.unescaped ? scratch[Int(text.start + i)] : payload[Int(text.start + i)]
    }

    private func text(_ t: SenMLText, _ payload: UnsafeBufferPointer<UInt8>) -> String { string(t, in: payload) }

    private func equal(_ a: SenMLText, _ b: SenMLText, _ payload: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where byte(a, i, payload) != byte(b, i, payload) { return false }
        return true
    }
}

private enum Key {
    case bn, bt, bu, bv, bs, bver, n, u, v, s, t, ut, vb, vs, vd, other

    init(_ payload: UnsafeBufferPointer<UInt8>, _ key: SenMLText) {
        let s = Int(key.start)
        switch key.count {
        case 1:
            switch payload[s] {
            case UInt8(ascii: "n"): self = .n
            case UInt8(ascii: "u"): self = .u
            case UInt8(ascii: "v"): self = .v
            case UInt8(ascii: "s"): self = .s
            case UInt8(ascii: "t"): self = .t
            default: self = .other
            }
        case 2:
            switch (payload[s], payload[s + 1]) {
            case (UInt8(ascii: "b"), UInt8(ascii: "n")): self = .bn
            case (UInt8(ascii: "b"), UInt8(ascii: "t")): self = .bt
            case (UInt8(ascii: "b"), UInt8(ascii: "u")): self = .bu
            case (UInt8(ascii: "b"), UInt8(ascii: "v")): self = .bv
            case (UInt8(ascii: "b"), UInt8(ascii: "s")): self = .bs
            case (UInt8(ascii: "u"), UInt8(ascii: "t")): self = .ut
            case (UInt8(ascii: "v"), UInt8(ascii: "b")): self = .vb
            case (UInt8(ascii: "v"), UInt8(ascii: "s")): self = .vs
            case (UInt8(ascii: "v"), UInt8(ascii: "d")): self = .vd
            default: self = .other
            }
        case 4:
            self = payload[s] == UInt8(ascii: "b") && payload[s + 1] == UInt8(ascii: "v")
                && payload[s + 2] == UInt8(ascii: "e") && payload[s + 3] == UInt8(ascii: "r") ? .bver : .other
        default: self = .other
        }
    }

    var name: String { "\(self)" }
}
