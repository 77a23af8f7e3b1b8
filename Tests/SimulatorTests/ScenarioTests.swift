import Foundation
@testable import Simulator
import Telemetry
import Testing
import TestSupport

@Suite struct ScenarioTests {
    func failure(_ yaml: String) -> ScenarioError? {
        do {
            _ = try Scenario(yaml: yaml, file: "Scenarios/bad.yaml")
            return nil
        } catch {
            return error
        }
    }

    @Test func shippedScenariosAreValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let almaty = try Scenario(contentsOf: root.appendingPathComponent("Scenarios/almaty.yaml").path)
        let city = try #require(almaty.cities.first)
        #expect(city.population == 2_000_000)
        #expect(city.roadKm == 3096.8)
        #expect(city.vehicles == 470_000)
        #expect(city.fleets.lighting?.fleet.inventory == 165_000, "every pole of the city")
        #expect(city.fleets.lighting?.fleet.count == 99_000, "the connected share, 0.6 of the poles")
        #expect(city.fleets.lighting?.fleet.synthetic == ["connected-share"])
        #expect(city.synthetic == false)
        // The same city with each of its 206,702 devices on a connection of its own.
        let every = try Scenario(contentsOf: root.appendingPathComponent("Scenarios/almaty-every-device.yaml").path)
        let fleets = try #require(every.cities.first?.fleets)
        #expect(fleets.lighting?.fleet.count == 165_000)
        #expect(every.cities.first?.installedDevices.values.reduce(0, +) == 206_702)
        #expect(every.mqtt.connectRate == 5000)
        #expect(Generator(scenario: every).fleets.allSatisfy { $0.connection.connection == .device })
        let pioneers = try Scenario(contentsOf: root.appendingPathComponent("Scenarios/pioneer-cities.yaml").path)
        #expect(pioneers.cities.count >= 4)
        #expect(Set(pioneers.cities.map(\.id)).count == pioneers.cities.count)
    }

    /// Durations beyond a century trapped converting to Int64; they are refused with the range.
    @Test(arguments: ["99999999999999999999d", "1e30s", "1e400s", "101w" + String(repeating: "0", count: 3)])
    func absurdDurationsAreRefusedWithTheAllowedRange(_ duration: String) throws {
        let error = try #require(failure(testScenarioYAML(duration: duration)))
        #expect(error.field == "duration")
        #expect(error.message.contains("longer than the allowed 100 years") || error.message.contains("is not a duration"), "\(error)")
    }

    @Test func aConnectedShareOfTheInventoryIsTheFleet() throws {
        let scenario = try Scenario(yaml: testScenarioYAML(fleets: "      lighting: {inventory: 40, connected-share: 0.25, synthetic: [connected-share]}"),
                                    file: "s.yaml")
        let lighting = try #require(scenario.cities.first?.fleets.lighting)
        #expect(lighting.fleet.count == 10 && lighting.fleet.inventory == 40 && lighting.fleet.connectedShare == 0.25)
        #expect(scenario.cities[0].facts.inventory[.lighting] == 40 && scenario.cities[0].facts.devices[.lighting] == 10)
    }

    @Test func theWholeFleetIsBounded() throws {
        let fleets = """
                  lighting: {count: 30000000, interval: 15m}
                  water: {count: 30000000, interval: 1h}
        """
        let error = try #require(failure(testScenarioYAML(fleets: fleets)))
        #expect(error.field == "cities" && error.message.contains("devices in all; one scenario holds at most 50000000"), "\(error)")
    }

    @Test func unknownFieldNamesFileLineAndField() throws {
        let yaml = testScenarioYAML().replacingOccurrences(of: "population: 20000", with: "populaton: 20000")
        let error = try #require(failure(yaml))
        #expect(error.file == "Scenarios/bad.yaml")
        #expect(error.line == 13)
        #expect(error.field == "cities[0].populaton")
        #expect(error.description.contains("Scenarios/bad.yaml:13:"))
        #expect(error.description.contains("did you mean 'population'"))
    }

    @Test func wrongTypeNamesTheField() throws {
        let yaml = testScenarioYAML(fleets: "      mobility: {count: many, interval: 5m}")
        let error = try #require(failure(yaml))
        #expect(error.field == "cities[0].fleets.mobility.count")
        #expect(error.description.contains("expected a whole number, got 'many'"))
        #expect(error.line != nil)
    }

    @Test func badValuesSayWhatIsAllowed() throws {
        let cases: [(String, String, String)] = [
            (testScenarioYAML(duration: "forever"), "duration", "write it like 30s"),
            (testScenarioYAML(start: "yesterday"), "start", "ISO 8601"),
            (testScenarioYAML(faults: "  - {kind: melting, share: 0.1}"), "faults[0].kind", "stuck, drifting"),
            (testScenarioYAML(faults: "  - {kind: stuck, share: 2}"), "faults[0].share", "out of range"),
            (testScenarioYAML(faults: "  - {kind: stuck, share: 0.1, city: paris}"), "faults[0].city", "no city 'paris'"),
            (testScenarioYAML(fleets: "      mobility: {count: 3, connection: wifi}"), "cities[0].fleets.mobility.connection", "device, concentrator"),
            (testScenarioYAML(fleets: "      trains: {count: 3}"), "cities[0].fleets.trains", "allowed here: mobility"),
            (testScenarioYAML().replacingOccurrences(of: "  qos: 1", with: "  qos: 1\n  coalesce: soon"), "mqtt.coalesce", "write it like 30s"),
            (testScenarioYAML().replacingOccurrences(of: "seed: 7\n", with: ""), "", "the field 'seed' is missing"),
            (testScenarioYAML().replacingOccurrences(of: "  - id: almaty", with: "  - id: Almaty City"), "cities[0].id", "lower-case"),
            (testScenarioYAML(fleets: "      lighting: {count: 50, inventory: 40}"), "cities[0].fleets.lighting.inventory",
             "the inventory (40) is smaller than the connected fleet (count 50)"),
            (testScenarioYAML(fleets: "      lighting: {inventory: 40, connected-share: 1.5}"), "cities[0].fleets.lighting.connected-share", "out of range"),
            (testScenarioYAML(fleets: "      lighting: {inventory: 40, connected-share: -0.1}"), "cities[0].fleets.lighting.connected-share", "out of range"),
            (testScenarioYAML(fleets: "      lighting: {connected-share: 0.5}"), "cities[0].fleets.lighting.connected-share", "needs the fleet's 'inventory'"),
            (testScenarioYAML(fleets: "      lighting: {inventory: 40, connected-share: 0.5, count: 20}"), "cities[0].fleets.lighting.count", "not both"),
            (testScenarioYAML(fleets: "      lighting: {count: 5, synthetic: [colour]}"), "cities[0].fleets.lighting.synthetic[0]", "not a field of this fleet"),
        ]
        for (yaml, field, hint) in cases {
            let error = try #require(failure(yaml), "expected \(field) to fail")
            #expect(error.field == field)
            #expect(error.description.contains(hint), "\(error.description) should contain \(hint)")
            #expect(error.line != nil, "\(error) has no line")
        }
    }

    @Test func brokenYAMLIsReported() throws {
        let error = try #require(failure("seed: [1, 2\nstart: x"))
        #expect(error.description.contains("not valid YAML"))
    }

    @Test func durationsAndSpeeds() {
        #expect(Durations.parse("90s") == 90)
        #expect(Durations.parse("15m") == 900)
        #expect(Durations.parse("1.5h") == 5400)
        #expect(Durations.parse("1d") == 86400)
        #expect(Durations.parse("2w") == 1_209_600)
        #expect(Durations.parse("soon") == nil)
        #expect(Durations.format(90061) == "1d1h1m1s")
        #expect(Scenario.Speed(parsing: "max") == .max)
        #expect(Scenario.Speed(parsing: "60x") == .factor(60))
        #expect(Scenario.Speed(parsing: "-1") == nil)
    }
}
