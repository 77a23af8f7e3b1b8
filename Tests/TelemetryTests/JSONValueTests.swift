import Telemetry
import Testing

/// The JSON tree under the flat JSON and NGSI-LD payloads.
@Suite struct JSONValueTests {
    func parse(_ text: String) throws -> JSONValue {
        try Array(text.utf8).withUnsafeBufferPointer { (b) throws(SenMLParseError) -> JSONValue in try JSONValue.parse(b) }
    }

    @Test func documentsReadAsTheirTrees() throws {
        let v = try parse(#" {"ts": 1768158000000, "values": {"a": -1.5e2, "b": true, "c": "x\"\u00e9", "d": null, "e": [1, [], {}]}} "#)
        #expect(v["ts"] == .number(1_768_158_000_000))
        #expect(v["values"]?["a"] == .number(-150) && v["values"]?["b"] == .bool(true) && v["values"]?["c"] == .string("x\"é"))
        #expect(v["values"]?["d"] == .null && v["values"]?["e"] == .array([.number(1), .array([]), .object([:])]))
    }

    @Test(arguments: [#"{"a":1"#, #"{"a" 1}"#, "[1,]", "{} x", "tru", #""\u12"#, String(repeating: "[", count: 40) + String(repeating: "]", count: 40)])
    func brokenDocumentsAreRefused(text: String) {
        #expect(throws: SenMLParseError.self) { try parse(text) }
    }
}
