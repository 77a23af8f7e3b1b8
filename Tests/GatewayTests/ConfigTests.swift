import Foundation
@testable import Gateway
import Telemetry
import Testing
import TestSupport

@Suite struct ConfigTests {
    @Test func theShippedConfigLoads() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Config/gateway.yaml").standardized.path
        let config = try GatewayConfig(contentsOf: path)
        #expect(config.window == 900)
        #expect(config.lateness == 900)
        #expect(config.cities.isEmpty, "simulated cities take their facts from their scenario")
        #expect(config.httpMaxConnections == 256 && config.httpIdleTimeout == 30)
        #expect(config.detectors == DetectorSettings(), "the shipped file states the defaults")
    }

    @Test func payloadFormatsAndTopicMappingsAreRead() throws {
        let config = try GatewayConfig(yaml: """
            payload-formats:
              - {topics: "city/+/mobility/#", format: json}
              - {topics: "devices/+/up", format: [json, ngsi-ld]}
            topic-mappings:
              - {pattern: "devices/{device}/up"}
              - {pattern: "devices/{device}/state", kind: status}
            """, file: "gw.yaml")
        #expect(config.payloadFormats == [PayloadFormatRule(filter: "city/+/mobility/#", formats: [.json]),
                                          PayloadFormatRule(filter: "devices/+/up", formats: [.json, .ngsiLD])])
        #expect(config.topicMappings.map(\.kind) == [.attributes, .status] && config.topicMappings.map(\.filter) == ["devices/+/up", "devices/+/state"])
    }

    @Test func detectorThresholdsAreRead() throws {
        let config = try GatewayConfig(yaml: "detectors: {spike-factor: 6, stuck-repeats: 5, lamp-sun-elevation: -3}", file: "gw.yaml")
        #expect(config.detectors.spikeFactor == 6 && config.detectors.stuckRepeats == 5 && config.detectors.lampSunElevation == -3)
        #expect(config.detectors.fireCelsius == 55)
    }

    @Test func aCityListedWithItsInventory() throws {
        let config = try GatewayConfig(yaml: """
            cities:
              - {id: x, population: 10, area-km2: 2, devices: {lighting: 5}, inventory: {lighting: 9}}
            """, file: "gw.yaml")
        let city = try #require(config.city("x"))
        #expect(city.devices[.lighting] == 5 && city.inventory[.lighting] == 9)
    }

    @Test(arguments: [
        ("windw: 15m", "gw.yaml:1:1: windw: unknown field 'windw' (did you mean 'window'?)"),
        ("window: 7m", "gw.yaml:1:9: window: 420 s does not divide an hour"),
        ("lateness: soon", "gw.yaml:1:11: lateness: 'soon' is not a duration"),
        ("cities:\n  - {id: x, population: 1}", "gw.yaml:2:5: cities[0]: the field 'area-km2' is missing"),
        ("cities:\n  - {id: x, population: 1, area-km2: 2, devices: {parking: 3}}", "cities[0].devices.parking: unknown field 'parking'; allowed here: mobility"),
        ("cities:\n  - {id: x, population: many, area-km2: 2}", "cities[0].population: expected a number, got 'many'"),
        ("cities:\n  - {id: x, population: 1, area-km2: 2, devices: {lighting: 5}, inventory: {lighting: 4}}",
         "cities[0].inventory.lighting: the inventory of lighting (4) is smaller than its connected devices (5)"),
        ("publish-indicators: perhaps", "publish-indicators: expected true or false, got 'perhaps'"),
        ("payload-formats:\n  - {topics: \"city/#/x\", format: json}", "payload-formats[0].topics: 'city/#/x' is not an MQTT topic filter"),
        ("payload-formats:\n  - {topics: \"city/#\", format: xml}", "payload-formats[0].format: 'xml' is not one of senml, json, ngsi-ld"),
        ("topic-mappings:\n  - {pattern: \"devices/up\"}", "topic-mappings[0].pattern: a topic mapping must name the {device} level"),
        ("topic-mappings:\n  - {pattern: \"devices/{device}\", kind: data}", "topic-mappings[0].kind: 'data' is not a kind"),
        ("http-port: 70000", "http-port: 70000 is out of range"),
        ("detectors: {spike-factor: 1}", "gw.yaml:1:27: detectors.spike-factor: 1.0 is out of range; allowed 1.5 to 1000.0"),
        ("detectors: {fire-celsius: hot}", "detectors.fire-celsius: expected a number, got 'hot'"),
        ("detectors: {silent-interval: 3}", "detectors.silent-interval: unknown field 'silent-interval' (did you mean 'silent-intervals'?)"),
    ])
    func wrongSettingsNameTheFileAndField(_ yaml: String, _ message: String) {
        do {
            _ = try GatewayConfig(yaml: yaml, file: "gw.yaml")
            Issue.record("accepted: \(yaml)")
        } catch {
            #expect("\(error)".hasPrefix("gw.yaml:"), "\(error)")
            #expect("\(error)".contains(message), "\(error)")
        }
    }
}
