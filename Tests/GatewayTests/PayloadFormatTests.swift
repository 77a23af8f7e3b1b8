import Foundation
@testable import Gateway
import Simulator
import Telemetry
import Testing
import TestSupport

/// Payload formats beside SenML and topic layouts beside the city scheme: the same readings
/// give the same windows whatever their format and topic, and bad payloads of every format are
/// dead letters with the reasons SenML's would have.
@Suite struct PayloadFormatTests {
    /// The gateway test city with `payload:` on some fleets and an optional topic template.
    func scenario(formats: [String: String], topic: String? = nil) throws -> Scenario {
        var fleets = """
              mobility: {count: 12, interval: 5m}
              lighting: {count: 30, interval: 15m, per-connection: 10}
              waste: {count: 20, interval: 1h, collection-every-days: 1}
              water: {count: 15, interval: 15m, network-sensors-per-district: 2, network-interval: 15m}
              environment: {count: 4, interval: 10m, connection: device}
    """
        for (domain, format) in formats {
            fleets = fleets.replacingOccurrences(of: "\(domain): {", with: "\(domain): {payload: \(format), ")
        }
        var yaml = testScenarioYAML(name: "formats", duration: "12h", fleets: fleets)
        if let topic { yaml = yaml.replacingOccurrences(of: "mqtt:\n", with: "mqtt:\n  topic: \"\(topic)\"\n") }
        return try Scenario(yaml: yaml, file: "formats.yaml")
    }

    func windows(_ s: Scenario) throws -> (windows: [String: WindowRecord], rejected: Int64, accepted: Int64) {
        let a = try Aggregator(config: gatewayConfig(s, lateness: 86_400))
        var records: [WindowRecord] = []
        for m in simulated(s) {
            a.ingest(m)
            records += a.drain().windows
        }
        a.emitOpenWindows()
        records += a.drain().windows
        return (finalWindows(records), a.counters.rejected, a.counters.accepted)
    }

    @Test func everyFormatAndLayoutGivesTheSameWindows() throws {
        let senml = try windows(try scenario(formats: [:]))
        #expect(senml.rejected == 0 && senml.windows.count > 1000)
        for (formats, topic) in [(["mobility": "json", "environment": "ngsi-ld", "water": "json"], nil as String?),
                                 (["lighting": "ngsi-ld", "waste": "json"], "vendor/{device}/{kind}"),
                                 ([:], "devices/{city}/{district}/{device}/{kind}")] {
            let s = try scenario(formats: formats, topic: topic)
            let other = try windows(s)
            #expect(other.rejected == 0, "\(formats) \(topic ?? "")")
            #expect(other.accepted == senml.accepted)
            #expect(Set(other.windows.keys) == Set(senml.windows.keys))
            for (key, w) in senml.windows {
                guard let o = other.windows[key] else { continue }
                #expect(o.partial.count == w.partial.count && abs(o.partial.sum - w.partial.sum) <= 1e-9 * max(1, abs(w.partial.sum))
                        && abs(o.partial.increment - w.partial.increment) <= 1e-9 * max(1, abs(w.partial.increment)), "\(key)")
            }
        }
    }

    @Test func theSimulatorWritesEachFormatAsDocumented() throws {
        let s = try scenario(formats: ["mobility": "json", "environment": "ngsi-ld"], topic: "vendor/{device}/{kind}")
        let all = simulated(s).filter { $0.kind == .telemetry }
        let flat = try #require(all.first { $0.domain == .mobility })
        #expect(flat.topicString.hasPrefix("vendor/alm-tf-") && flat.topicString.hasSuffix("/attrs"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(flat.payload)) as? [String: Any])
        #expect(object["ts"] as? Int == Int(flat.eventTime) * 1000)
        let values = try #require(object["values"] as? [String: Any])
        #expect(values["occupancy"] is Double && values["congested"] is Bool && values["seq"] as? Int == 1)
        let entity = try #require(all.first { $0.domain == .environment })
        let ngsi = try #require(try JSONSerialization.jsonObject(with: Data(entity.payload)) as? [String: Any])
        #expect((ngsi["id"] as? String)?.hasPrefix("urn:ngsi-ld:AirQualityObserved:alm-aq-") == true && ngsi["type"] as? String == "AirQualityObserved")
        let pm25 = try #require(ngsi["pm25"] as? [String: Any])
        #expect(pm25["type"] as? String == "Property" && pm25["unitCode"] as? String == "GQ" && pm25["value"] is Double)
        #expect(pm25["observedAt"] as? String == Timestamps.format(entity.eventTime))
        // The rest stay SenML.
        #expect(all.first { $0.domain == .waste }?.payload.first == UInt8(ascii: "["))
    }

    /// Bad payloads of every format: a dead letter each, with SenML's reason where SenML has
    /// the same fault; nothing of them reaches a window or the device registry.
    @Test func badPayloadsOfEveryFormatAreDeadLettersWithTheirReason() throws {
        let s = try scenario(formats: ["mobility": "json", "environment": "ngsi-ld"])
        let a = try Aggregator(config: gatewayConfig(s))
        let traffic = "city/almaty/mobility/north/alm-tf-000001/attrs"
        let air = "city/almaty/environment/north/alm-aq-000001/attrs"
        func flat(_ values: String) -> String { #"{"ts":1768158000000,"values":{"# + values + #","sent":1768158000}}"# }
        func entity(_ properties: String, id: String = "urn:ngsi-ld:AirQualityObserved:alm-aq-000001") -> String {
            #"{"id":"\#(id)","type":"AirQualityObserved",\#(properties)}"#
        }
        let at = #""observedAt":"2026-01-11T19:00:00Z""#
        let cases: [(String, String, RejectReason)] = [
            (traffic, flat(#""intensity":12,"occupancy":1.5,"seq":1"#), .outOfRange),
            (traffic, flat(#""intensity":12,"colour":1,"seq":1"#), .unknownAttribute),
            (traffic, flat(#""intensity":"many","seq":1"#), .wrongType),
            (traffic, #"{"values":{"intensity":12}}"#, .wrongFormat),
            (traffic, #"[{"bn":"urn:ngsi-ld:TrafficFlowObserved:alm-tf-000001:","bt":1768158000,"n":"intensity","u":"count","v":12}]"#, .wrongFormat),
            (traffic, "{\"ts\":", .malformedJSON),
            (air, entity(#""pm25":{"type":"Property","value":40,\#(at),"unitCode":"KGM"}"#), .wrongUnit),
            (air, entity(#""pm25":{"type":"Property","value":40,\#(at)}"#, id: "urn:ngsi-ld:AirQualityObserved:alm-aq-000002"), .entityMismatch),
            (air, entity(#""pm25":{"type":"Property","value":40}"#), .missingField),
            (air, entity(#""pm25":40"#), .wrongFormat),
            (air, flat(#""pm25":40"#), .wrongFormat),
        ]
        for (topic, payload, reason) in cases {
            #expect(a.ingest(topic, payload) == .rejected(reason), "\(payload)")
        }
        #expect(a.knownDevices == 0, "a rejected message registers no device")
        #expect(a.drain().deadLetters.map(\.payload) == cases.map { Array($0.1.utf8) }, "dead letters keep the payload as it came")
        // The good ones of each format are taken.
        #expect(a.ingest(traffic, #"{"ts":1768158000000,"values":{"intensity":12,"occupancy":0.1,"averageVehicleSpeed":50.5,"congested":false,"seq":1,"sent":1768158000.25}}"#) == .accepted)
        #expect(a.ingest(air, entity(#""pm25":{"type":"Property","value":40,\#(at),"unitCode":"GQ"},"seq":{"type":"Property","value":1,\#(at)},"sent":{"type":"Property","value":1768158000,\#(at),"unitCode":"SEC"}"#)) == .accepted)
    }

    /// A vendor layout that names the device alone: the device registry places it (city,
    /// domain, district) and names its family; an unlisted device is refused.
    @Test func aVendorLayoutIsPlacedByTheDeviceRegistry() throws {
        var config = openGatewayConfig()
        config.acceptUnknownDevices = false
        config.roster = try DeviceRoster(csv: "device,city,domain,district,type\nlora-a8175801,almaty,environment,south,AirQualityObserved\n", file: "registry.csv")
        config.topicMappings = [try TopicMapping(pattern: "devices/{device}/up"), try TopicMapping(pattern: "devices/{device}/state", kind: .status)]
        config.payloadFormats = [PayloadFormatRule(filter: "devices/+/up", formats: [.json])]
        let a = try Aggregator(config: config)
        #expect(a.ingest("devices/lora-a8175801/state", "online") == .status)
        #expect(a.ingest("devices/lora-a8175801/up", #"{"ts":1768158000000,"values":{"pm25":35.5,"seq":1,"sent":1768158001}}"#) == .accepted)
        #expect(a.ingest("devices/lora-ffff/up", #"{"ts":1768158000000,"values":{"pm25":35.5,"seq":1}}"#) == .rejected(.unknownDevice))
        a.emitOpenWindows()
        let windows = a.drain().windows
        #expect(windows.contains { $0.city == "almaty" && $0.domain == .environment && $0.district == "south" && $0.attribute == "AirQualityObserved.pm25" })
        #expect(config.topicMappings.map(\.filter) == ["devices/+/up", "devices/+/state"])
    }
}
