import Foundation
import Telemetry
import Testing

/// The SenML JSON reader on its own: each RFC 8428 (and RFC 8259 JSON) rule it enforces, the
/// escapes it decodes, numbers at the limits of a double, and every rejection reason.
@Suite struct SenMLReaderTests {
    /// What a pack read as: base fields and records, strings decoded.
    struct Read: Equatable {
        var baseName: String?
        var baseTime: Double?
        var records: [Record] = []
    }

    struct Record: Equatable {
        var name: String?
        var unit: String?
        var value: Value?
        var time = 0.0
    }

    enum Value: Equatable {
        case number(Double), sum(Double), bool(Bool), string(String), data(String)
    }

    func read(_ text: String, maxRecords: Int = 256) throws(SenMLParseError) -> Read {
        var reader = SenMLReader(maxRecords: maxRecords)
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { (payload) throws(SenMLParseError) -> Read in
            try reader.read(payload)
            func string(_ t: SenMLText) -> String? { t.isPresent ? reader.string(t, in: payload) : nil }
            var out = Read(baseName: string(reader.baseName), baseTime: reader.hasBaseTime ? reader.baseTime : nil)
            for i in 0..<reader.count {
                let r = reader[i]
                var value: Value?
                if r.hasValue {
                    value = switch r.value {
                    case .number(let v): .number(v)
                    case .sum(let v): .sum(v)
                    case .bool(let b): .bool(b)
                    case .string(let s): .string(reader.string(s, in: payload))
                    case .data(let s): .data(reader.string(s, in: payload))
                    }
                }
                out.records.append(Record(name: string(r.name), unit: string(r.unit), value: value, time: r.time))
            }
            return out
        }
    }

    func reason(_ text: String, maxRecords: Int = 256) -> SenMLParseError.Reason? {
        do {
            _ = try read(text, maxRecords: maxRecords)
            return nil
        } catch {
            return error.reason
        }
    }

    // MARK: what a pack may hold

    @Test func everyValueFieldAndTheBaseFieldsAreRead() throws {
        let pack = try read(#"[{"bn":"urn:dev:1:","bt":1768158000.5,"bu":"Cel","n":"a","v":21.5},{"n":"b","u":"m3","s":12},{"n":"c","vb":false},{"n":"d","vs":"ok"},{"n":"e","vd":"AQI="},{"n":"f","t":-5,"v":1}]"#)
        #expect(pack.baseName == "urn:dev:1:" && pack.baseTime == 1_768_158_000.5)
        #expect(pack.records == [
            Record(name: "a", unit: "Cel", value: .number(21.5)),
            Record(name: "b", unit: "m3", value: .sum(12)),
            Record(name: "c", unit: "Cel", value: .bool(false)),
            Record(name: "d", unit: "Cel", value: .string("ok")),
            Record(name: "e", unit: "Cel", value: .data("AQI=")),
            Record(name: "f", unit: "Cel", value: .number(1), time: -5),
        ])
    }

    @Test func aBaseUnitAppliesFromItsRecordOnAndARecordsOwnUnitWins() throws {
        let pack = try read(#"[{"n":"a","v":1},{"n":"b","v":2,"bu":"W"},{"n":"c","u":"kWh","v":3},{"n":"d","v":4}]"#)
        #expect(pack.records.map(\.unit) == [nil, "W", "kWh", "W"])
    }

    @Test func keysComeInAnyOrderWithAnyWhitespaceAndUnknownFieldsAreSkipped() throws {
        let pack = try read(" \n[ {\"v\" : 2 ,\t\"n\":\"x\", \"extra\": {\"deep\": [1, true, null, \"s\", {\"k\": -2.5e3}]}, \"bver\": 10, \"ut\": 60} ] \r\n")
        #expect(pack.records == [Record(name: "x", value: .number(2))])
    }

    @Test func aRecordWithoutValueIsReadAsSuch() throws {
        let pack = try read(#"[{"bn":"urn:dev:1:","bt":1}]"#)
        #expect(pack.records == [Record()])
    }

    @Test func theSameBaseNameMayBeRepeated() throws {
        let pack = try read(#"[{"bn":"urn:a:","n":"x","v":1},{"bn":"urn:a:","n":"y","v":2}]"#)
        #expect(pack.records.count == 2)
    }

    // MARK: escapes

    @Test(arguments: [
        (#"\""#, "\""), (#"\\"#, "\\"), (#"\/"#, "/"), (#"\b"#, "\u{8}"), (#"\f"#, "\u{C}"), (#"\n"#, "\n"), (#"\r"#, "\r"),
        (#"\t"#, "\t"), (#"\u0041"#, "A"), (#"\u00e9"#, "é"), (#"\u20AC"#, "€"), (#"\ud83d\ude00"#, "😀"), (#"a\u0032b"#, "a2b"),
    ])
    func escapesAreDecoded(_ escaped: String, _ decoded: String) throws {
        let pack = try read(#"[{"n":"x\#(escaped)y","vs":"\#(escaped)"}]"#)
        #expect(pack.records.first?.name == "x\(decoded)y")
        #expect(pack.records.first?.value == .string(decoded))
    }

    @Test func rawUTF8IsKept() throws {
        #expect(try read(#"[{"n":"город","vs":"Алматы"}]"#).records.first?.value == .string("Алматы"))
    }

    /// A pack that ends where a value should start is malformed; the reader read one byte
    /// past the payload there (found by `make fuzz`).
    @Test(arguments: [#"{"n":"#, #"[{"n":"x","v":"#, #"[{"x":"#, #"[{"n":"x","v":-"#, #"[{"x":["#, #"[{"x":{"a":"#])
    func aPackEndingBeforeAValueIsMalformed(_ text: String) {
        #expect(reason(text) == .malformedJSON)
    }

    /// An error's offset is inside the payload, also when it ends inside a skipped value.
    @Test(arguments: [#"[{"bn":"urn:x:","v":{"n":"sent""#, #"[{"x":[1,2"#, #"{"a":{"b":"c""#])
    func anErrorAtTheEndNamesAByteOfThePayload(_ text: String) throws {
        let error = try #require(throws: SenMLParseError.self) { try read(text) }
        #expect(error.reason == .malformedJSON)
        #expect(error.offset <= text.utf8.count, "offset \(error.offset) of \(text.utf8.count) bytes")
    }

    /// JSON text is UTF-8: a stray byte, an overlong form, an encoded surrogate or a cut
    /// sequence inside a string is malformed, escaped or not.
    @Test(arguments: [[0xFF], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xD0], [0xE2, 0x82]] as [[UInt8]])
    func invalidUTF8IsMalformed(_ inside: [UInt8]) {
        for prefix in ["a", #"\n"#] {
            let pack = Array(#"[{"n":"x","vs":"\#(prefix)"#.utf8) + inside + Array(#"b"}]"#.utf8)
            let outcome = pack.withUnsafeBufferPointer { bytes -> SenMLParseError.Reason? in
                var reader = SenMLReader()
                do throws(SenMLParseError) { try reader.read(bytes) } catch { return error.reason }
                return nil
            }
            #expect(outcome == .malformedJSON, "\(inside) after '\(prefix)'")
        }
    }

    @Test(arguments: [#"\x"#, #"\u12"#, #"\u12G4"#, #"\ud83d"#, #"\ud83dx"#, #"\ude00"#, #"\ud83d\u0041"#, "\u{1}", "\n"])
    func badEscapesAndControlCharactersAreMalformed(_ inside: String) {
        #expect(reason(#"[{"n":"x","vs":"a\#(inside)b"}]"#) == .malformedJSON)
    }

    // MARK: numbers

    @Test(arguments: [
        ("0", 0.0), ("-0", -0.0), ("0.1", 0.1), ("-12.75", -12.75), ("1e22", 1e22), ("1E+2", 100), ("25e-1", 2.5),
        ("9007199254740993", 9_007_199_254_740_993.0), ("123456789012345678901234", 1.2345678901234568e23),
        ("0.30000000000000004", 0.30000000000000004), ("1.7976931348623157e308", Double.greatestFiniteMagnitude),
        ("-1.7976931348623157e308", -Double.greatestFiniteMagnitude), ("2.2250738585072014e-308", Double.leastNormalMagnitude),
        ("5e-324", Double.leastNonzeroMagnitude), ("1e-400", 0.0), ("17681580e2", 1_768_158_000),
    ])
    func numbersAreReadAsTheNearestDouble(_ text: String, _ value: Double) throws {
        let read = try read(#"[{"n":"x","v":\#(text)}]"#).records.first?.value
        #expect(read == .number(value), "\(text)")
        // The same as Swift's correctly rounded conversion gives.
        #expect(Double(text) == value, "\(text)")
    }

    @Test(arguments: ["1e309", "-1e309", "1e99999", "123456789e400"])
    func numbersBeyondADoubleAreNotFinite(_ text: String) {
        #expect(reason(#"[{"n":"x","v":\#(text)}]"#) == .notFinite)
    }

    @Test(arguments: ["01", "-", "1.", ".5", "1e", "1e+", "+1", "0x10", "NaN", "Infinity", "--1", "1.2.3"])
    func numbersJSONDoesNotAllowAreMalformed(_ text: String) {
        #expect(reason(#"[{"n":"x","v":\#(text)}]"#) == .malformedJSON, "\(text)")
    }

    // MARK: what is rejected, and why

    @Test(arguments: [
        ("an object, not an array", #"{"n":"x","v":1}"#, SenMLParseError.Reason.notSenML),
        ("a string", #""x""#, .notSenML),
        ("a number", "42", .notSenML),
        ("an object that is not JSON", "{[}", .malformedJSON),
        ("a bare word", "nope", .malformedJSON),
        ("an empty pack", "[]", .notSenML),
        ("a record that is not an object", "[1]", .notSenML),
        ("an empty record", "[{}]", .notSenML),
        ("two values in a record", #"[{"n":"x","v":1,"vs":"a"}]"#, .notSenML),
        ("a must-understand field", #"[{"n":"x","v":1,"new_":1}]"#, .notSenML),
        ("a second, different base name", #"[{"bn":"a:","n":"x","v":1},{"bn":"b:","n":"y","v":1}]"#, .notSenML),
        ("a number for a name", #"[{"n":1,"v":1}]"#, .notSenML),
        ("a string for a value", #"[{"n":"x","v":"1"}]"#, .notSenML),
        ("a number for a boolean", #"[{"n":"x","vb":1}]"#, .notSenML),
        ("a string for the base time", #"[{"bt":"now","n":"x","v":1}]"#, .notSenML),
        ("nothing", "", .malformedJSON),
        ("binary", "\u{1}\u{2}", .malformedJSON),
        ("no closing bracket", #"[{"n":"x","v":1}"#, .malformedJSON),
        ("no closing brace", #"[{"n":"x","v":1"#, .malformedJSON),
        ("text after the pack", #"[{"n":"x","v":1}]x"#, .malformedJSON),
        ("a trailing comma", #"[{"n":"x","v":1},]"#, .malformedJSON),
        ("a missing colon", #"[{"n" "x"}]"#, .malformedJSON),
        ("single quotes", "[{'n':'x','v':1}]", .malformedJSON),
        ("a bad literal", #"[{"n":"x","vb":tru}]"#, .malformedJSON),
        ("an unterminated string", #"[{"n":"x"#, .malformedJSON),
        ("deep nesting in an unknown field", #"[{"n":"x","v":1,"z":"# + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}]", .malformedJSON),
    ])
    func malformedPacksAreRejectedWithTheirReason(_ what: String, _ text: String, _ expected: SenMLParseError.Reason) {
        #expect(reason(text) == expected, "\(what)")
    }

    @Test func morePacksThanTheLimitAreTooMany() {
        let record = #"{"n":"x","v":1}"#
        let pack = { (n: Int) in "[" + Array(repeating: record, count: n).joined(separator: ",") + "]" }
        #expect(reason(pack(8), maxRecords: 8) == nil)
        #expect(reason(pack(9), maxRecords: 8) == .tooManyRecords)
    }

    @Test func anErrorNamesTheByteWhereReadingStopped() {
        do {
            _ = try read(#"[{"n":"x","v":01}]"#)
            Issue.record("accepted")
        } catch {
            #expect(error.offset == 14 && error.description.contains("leading zero"), "\(error)")
        }
    }

    @Test func aReaderIsReusedWithoutLeftovers() throws {
        var reader = SenMLReader()
        let first = Array(#"[{"bn":"urn:a:","bt":5,"bu":"W","n":"x","vs":"\u0041"},{"n":"y","v":1}]"#.utf8)
        let second = Array(#"[{"n":"z","v":2}]"#.utf8)
        try first.withUnsafeBufferPointer { (b) throws(SenMLParseError) in try reader.read(b) }
        try second.withUnsafeBufferPointer { (b) throws(SenMLParseError) in try reader.read(b) }
        #expect(reader.count == 1 && !reader.baseName.isPresent && !reader.hasBaseTime && !reader[0].unit.isPresent && reader.scratch.isEmpty)
    }
}
