import ArgumentParser
import CityRun
import Simulator
import Telemetry

/// `smartcity validate FILE`: checks a scenario and summarises what it would simulate.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a scenario file and summarise it (devices per family, messages per simulated hour).")

    @Argument(help: "Scenario file.") var scenario: String = "Scenarios/almaty.yaml"

    func run() throws {

        let loaded = try Scenario(contentsOf: scenario)
        print("\(scenario): valid (scenario '\(loaded.name)', hash \(loaded.hash))")
        print("seed \(loaded.seed), start \(Timestamps.format(loaded.start)), duration \(Durations.format(loaded.duration)), speed \(loaded.speed)")
        print("MQTT: QoS \(loaded.mqtt.qos), protocol \(loaded.mqtt.protocolVersion), topic \(loaded.mqtt.topic)"
              + (loaded.mqtt.broker.map { ", broker \($0)" } ?? ", broker from --broker or embedded"))
        for city in loaded.cities {
            print("city \(city.id) (\(city.name))\(city.synthetic ? " [synthetic figures]" : ""): population \(Int(city.population)), \(city.districts.count) districts, \(city.roadKm) km of roads")
        }
        let rows = loaded.fleetSummary()
        let table = TextTable(["city", "family", "devices", "of inventory", "interval", "msg / sim hour", "connections"])
        var devices = 0
        var perHour = 0.0
        var connections = 0
        for row in rows {
            let share = row.inventory.map { $0 > 0 ? " (\(Int((Double(row.devices) / Double($0) * 100).rounded())) %)" : "" } ?? ""
            table.add([row.city, row.family, "\(row.devices)", row.inventory.map { "\($0)\(share)" } ?? "-", Durations.format(row.interval),
                       String(Int(row.perHour.rounded())), "\(row.connections)"])
            devices += row.devices
            perHour += row.perHour
            connections += row.connections
        }
        table.add(["total", "", "\(devices)", "", "", String(Int(perHour.rounded())), "\(connections)"])
        print(table.render())
        print("messages per simulated day: \(Int((perHour * 24).rounded()))")
        for fault in loaded.faults {
            let window = fault.duration.map { "for \(Durations.format($0))" } ?? "to the end"
            print("fault \(fault.kind.rawValue): \(Int(fault.share * 100 * 10) / 10)% of \(fault.family?.rawValue ?? "all") devices from +\(Durations.format(fault.start)) \(window)")
        }
    }
}
