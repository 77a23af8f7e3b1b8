import Foundation
import Telemetry
import XCTest

final class SenMLWriterTests: XCTestCase {
    func text(_ body: (SenMLWriter) -> Void) -> String {
        let writer = SenMLWriter(capacity: 8)
        body(writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    func testDecimalsAppendedToBytes() {
        let cases: [(UInt64, Int, String)] = [
            (0, 1, "0"), (7, 6, "000007"), (42, 6, "000042"), (1_234_567, 6, "1234567"), (100, 1, "100"),
            (UInt64.max, 1, "18446744073709551615"),
        ]
        for (value, digits, expected) in cases {
            var bytes = Array("id-".utf8)
            bytes.appendDecimal(value, minimumDigits: digits)
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "id-" + expected)
        }
    }

    func testFixedNumbers() {
        let cases: [(Double, Int, String)] = [
            (38, 0, "38"), (41.5, 1, "41.5"), (0.22, 3, "0.22"), (0.1 + 0.2, 3, "0.3"), (-12.345, 2, "-12.35"),
            (-0.0004, 3, "0"), (1_767_225_600.25, 3, "1767225600.25"), (99_999.9999, 3, "100000"), (0.0005, 3, "0.001"),
            (1e20, 2, "1e+20"), (7, 9, "7"), (0.000000001, 9, "0.000000001"),
        ]
        for (value, decimals, expected) in cases {
            XCTAssertEqual(text { $0.appendFixed(value, decimals: decimals) }, expected, "\(value) with \(decimals) decimals")
        }
        XCTAssertEqual(text { $0.appendInteger(-1_767_225_600) }, "-1767225600")
        XCTAssertEqual(text { $0.appendInteger(0) }, "0")
    }

    func testMessageIsSenMLJSON() throws {
        let json = text { writer in
            writer.begin(entityType: "TrafficFlowObserved", deviceID: Array("alm-tf-0042".utf8), time: 1_767_225_600)
            writer.number("intensity", unit: "count", 38, decimals: 0)
            writer.number("averageVehicleSpeed", unit: "km/h", 41.5, decimals: 1)
            writer.sum("energy", unit: "kWh", 1234.5678, decimals: 3)
            writer.bool("congested", false)
            writer.string("status", "ok")
            writer.end()
        }
        XCTAssertEqual(json, #"[{"bn":"urn:ngsi-ld:TrafficFlowObserved:alm-tf-0042:","bt":1767225600,"n":"intensity","u":"count","v":38},{"n":"averageVehicleSpeed","u":"km/h","v":41.5},{"n":"energy","u":"kWh","s":1234.568},{"n":"congested","vb":false},{"n":"status","vs":"ok"}]"#)
        let records = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        XCTAssertEqual(records.count, 5)
    }

    func testWriterGrowsAndResets() {
        let writer = SenMLWriter(capacity: 8)
        writer.begin(entityType: "WaterConsumptionObserved", deviceID: Array(repeating: UInt8(ascii: "x"), count: 500), time: 1)
        writer.end()
        XCTAssertGreaterThan(writer.count, 500)
        writer.reset()
        XCTAssertEqual(writer.count, 0)
    }
}
