import Foundation
@testable import Simulator
import Telemetry
import Testing
import TestSupport

@Suite struct FaultTests {
    let fleets = """
              mobility: {count: 20, interval: 5m}
              lighting: {count: 20, interval: 15m}
              waste: {count: 20, interval: 30m}
              water: {count: 20, interval: 30m, network-sensors-per-district: 1}
              environment: {count: 20, interval: 5m, connection: device}
        """

    func run(_ fault: String, duration: String = "12h") throws -> (messages: [SimMessage], readings: [DecodedMessage], stats: SimulationStats) {
        let s = try scenario(testScenarioYAML(duration: duration, fleets: fleets, faults: fault))
        let generator = Generator(scenario: s)
        var all: [SimMessage] = []
        while generator.next() { all.append(generator.message) }
        return (all, all.compactMap(decode), generator.stats)
    }

    func byDevice(_ readings: [DecodedMessage]) -> [String: [DecodedMessage]] { Dictionary(grouping: readings, by: \.device) }

    @Test func stuckSensorsRepeatTheirValues() throws {
        let (_, readings, stats) = try run("  - {kind: stuck, family: environment, share: 0.5, start: 2h, duration: 4h}")
        #expect(stats.faults[.stuck, default: 0] > 0)
        let start = readings.map(\.time).min()!
        var stuckDevices = 0
        for (_, series) in byDevice(readings.filter { $0.topic.contains("/environment/") }) {
            let window = series.filter { $0.time >= start + 7200 && $0.time < start + 6 * 3600 }
            if Set(window.map { $0.values["pm25"]! }).count == 1 && window.count > 10 {
                stuckDevices += 1
                // Outside the window the values move again.
                let after = series.filter { $0.time >= start + 6 * 3600 }
                #expect(Set(after.map { $0.values["pm25"]! }).count > 1)
            }
        }
        #expect(stuckDevices >= 4 && stuckDevices <= 16)
    }

    @Test func driftingSensorsDriftAway() throws {
        let clean = try run("", duration: "2d").readings.filter { $0.topic.contains("/environment/") }
        let drift = try run("  - {kind: drifting, family: environment, share: 1, magnitude: 1}", duration: "2d").readings
            .filter { $0.topic.contains("/environment/") }
        #expect(clean.count == drift.count)
        let late = zip(clean, drift).filter { $0.0.time - clean[0].time > 86400 }
        // After a day the drifted values are about twice the clean ones.
        let ratio = late.map { $0.1.values["no2"]! / $0.0.values["no2"]! }.reduce(0, +) / Double(late.count)
        #expect(ratio > 1.8 && ratio < 3.2)
    }

    @Test func spikesStandOut() throws {
        let clean = try run("").readings.filter { $0.topic.contains("/mobility/") }
        let spiky = try run("  - {kind: spiking, family: mobility, share: 1, probability: 0.1, magnitude: 20}").readings
            .filter { $0.topic.contains("/mobility/") }
        let spikes = zip(clean, spiky).filter { pair in
            pair.0.values.contains { name, value in
                let other = pair.1.values[name]!
                return value > 0 && name != "seq" && name != "sent" && other / value > 10
            }
        }
        #expect(spikes.count > clean.count / 20 && spikes.count < clean.count / 5)
    }

    @Test func silentDevicesSendNothingInTheirWindow() throws {
        let (_, readings, stats) = try run("  - {kind: silent, family: waste, share: 1, start: 3h, duration: 3h}")
        let waste = readings.filter { $0.topic.contains("/waste/") }
        let start = readings.map(\.time).min()!
        #expect(waste.filter { $0.time >= start + 3 * 3600 && $0.time < start + 6 * 3600 }.isEmpty)
        #expect(!waste.filter { $0.time >= start + 6 * 3600 }.isEmpty)
        #expect(stats.faults[.silent, default: 0] == 20 * 6)
    }

    @Test func batterySagDrainsAndSilences() throws {
        let (_, readings, _) = try run("  - {kind: battery-sag, family: water, share: 1, magnitude: 2}", duration: "1d")
        let meters = byDevice(readings.filter { $0.values["waterConsumption"] != nil })
        #expect(meters.count == 20)
        for (_, series) in meters {
            let battery = series.map { $0.values["batteryLevel"]! }
            #expect(zip(battery, battery.dropFirst()).allSatisfy { $0 >= $1 })
            #expect(battery.last! < 0.2)
            // Once flat, the meter goes quiet for the rest of the day.
            #expect(series.last!.time < readings.map(\.time).max()! - 3600)
        }
    }

    @Test func rebootsAnnounceThemselvesAndResetRegisters() throws {
        let (messages, readings, stats) = try run("  - {kind: reboot, family: water, share: 1, start: 1h, duration: 10h, magnitude: 120}", duration: "1d")
        #expect(stats.faults[.reboot, default: 0] >= 20)
        let statuses = messages.filter { $0.kind == .status && $0.topicString.contains("/water/") }
        let offline = statuses.filter { $0.payloadString == "offline" && $0.abrupt }
        #expect(offline.count >= 20)
        // After the reboot each meter's register restarted near zero.
        for (_, series) in byDevice(readings.filter { $0.values["waterConsumption"] != nil }) {
            let values = series.map { $0.values["waterConsumption"]! }
            #expect(zip(values, values.dropFirst()).contains { $1 < $0 && $1 < 100 }, "\(series[0].device): \(values)")
        }
        // Every abrupt offline is followed by an online for the same device.
        for message in offline {
            #expect(statuses.contains { $0.topic == message.topic && $0.payloadString == "online" && $0.sendTime > message.sendTime })
        }
    }

    @Test func reconnectStormsDropManyDevicesAtOnce() throws {
        let (messages, _, stats) = try run("  - {kind: reconnect-storm, family: environment, share: 1, start: 4h, duration: 30m, magnitude: 30}")
        #expect(stats.faults[.reconnectStorm, default: 0] == 20)
        let drops = messages.filter { $0.abrupt }
        #expect(drops.count == 20)
        let times = drops.map(\.sendTime)
        #expect(times.max()! - times.min()! <= 10 * 60 * 1000)
    }

    @Test func duplicatesRepeatTheExactMessage() throws {
        let (messages, _, stats) = try run("  - {kind: duplicate, share: 1, probability: 0.1}")
        let telemetry = messages.filter { $0.kind == .telemetry }
        let pairs = zip(telemetry, telemetry.dropFirst()).filter { $0.0.payload == $0.1.payload }
        #expect(pairs.count == stats.faults[.duplicate])
        #expect(pairs.count > telemetry.count / 20)
    }

    @Test func delayedMessagesArriveLateAndOutOfOrder() throws {
        let (messages, readings, stats) = try run("  - {kind: delayed, family: mobility, share: 1, probability: 0.2, magnitude: 1800}")
        let late = readings.filter { $0.sent > Double($0.time) + 1 }
        #expect(late.count == stats.faults[.delayed])
        #expect(late.count > 100)
        let times = messages.filter { $0.kind == .telemetry }.map(\.eventTime)
        let inversions = zip(times, times.dropFirst()).filter { $0.0 > $0.1 }.count
        #expect(inversions > 50)
    }

    @Test func everyDeviceAnnouncesOnlineAndHasOfflineAtTheEnd() throws {
        let (messages, readings, _) = try run("", duration: "1h")
        let devices = Set(readings.map(\.device))
        let online = messages.filter { $0.kind == .status && $0.payloadString == "online" }
        let offline = messages.filter { $0.kind == .status && $0.payloadString == "offline" }
        #expect(online.count == 20 * 5 + 2)
        #expect(offline.count == online.count)
        #expect(online.allSatisfy { $0.retain })
        #expect(devices.count <= online.count)
    }
}
