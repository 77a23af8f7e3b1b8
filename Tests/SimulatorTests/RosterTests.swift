import Foundation
@testable import Simulator
import Telemetry
import Testing
import TestSupport

/// The roster a gateway admits names every device and every concentrator the simulator runs.
@Suite struct RosterTests {
    @Test func everyDeviceAndConcentratorIsInTheRoster() throws {
        let scenario = try gatewayScenario(duration: "1h")
        let roster = scenario.roster
        let generator = Generator(scenario: scenario)
        var devices = 0, concentrators = Set<String>()
        for fleet in generator.fleets {
            for index in 0..<fleet.count {
                let district = fleet.city.city.districts[fleet.district(of: index)].id
                let id = Array(fleet.deviceID(index).utf8)
                #expect(id.withUnsafeBufferPointer { roster.contains(city: "almaty", domain: fleet.domain, district: district, device: $0) },
                        "\(fleet.deviceID(index))")
                devices += 1
                guard fleet.connection.connection == .concentrator else { continue }
                let (d, group) = fleet.concentrator(of: index)
                let name = FleetRunner.concentratorName(city: fleet.city.city, code: fleet.code, district: fleet.city.city.districts[d].id, group: group)
                concentrators.insert(name)
                #expect(Array(name.utf8).withUnsafeBufferPointer { roster.contains(city: "almaty", domain: fleet.domain, district: district, device: $0) },
                        "concentrator \(name)")
            }
        }
        #expect(!concentrators.isEmpty)
        #expect(roster.count == devices + concentrators.count, "nothing more than the fleets and their concentrators")
    }
}
