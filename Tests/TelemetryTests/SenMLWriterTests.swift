import Foundation
import Telemetry
import Testing

@Suite final class SenMLWriterTests {
    func text(_ body: (SenMLWriter) -> Void) -> String {
        let writer = SenMLWriter(capacity: 8)
        body(writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test func decimalsAppendedToBytes() {
        let cases: [(UInt64, Int, String)] = [
            (0, 1, "0"), (7, 6, "000007"), (42, 6, "000042"), (1_234_567, 6, "1234567"), (100, 1, "100"),
            (UInt64.max, 1, "18446744073709551615"),
        ]
        for (value, digits, expected) in cases {
            var bytes = Array("id-".utf8)
            bytes.appendDecimal(value, minimumDigits: digits)
            #expect(String(decoding: bytes, as: UTF8.self) == ("id-" + expected))
        }
    }

    @Test func fixedNumbers() {
        let cases: [(Double, Int, String)] = [
            (38, 0, "38"), (41.5, 1, "41.5"), (0.22, 3, "0.22"), (0.1 + 0.2, 3, "0.3"), (-12.345, 2, "-12.35"),
            (-0.0004, 3, "0"), (1_767_225_600.25, 3, "1767225600.25"), (99_999.9999, 3, "100000"), (0.0005, 3, "0.001"),
            (1e20, 2, "1e+20"), (7, 9, "7"), (0.000000001, 9, "0.000000001"),
        ]
        for (value, decimals, expected) in cases {
            #expect((text { $0.appendFixed(value, decimals: decimals) }) == expected, "\(value) with \(decimals) decimals")
        }
        #expect((text { $0.appendInteger(-1_767_225_600) }) == "-1767225600")
        #expect((text { $0.appendInteger(0) }) == "0")
    }

    @Test func messageIsSenMLJSON() throws {
        let json = text { writer in
            writer.begin(entityType: "TrafficFlowObserved", deviceID: Array("alm-tf-0042".utf8), time: 1_767_225_600)
            writer.number("intensity", unit: "count", 38, decimals: 0)
            writer.number("averageVehicleSpeed", unit: "km/h", 41.5, decimals: 1)
            writer.sum("energy", unit: "kWh", 1234.5678, decimals: 3)
            writer.bool("congested", false)
            writer.string("status", "ok")
            writer.end()
        }
        #expect(json == #"[{"bn":"urn:ngsi-ld:TrafficFlowObserved:alm-tf-0042:","bt":1767225600,"n":"intensity","u":"count","v":38},{"n":"averageVehicleSpeed","u":"km/h","v":41.5},{"n":"energy","u":"kWh","s":1234.568},{"n":"congested","vb":false},{"n":"status","vs":"ok"}]"#)
        let records = try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(records.count == 5)
    }

    @Test func writerGrowsAndResets() {
        let writer = SenMLWriter(capacity: 8)
        writer.begin(entityType: "WaterConsumptionObserved", deviceID: Array(repeating: UInt8(ascii: "x"), count: 500), time: 1)
        writer.end()
        #expect(writer.count > 500)
        writer.reset()
        #expect(writer.count == 0)
    }
}

@Suite struct DurationTests {
    @Test func durationsAreReadUpToACentury() {
        #expect(Durations.parse("15m") == 900)
        #expect(Durations.parse("1.5h") == 5400)
        #expect(Durations.parse("90") == 90)
        #expect(Durations.parse("5200w") == Int64(3_144_960_000))
        #expect(Durations.parse("36500d") == Durations.maximum)
        #expect(Durations.parse("1y") == 365 * 86_400 && Durations.parse("100y") == Durations.maximum)
        for text in ["36501d", "99999999999999999999d", "1e30s", "1e400", "-1s", "soon", ""] {
            #expect(Durations.parse(text) == nil, "\(text)")
            #expect(Durations.problem(text) != nil, "\(text)")
        }
        #expect(Durations.problem("1e30s")?.contains("longer than the allowed 100 years") == true)
        #expect(Durations.problem("15m") == nil)
    }
}
