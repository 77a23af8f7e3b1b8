import Foundation
@testable import Gateway
import Simulator
import Telemetry
import Testing
import TestSupport

/// Only the configured cities, their districts and the roster's devices shape the windows.
@Suite struct AdmissionTests {
    static func reading(_ device: String, pm25: Double = 42.5, seq: Int = 1, at t: Int64 = 1_768_158_000) -> String {
        #"[{"bn":"urn:ngsi-ld:AirQualityObserved:\#(device):","bt":\#(t),"n":"pm25","u":"ug/m3","v":\#(pm25)},{"n":"seq","v":\#(seq)},{"n":"sent","u":"s","v":\#(t)}]"#
    }

    @Test func theRosterNamesEveryDeviceTheSimulatorRuns() throws {
        let s = try gatewayScenario(duration: "2h")
        let roster = s.roster
        let messages = simulated(s)
        let devices = Set(messages.map { $0.topicString.split(separator: "/").prefix(5).joined(separator: "/") })
        #expect(devices.count == s.cities[0].facts.devices.values.reduce(0, +))
        #expect(roster.count > devices.count, "the devices and their concentrators")
        let a = try Aggregator(config: gatewayConfig(s))
        for m in messages { a.ingest(m) }
        #expect(a.counters.rejected == 0, "\(a.pending.deadLetters.first?.detail ?? "")")
        #expect(a.knownDevices == devices.count)
        #expect(a.counters.unknownDevices == 0)
    }

    @Test(arguments: [
        ("city/atlantis/environment/north/alm-aq-000001/attrs", RejectReason.unknownCity),
        ("city/almaty/environment/east/alm-aq-000001/attrs", .unknownDistrict),
        ("city/almaty/environment/north/alm-aq-999999/attrs", .unknownDevice),   // beyond the fleet
        ("city/almaty/environment/south/alm-aq-000000/attrs", .unknownDevice),   // a north station in the south
        ("city/almaty/environment/north/alm-aq-0000001/attrs", .unknownDevice),  // one digit too many
        ("city/almaty/environment/north/xyz-aq-000001/attrs", .unknownDevice),
        ("city/almaty/lighting/north/alm-aq-000001/attrs", .unknownDevice),      // a station id in another domain
        ("city/almaty/environment/north/alm-aq-000001x/status", .unknownDevice),
    ])
    func strangersAreRefusedAndLeaveNothing(_ topic: String, _ reason: RejectReason) throws {
        let s = try gatewayScenario(duration: "1h")
        let a = try Aggregator(config: gatewayConfig(s))
        let device = String(topic.split(separator: "/")[4])
        let payload = topic.hasSuffix("/status") ? "online" : Self.reading(device)
        #expect(a.ingest(topic, payload) == .rejected(reason), "\(a.pending.deadLetters.last?.detail ?? "")")
        #expect(a.knownDevices == 0)
        #expect(a.counters.invalid[reason] == 1)
        a.emitOpenWindows()
        let out = a.drain()
        #expect(out.windows.isEmpty && out.indicators.isEmpty)
        #expect(out.deadLetters.count == 1)
        // The station the roster names is taken.
        #expect(a.ingest("city/almaty/environment/north/alm-aq-000001/attrs", Self.reading("alm-aq-000001")) == .accepted)
    }

    /// 300 made-up stations reporting high PM2.5 in the city's own districts change no indicator.
    @Test func fakeStationsDoNotMoveIndicators() throws {
        let s = try gatewayScenario(duration: "1d")
        let messages = simulated(s)
        func indicators(fakes: Bool) -> [String: IndicatorValue] {
            let a = try! Aggregator(config: gatewayConfig(s))
            var all: [IndicatorValue] = []
            for (i, m) in messages.enumerated() {
                a.ingest(m)
                if fakes, i % 50 == 0 {
                    let n = (i / 50) % 300
                    let device = "alm-aq-\(String(900_000 + n))"
                    a.ingest("city/almaty/environment/\(n % 2 == 0 ? "north" : "south")/\(device)/attrs",
                             Self.reading(device, pm25: 480, seq: i + 1, at: m.eventTime))
                }
            }
            a.emitOpenWindows()
            all = a.drain().indicators
            return finalIndicators(all)
        }
        let clean = indicators(fakes: false), attacked = indicators(fakes: true)
        #expect(!clean.isEmpty)
        #expect(clean == attacked)
    }

    @Test func unknownDevicesAreTakenUpToTheCapWhenAllowed() throws {
        let s = try gatewayScenario(duration: "1h")
        var config = gatewayConfig(s)
        config.acceptUnknownDevices = true
        config.maxUnknownDevices = 2
        let a = try Aggregator(config: config)
        for n in 1...3 {
            let device = "probe-\(n)"
            let outcome = a.ingest("city/almaty/environment/north/\(device)/attrs", Self.reading(device))
            #expect(outcome == (n <= 2 ? .accepted : .rejected(.unknownDevice)))
        }
        #expect(a.counters.unknownDevices == 2)
        // Known devices are not held back by the cap, and the count survives a checkpoint.
        #expect(a.ingest("city/almaty/environment/north/alm-aq-000001/attrs", Self.reading("alm-aq-000001")) == .accepted)
        let restored = try Aggregator(config: config)
        try restored.restore(a.snapshot())
        #expect(restored.counters.unknownDevices == 2)
        #expect(restored.ingest("city/almaty/environment/north/probe-4/attrs", Self.reading("probe-4")) == .rejected(.unknownDevice))
        #expect(restored.ingest("city/almaty/environment/north/probe-1/attrs", Self.reading("probe-1", seq: 2, at: 1_768_158_060)) == .accepted)
        // An unknown city stays refused whatever the policy.
        #expect(a.ingest("city/atlantis/environment/north/x/attrs", Self.reading("x")) == .rejected(.unknownCity))
    }

    @Test func aRegistryFileAndDistrictsComeFromTheConfiguration() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("roster-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let csv = dir + "/devices.csv"
        try "device,city,domain,district\nst-1,springfield,environment,centre\nst-2,springfield,environment,docks\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let config = try GatewayConfig(yaml: """
            device-registry: \(csv)
            cities:
              - {id: springfield, population: 100000, area-km2: 40, districts: [centre, docks]}
            """, file: "gateway.yaml")
        #expect(config.roster.count == 2)
        let a = try Aggregator(config: config)
        #expect(a.ingest("city/springfield/environment/centre/st-1/attrs", Self.reading("st-1")) == .accepted)
        #expect(a.ingest("city/springfield/environment/docks/st-1/attrs", Self.reading("st-1")) == .rejected(.unknownDevice))
        #expect(a.ingest("city/springfield/environment/harbour/st-3/attrs", Self.reading("st-3")) == .rejected(.unknownDistrict))
        #expect(a.pending.deadLetters.last?.detail.contains("centre, docks") == true)
    }

    @Test(arguments: [
        ("city,domain,device\nx,water,m1\n", "needs the columns city,domain,district,device"),
        ("city,domain,district,device\nx,sewage,d,m1\n", "domain 'sewage' is not one of"),
        ("city,domain,district,device\nx,water,d\n", ":2: 3 fields, the header has 4"),
        ("city,domain,district,device\nx,water,d/e,m1\n", "non-empty topic levels"),
    ])
    func aBadRegistryIsRefusedWithItsLine(_ csv: String, _ message: String) {
        #expect(throws: RosterError.self) { try DeviceRoster(csv: csv, file: "devices.csv") }
        do { _ = try DeviceRoster(csv: csv, file: "devices.csv") } catch {
            #expect(error.description.contains(message), "\(error)")
            #expect(error.description.hasPrefix("devices.csv:"))
        }
    }
}
