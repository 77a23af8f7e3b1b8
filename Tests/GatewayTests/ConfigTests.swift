import Foundation
@testable import Gateway
import Telemetry
import Testing

@Suite struct ConfigTests {
    @Test func theShippedConfigLoads() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Config/gateway.yaml").standardized.path
        let config = try GatewayConfig(contentsOf: path)
        #expect(config.window == 900)
        #expect(config.lateness == 900)
        let almaty = try #require(config.city("almaty"))
        #expect(almaty.population == 2_000_000)
        #expect(almaty.utcOffset == 5)
        #expect(almaty.devices[.lighting] == 165_000)
    }

    @Test(arguments: [
        ("windw: 15m", "windw: unknown setting"),
        ("window: 7m", "window: 420 s does not divide an hour"),
        ("lateness: soon", "lateness: expected seconds or a duration"),
        ("cities:\n  - {id: x, population: 1}", "cities[0].area-km2: missing"),
        ("cities:\n  - {id: x, population: 1, area-km2: 2, devices: {parking: 3}}", "cities[0].devices.parking: unknown domain"),
        ("cities:\n  - {id: x, population: many, area-km2: 2}", "cities[0].population: expected a number"),
        ("publish-indicators: perhaps", "publish-indicators: expected true or false"),
    ])
    func wrongSettingsNameTheFileAndField(_ yaml: String, _ message: String) {
        do {
            _ = try GatewayConfig(yaml: yaml, file: "gw.yaml")
            Issue.record("accepted: \(yaml)")
        } catch {
            #expect("\(error)".hasPrefix("gw.yaml: "), "\(error)")
            #expect("\(error)".contains(message), "\(error)")
        }
    }
}
