#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The byte-level JSON reading under `SenMLReader`: strings with their escapes, numbers
/// converted exactly, values skipped.
struct SenMLParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var at = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    var peek: UInt8 { at < bytes.count ? bytes[at] : 0 }

    func fail(_ reason: SenMLParseError.Reason, _ detail: String) -> SenMLParseError {
        SenMLParseError(reason: reason, offset: at, detail: detail)
    }

    @inline(__always)
    mutating func skipSpace() {
        while at < bytes.count {
            let c = bytes[at]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { at += 1 } else { return }
        }
    }

    mutating func expectString(_ scratch: inout [UInt8], field: String) throws(SenMLParseError) -> SenMLText {
        guard peek == UInt8(ascii: "\"") else { throw fail(peek == 0 ? .malformedJSON : .notSenML, "'\(field)' must be a string") }
        return try string(&scratch)
    }

    mutating func expectNumber(field: String) throws(SenMLParseError) -> Double {
        let c = peek
        guard c == UInt8(ascii: "-") || (c >= 0x30 && c <= 0x39) else {
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "t") || c == UInt8(ascii: "f") || c == UInt8(ascii: "n")
                || c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
                // A value of another JSON type: valid JSON, but not SenML.
                let start = at
                try skipValue(depth: 0)
                at = start
                throw fail(.notSenML, "'\(field)' must be a number")
            }
            throw fail(.malformedJSON, "'\(field)': expected a number")
        }
        return try number()
    }

    mutating func expectBool(field: String) throws(SenMLParseError) -> Bool {
        if matchLiteral("true") { return true }
        if matchLiteral("false") { return false }
        let c = peek
        if c == UInt8(ascii: "\"") || c == UInt8(ascii: "-") || (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "n")
            || c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
            throw fail(.notSenML, "'\(field)' must be true or false")
        }
        throw fail(.malformedJSON, "'\(field)': expected true or false")
    }

    mutating func matchLiteral(_ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard at + n <= bytes.count else { return false }
        let base = literal.utf8Start
        for i in 0..<n where bytes[at + i] != base[i] { return false }
        at += n
        return true
    }

    /// A JSON string starting at `"`; escapes are decoded into `scratch`.
    mutating func string(_ scratch: inout [UInt8]) throws(SenMLParseError) -> SenMLText {
        guard peek == UInt8(ascii: "\"") else { throw fail(.malformedJSON, "expected a string") }
        at += 1
        let start = at
        while at < bytes.count {
            let c = bytes[at]
            if c == UInt8(ascii: "\"") {
                at += 1
                return SenMLText(start: Int32(start), count: Int32(at - 1 - start), unescaped: false)
            }
            if c == UInt8(ascii: "\\") { return try escapedString(from: start, &scratch) }
            if c < 0x20 { throw fail(.malformedJSON, "a control character inside a string") }
            at += c < 0x80 ? 1 : try utf8Sequence()
        }
        throw fail(.malformedJSON, "a string without its closing quote")
    }

    /// The length of the UTF-8 sequence at `at` (RFC 3629: no overlong forms, no surrogates,
    /// nothing above U+10FFFF); JSON text is UTF-8, so anything else is malformed.
    private func utf8Sequence() throws(SenMLParseError) -> Int {
        let lead = bytes[at]
        let length: Int, low: UInt8, high: UInt8
        switch lead {
        case 0xC2...0xDF: (length, low, high) = (2, 0x80, 0xBF)
        case 0xE0: (length, low, high) = (3, 0xA0, 0xBF)
        case 0xED: (length, low, high) = (3, 0x80, 0x9F)
        case 0xE1...0xEC, 0xEE...0xEF: (length, low, high) = (3, 0x80, 0xBF)
        case 0xF0: (length, low, high) = (4, 0x90, 0xBF)
        case 0xF1...0xF3: (length, low, high) = (4, 0x80, 0xBF)
        case 0xF4: (length, low, high) = (4, 0x80, 0x8F)
        default: throw fail(.malformedJSON, "a byte that is not UTF-8 inside a string")
        }
        guard at + length <= bytes.count, (low...high).contains(bytes[at + 1]),
              (2..<length).allSatisfy({ (0x80...0xBF).contains(bytes[at + $0]) }) else {
            throw fail(.malformedJSON, "a byte that is not UTF-8 inside a string")
        }
        return length
    }

    private mutating func escapedString(from start: Int, _ scratch: inout [UInt8]) throws(SenMLParseError) -> SenMLText {
        let out = scratch.count
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<at]))
        while at < bytes.count {
            let c = bytes[at]
            if c == UInt8(ascii: "\"") {
                at += 1
                return SenMLText(start: Int32(out), count: Int32(scratch.count - out), unescaped: true)
            }
            if c < 0x20 { throw fail(.malformedJSON, "a control character inside a string") }
            if c != UInt8(ascii: "\\") {
                let n = c < 0x80 ? 1 : try utf8Sequence()
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[at..<(at + n)]))
                at += n
                continue
            }
            guard at + 1 < bytes.count else { break }
            let e = bytes[at + 1]
            at += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(e)
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if code >= 0xD800 && code < 0xDC00 {
                    guard at + 1 < bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else {
                        throw fail(.malformedJSON, "a lone surrogate in a \\u escape")
                    }
                    at += 2
                    let low = try hex4()
                    guard low >= 0xDC00 && low < 0xE000 else { throw fail(.malformedJSON, "a lone surrogate in a \\u escape") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if code >= 0xDC00 && code < 0xE000 {
                    throw fail(.malformedJSON, "a lone surrogate in a \\u escape")
                }
                scratch.append(contentsOf: Array(String(Character(Unicode.Scalar(code)!)).utf8))
            default:
                throw fail(.malformedJSON, "an unknown escape '\\\(Character(Unicode.Scalar(e)))'")
            }
        }
        throw fail(.malformedJSON, "a string without its closing quote")
    }

    private mutating func hex4() throws(SenMLParseError) -> UInt32 {
        guard at + 4 <= bytes.count else { throw fail(.malformedJSON, "a short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[at]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw fail(.malformedJSON, "a bad hex digit in a \\u escape")
            }
            v = v << 4 | d
            at += 1
        }
        return v
    }

    /// A JSON number. Up to 19 significant digits and small exponents are converted exactly
    /// here; anything else goes through strtod.
    mutating func number() throws(SenMLParseError) -> Double {
        let start = at
        var negative = false
        if at < bytes.count, bytes[at] == UInt8(ascii: "-") {
            negative = true
            at += 1
        }
        guard at < bytes.count, bytes[at] >= 0x30, bytes[at] <= 0x39 else { throw fail(.malformedJSON, "a number without digits") }
        if bytes[at] == 0x30, at + 1 < bytes.count, bytes[at + 1] >= 0x30, bytes[at + 1] <= 0x39 {
            throw fail(.malformedJSON, "a number with a leading zero")
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
        while at < bytes.count, bytes[at] >= 0x30, bytes[at] <= 0x39 {
            if digits < 19 { mantissa = mantissa * 10 + UInt64(bytes[at] - 0x30); digits += mantissa == 0 ? 0 : 1 } else { exponent += 1 }
            at += 1
        }
        var slow = digits >= 19
        if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
            at += 1
            guard at < bytes.count, bytes[at] >= 0x30, bytes[at] <= 0x39 else { throw fail(.malformedJSON, "a number with no digit after '.'") }
            while at < bytes.count, bytes[at] >= 0x30, bytes[at] <= 0x39 {
                if digits < 19 {
                    mantissa = mantissa * 10 + UInt64(bytes[at] - 0x30)
                    digits += mantissa == 0 ? 0 : 1
                    exponent -= 1
                } else { slow = true }
                at += 1
            }
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
            at += 1
            var expNegative = false
            if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") {
                expNegative = bytes[at] == UInt8(ascii: "-")
                at += 1
            }
            guard at < bytes.count, bytes[at] >= 0x30, bytes[at] <= 0x39 else { throw fail(.malformedJSON, "a number with an empty exponent") }
            var e = 0
            while at < bytes.count, bytes[at] >= 0x30, bytes[at] <= 0x39 {
                if e < 100_000 { e = e * 10 + Int(bytes[at] - 0x30) }
                at += 1
            }
            exponent += expNegative ? -e : e
        }
        var value: Double
        if !slow, mantissa < (1 << 53), exponent >= -22, exponent <= 22 {
            value = Double(mantissa)
            if exponent < 0 { value /= SenMLParser.powers[-exponent] } else if exponent > 0 { value *= SenMLParser.powers[exponent] }
            if negative { value = -value }
        } else {
            var text = [CChar](repeating: 0, count: at - start + 1)
            for i in start..<at { text[i - start] = CChar(bitPattern: bytes[i]) }
            value = strtod(text, nil)
        }
        guard value.isFinite else {
            at = start
            throw fail(.notFinite, "a number beyond the range of a double")
        }
        return value
    }

    static let powers: [Double] = (0...22).map { e in
        var x = 1.0
        for _ in 0..<e { x *= 10 }
        return x
    }

    /// Skips any JSON value (for unknown fields).
    mutating func skipValue(depth: Int) throws(SenMLParseError) {
        guard depth < 32 else { throw fail(.malformedJSON, "nesting deeper than 32") }
        skipSpace()
        switch peek {
        case UInt8(ascii: "\""):
            var none: [UInt8] = []
            _ = try string(&none)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = peek == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            let object = close == UInt8(ascii: "}")
            at += 1
            skipSpace()
            if peek == close { at += 1; return }
            while true {
                skipSpace()
                if object {
                    var none: [UInt8] = []
                    _ = try string(&none)
                    skipSpace()
                    guard peek == UInt8(ascii: ":") else { throw fail(.malformedJSON, "expected ':'") }
                    at += 1
                }
                try skipValue(depth: depth + 1)
                skipSpace()
                guard at < bytes.count else { throw fail(.malformedJSON, "a value ends without '\(Character(Unicode.Scalar(close)))'") }
                let c = bytes[at]
                at += 1
                if c == UInt8(ascii: ",") { continue }
                if c == close { return }
                throw fail(.malformedJSON, "expected ',' or '\(Character(Unicode.Scalar(close)))'")
            }
        case UInt8(ascii: "t"):
            guard matchLiteral("true") else { throw fail(.malformedJSON, "bad literal") }
        case UInt8(ascii: "f"):
            guard matchLiteral("false") else { throw fail(.malformedJSON, "bad literal") }
        case UInt8(ascii: "n"):
            guard matchLiteral("null") else { throw fail(.malformedJSON, "bad literal") }
        default:
            _ = try number()
        }
    }
}
