import Foundation
@testable import Simulator
import Telemetry
import Testing
import TestSupport

/// Device types defined in a scenario: each generator does what it says, faults act on them as
/// on the built-in families, and every mistake in a definition is refused with its place.
@Suite struct DeviceTypeTests {
    func defined() throws -> [DecodedMessage] { readings(try scenario(definedTypesScenarioYAML())) }

    @Test func aMarkovChainOnADailyProfileFillsTheBaysByDay() throws {
        let bays = try defined().filter { $0.device.contains("-pk-") }
        #expect(Set(bays.map(\.device)).count == 60)
        func share(_ hours: ClosedRange<Double>) -> Double {
            let r = bays.filter { hours.contains(localHour($0.time)) }
            return Double(r.filter { $0.flags["occupied"] == true }.count) / Double(r.count)
        }
        // Arrivals 5/h against departures 0.75/h by day hold 5 / 5.75 = 87 % of the bays;
        // 0.2/h at night 21 %.
        #expect(share(10...16) > 0.75, "\(share(10...16))")
        #expect(share(2...5) < 0.35, "\(share(2...5))")
        // The boolean is computed from the state in the same report.
        #expect(bays.allSatisfy { ($0.texts["status"] == "occupied") == ($0.flags["occupied"] == true) })
        // A bay stays in its state for a while: far fewer changes than a coin flip per report.
        var changes = 0, pairs = 0
        for (_, reports) in Dictionary(grouping: bays, by: \.device) {
            for (a, b) in zip(reports, reports.dropFirst()) {
                pairs += 1
                if a.texts["status"] != b.texts["status"] { changes += 1 }
            }
        }
        #expect(Double(changes) / Double(pairs) < 0.15, "\(changes) of \(pairs)")
    }

    @Test func anOrnsteinUhlenbeckLevelFollowsItsProfileAndAnExpressionFollowsIt() throws {
        let monitors = try defined().filter { $0.device.contains("-nm-") }
        #expect(!monitors.isEmpty)
        let day = monitors.filter { (9...16).contains(localHour($0.time)) }.compactMap { $0.values["LAeq"] }
        let night = monitors.filter { (1...4).contains(localHour($0.time)) }.compactMap { $0.values["LAeq"] }
        let dayMean = day.reduce(0, +) / Double(day.count), nightMean = night.reduce(0, +) / Double(night.count)
        #expect(abs(dayMean - 66) < 1.5 && abs(nightMean - 52) < 1.5, "day \(dayMean), night \(nightMean)")
        // Not white noise around the profile: consecutive readings of a monitor are correlated.
        var products = 0.0, squares = 0.0
        for (_, reports) in Dictionary(grouping: monitors.filter { (9...16).contains(localHour($0.time)) }, by: \.device) {
            let deviations = reports.map { ($0.values["LAeq"] ?? 0) - 66 }
            for (a, b) in zip(deviations, deviations.dropFirst()) {
                products += a * b
                squares += a * a
            }
        }
        #expect(products / squares > 0.4, "lag-one autocorrelation \(products / squares)")
        for m in monitors {
            let laeq = try #require(m.values["LAeq"]), lamax = try #require(m.values["LAmax"])
            // LAeq is written with one decimal and LAmax computed from the unrounded value.
            #expect(abs(lamax - (laeq + 10 + 0.1 * (laeq - 50))) < 0.06, "\(m.values)")
        }
    }

    @Test func aMeterIntegratesItsRateByTheTrapezoidRule() throws {
        let chargers = Dictionary(grouping: try defined().filter { $0.device.contains("-ev-") }, by: \.device)
        #expect(chargers.count == 8)
        var checked = 0
        for (_, reports) in chargers {
            for (a, b) in zip(reports, reports.dropFirst()) {
                let expected = (a.values["power"]! + b.values["power"]!) / 2 * Double(b.time - a.time) / 3600
                #expect(abs(b.values["energy"]! - a.values["energy"]! - expected) < 0.002, "\(a.values) then \(b.values)")
                checked += 1
            }
        }
        #expect(checked > 500)
        // Each charger has its own factor on the shared profile (spread 0.2).
        let noon = chargers.values.compactMap { $0.first { (12..<12.25).contains(localHour($0.time)) }?.values["power"] }
        #expect(Set(noon).count == noon.count && noon.count == 8)
    }

    @Test func faultsActOnDefinedFamiliesAsOnBuiltInOnes() throws {
        let s = try scenario(definedTypesScenarioYAML(duration: "12h", faults: """
              - {kind: stuck, family: environment, share: 1, start: 2h, duration: 4h}
              - {kind: reboot, family: lighting, share: 1, start: 3h, duration: 1h, magnitude: 60}
            """))
        let all = readings(s)
        let stuck = all.filter { $0.device.contains("-nm-") && (3...5).contains(localHour($0.time)) }
        for (_, reports) in Dictionary(grouping: stuck, by: \.device) {
            #expect(Set(reports.compactMap { $0.values["LAeq"] }).count == 1, "a stuck monitor repeats one value")
        }
        // A reboot loses the meter total: some charger's energy goes down once.
        let chargers = Dictionary(grouping: all.filter { $0.device.contains("-ev-") }, by: \.device)
        let resets = chargers.values.filter { r in zip(r, r.dropFirst()).contains { $1.values["energy"]! < $0.values["energy"]! } }
        #expect(!resets.isEmpty)
    }

    @Test func theSameSeedGivesTheSameBytes() throws {
        let a = messages(try scenario(definedTypesScenarioYAML(duration: "3h"))).map(\.payload)
        let b = messages(try scenario(definedTypesScenarioYAML(duration: "3h"))).map(\.payload)
        #expect(a == b && a.count > 100)
    }

    @Test func theScenarioAddsTheFamiliesToItsContractAndRoster() throws {
        let s = try scenario(definedTypesScenarioYAML())
        #expect(s.schema.entities.map(\.type).suffix(3) == ["ParkingSpot", "NoiseLevelObserved", "EVChargingStation"])
        #expect(s.schema.family("EVChargingStation").attribute(named: "energy")?.kind == .sum)
        let city = s.cities[0]
        #expect(city.installedDevices[.mobility] == 60 && city.installedDevices[.environment] == 10)
        #expect(city.inventory[.mobility] == nil, "a defined fleet's inventory is its own, not its domain's")
        #expect(city.facts.entityInventory["ParkingSpot"] == 200)
        let roster = s.roster
        #expect(Array("alm-pk-000059".utf8).withUnsafeBufferPointer { roster.contains(city: "almaty", domain: .mobility, district: "south", device: $0) })
        #expect(s.indicators.map(\.code) == ["SC:parking-occupancy", "SC:charging-kwh-per-capita"])
    }

    /// A scenario with one device type `thing` of these attributes (the lines under `attributes:`).
    func thing(attributes: String) -> String {
        "device-types:\n  - id: thing\n    type: Thing\n    domain: environment\n    code: th\n    attributes:\n"
            + attributes.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\n" + testScenarioYAML(fleets: "          thing: {count: 1}")
    }

    /// Each mistake, its place and the words that say how to mend it.
    @Test(arguments: [
        ("kind: number\ngenerator: {brownian: {}}", "generator", "unknown field 'brownian'"),
        ("kind: number\nunit: decibel\ngenerator: {constant: 1}", "unit", "not a SenML unit"),
        ("kind: number\nrange: [10, 0]\ngenerator: {constant: 1}", "range", "min 10.0 is above max 0.0"),
        ("kind: number\ngenerator: {expression: \"volume * 2\"}", "generator.expression", "'volume' is not known here"),
        ("kind: number\ngenerator: {expression: \"x +\"}", "generator.expression", "the formula ends"),
        ("kind: meter\ngenerator: {constant: 1}", "generator.constant", "takes the meter generator"),
        ("kind: text\ngenerator: {constant: ok}", "x", "needs 'values'"),
        ("kind: text\nvalues: [ok]\ngenerator: {constant: nok}", "generator.constant", "'nok' is not one of the values"),
        ("kind: number\ngenerator: {markov: {states: [1, 2], rates: {1: {3: 1}}}}", "generator.markov.rates.1", "unknown field '3'"),
    ] as [(String, String, String)])
    func aWrongAttributeIsRefusedWithItsPlace(attribute: String, field: String, message: String) throws {
        let yaml = thing(attributes: "  - name: x\n" + attribute.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        do {
            _ = try scenario(yaml)
            Issue.record("accepted: \(attribute)")
        } catch {
            #expect("\(error)".contains("device-types[0].attributes[0]" + (field == "x" ? "" : "." + field)), "\(error)")
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    @Test func expressionsThatReadEachOtherInACycleAreRefused() throws {
        let yaml = thing(attributes: """
              - {name: a, kind: number, generator: {expression: "b + 1"}}
              - {name: b, kind: number, generator: {expression: "c * 2"}}
              - {name: c, kind: number, generator: {expression: "a - hour"}}
            """)
        #expect { try scenario(yaml) } throws: { "\($0)".contains("cycle (a -> b -> c -> a)") }
    }

    @Test(arguments: [
        ("code: th", "code", "device code 'th' is taken"),
        ("code: tf", "code", "taken"),
        ("type: Streetlight", "type", "already defined"),
        ("id: mobility", "id", "is taken"),
    ] as [(String, String, String)])
    func aTypeThatCollidesIsRefused(change: String, field: String, message: String) throws {
        let key = String(change.split(separator: ":")[0])
        let one: [String: String] = ["id": "thing", "type": "Thing", "code": "th"]
        func type(_ values: [String: String]) -> String {
            """
              - id: \(values["id"]!)
                type: \(values["type"]!)
                domain: environment
                code: \(values["code"]!)
                attributes:
                  - {name: x, kind: number, generator: {constant: 1}}
            """
        }
        var two = ["id": "other", "type": "Other", "code": "ot"]
        two[key] = String(change.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
        let yaml = "device-types:\n" + type(one) + "\n" + type(two) + "\n" + testScenarioYAML()
        #expect { try scenario(yaml) } throws: { "\($0)".contains("device-types[1].\(field)") && "\($0)".contains(message) }
    }

    @Test(arguments: [
        ("median(ParkingSpot.occupied)", "'median' is not a function"),
        ("share(ParkingSpot.vacant)", "ParkingSpot has no attribute 'vacant'"),
        ("share(ParkingBay.occupied)", "a series is Entity.attribute"),
        ("100 * share(ParkingSpot.occupied) / households", "'households' is not known here"),
        ("mean(ParkingSpot.status)", "text attributes are not aggregated"),
        ("share(NoiseLevelObserved.LAeq)", "share is for boolean attributes"),
    ])
    func anIndicatorFormulaNamingWhatIsNotThereIsRefused(formula: String, message: String) throws {
        let yaml = definedTypesScenarioYAML().replacingOccurrences(of: "\"100 * share(ParkingSpot.occupied)\"", with: "\"\(formula)\"")
        #expect { try scenario(yaml) } throws: { "\($0)".contains("indicators[0].formula") && "\($0)".contains(message) }
    }
}
