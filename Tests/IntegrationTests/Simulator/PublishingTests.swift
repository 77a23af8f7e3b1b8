import Foundation
import MQTT
import EmbeddedBroker
@testable import Simulator
import Telemetry
import Synchronization
import Testing
import TestSupport

extension Integration {
@Suite struct PublishingTests {
    /// Every message of a run reaches a subscriber at QoS 1, through concentrators and
    /// per-device connections, with the devices' statuses retained.
    @Test func publishedRunDeliversEveryMessageAtQoS1() async throws {
        let broker = try await EmbeddedBroker.start()
        defer { broker.stop() }
        let s = try scenario(testScenarioYAML(duration: "3h", faults: "  - {kind: duplicate, share: 0.5, probability: 0.2}"))
        let expected = messages(s).filter { $0.kind == .telemetry }
        let counter = Received()
        let subscriber = try MQTTClient(ConnectionOptions(host: broker.host, port: broker.port, clientID: "observer")) { message in
            counter.add(message)
        }
        try await subscriber.connect()
        _ = try await subscriber.subscribe("city/#", qos: .atLeastOnce)

        let generator = Generator(scenario: s)
        let publisher = try Publisher(generator: generator, broker: broker.url)
        // Concentrators: traffic 2 districts, lighting 2 + 1 cabinets of 10, waste 2, meters 2,
        // network 2; air-quality stations one each.
        #expect(publisher.connectionCount == 2 + 3 + 2 + 2 + 2 + 4)
        try await publisher.connect()
        let outcome = try await publisher.run { _ in }
        #expect(outcome.unacknowledged == 0)
        #expect(outcome.refused == 0)
        await publisher.close()
        // Wait until the subscriber has the last expected message.
        try await counter.wait(for: expected.count, timeout: .seconds(30))
        await subscriber.disconnect()
        let got = counter.telemetry
        #expect(got.count == expected.count)
        #expect(got.sorted() == expected.map { $0.topicString + " " + $0.payloadString }.sorted())
    }

    /// New connections leave at the scenario's rate, and a load profile's active share keeps
    /// the other devices quiet: their readings are left out, counted, and nothing else is lost.
    @Test func connectionsFollowTheRateAndTheProfileItsShare() async throws {
        let broker = try await EmbeddedBroker.start()
        defer { broker.stop() }
        var s = try scenario(testScenarioYAML(duration: "6h"))
        s.mqtt.connectRate = 10
        s.load = LoadProfile(clock: .wall, stages: [LoadProfile.Stage(at: 0, length: 1, speed: (20_000, 20_000), active: (0.5, 0.5))])
        let expected = messages(s, status: false).count
        let counter = Received()
        let subscriber = try MQTTClient(ConnectionOptions(host: broker.host, port: broker.port, clientID: "load-observer")) { counter.add($0) }
        try await subscriber.connect()
        _ = try await subscriber.subscribe("city/#", qos: .atLeastOnce)
        let publisher = try Publisher(generator: Generator(scenario: s, includeStatus: false), broker: broker.url)
        let took = try await publisher.connect()
        #expect(took >= .seconds(Double(publisher.connectionCount - 1) / 10 * 0.95), "\(publisher.connectionCount) connections at 10/s took \(took)")
        let outcome = try await publisher.run { _ in }
        await publisher.close()
        #expect(outcome.leftOut > expected / 3 && outcome.leftOut < expected * 2 / 3, "\(outcome.leftOut) of \(expected)")
        #expect(outcome.published + outcome.leftOut == expected)
        try await counter.wait(for: outcome.published, timeout: .seconds(30))
        await subscriber.disconnect()
        #expect(counter.telemetry.count == outcome.published)
    }

    /// A broker that takes fewer connections than the scenario needs: the error says how many
    /// got in and where the limit may be.
    @Test func aBrokerFullOfConnectionsSaysHowManyGotIn() async throws {
        var configuration = EmbeddedBroker.Configuration()
        configuration.extraLines = ["max_connections 5"]
        let broker = try await EmbeddedBroker.start(configuration)
        defer { broker.stop() }
        var s = try scenario(testScenarioYAML(duration: "1h"))
        s.mqtt.handshakes = 1
        let publisher = try Publisher(generator: Generator(scenario: s), broker: broker.url)
        do {
            try await publisher.connect()
            Issue.record("\(publisher.connectionCount) connections to a broker that takes 5")
        } catch {
            #expect(error.description.contains("after 5 of \(publisher.connectionCount) connections"), "\(error)")
            #expect(error.description.contains("max_connections"))
        }
        await publisher.close()
    }

    /// A fleet larger than one address's ports leaves from several: the scenario's source
    /// addresses, so many connections each, as the kernel's socket table shows; one more
    /// connection than they hold is refused before any is made.
    @Test func connectionsLeaveFromTheSourceAddresses() async throws {
        let broker = try await EmbeddedBroker.start()
        defer { broker.stop() }
        var s = try scenario(testScenarioYAML(duration: "1h"))
        s.mqtt.sourceAddresses = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        s.mqtt.connectionsPerAddress = 6
        let publisher = try Publisher(generator: Generator(scenario: s), broker: broker.url)
        #expect(publisher.connectionCount == 15)
        try await publisher.connect()
        let sockets = try shell("ss -Htn state established '( dport = :\(broker.port) )'", in: FileManager.default.temporaryDirectory)
        let local = sockets.split(separator: "\n").compactMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst(2).first }
            .map { String($0.split(separator: ":").first!) }
        var perAddress: [String: Int] = [:]
        for address in local { perAddress[address, default: 0] += 1 }
        #expect(perAddress == ["127.0.0.2": 6, "127.0.0.3": 6, "127.0.0.4": 3], "\(sockets)")
        await publisher.close()
        s.mqtt.connectionsPerAddress = 4
        #expect(throws: SimulationError.self) { try Publisher(generator: Generator(scenario: s), broker: broker.url) }
    }

    @Test func coalescedWritesKeepEveryDeviceInOrder() async throws {
        let broker = try await EmbeddedBroker.start()
        defer { broker.stop() }
        var s = try scenario(testScenarioYAML(duration: "6h"))
        s.mqtt.qos = 0
        s.mqtt.coalesce = 600
        let expected = messages(s, status: false).count
        let counter = Received()
        let subscriber = try MQTTClient(ConnectionOptions(host: broker.host, port: broker.port, clientID: "order-observer")) { message in
            counter.add(message)
        }
        try await subscriber.connect()
        _ = try await subscriber.subscribe("city/#", qos: .atMostOnce)
        let publisher = try Publisher(generator: Generator(scenario: s, includeStatus: false), broker: broker.url)
        try await publisher.connect()
        _ = try await publisher.run { _ in }
        await publisher.close()
        try await counter.wait(for: expected, timeout: .seconds(30))
        await subscriber.disconnect()
        // Arrival order per device: sequence numbers and send times only grow.
        var latest: [String: (sequence: Int, sent: Double)] = [:]
        for line in counter.telemetry {
            let device = String(line.split(separator: "/")[4])
            let sent = number(after: "\"n\":\"sent\",\"u\":\"s\",\"v\":", in: line)
            let sequence = Int(number(after: "\"n\":\"seq\",\"v\":", in: line))
            let previous = latest[device] ?? (-1, 0)
            #expect(sequence > previous.sequence && sent >= previous.sent, "\(device) out of order")
            latest[device] = (sequence, sent)
        }
        #expect(counter.telemetry.count == expected)
    }

    @Test func unreachableBrokerFailsClearly() async throws {
        let s = try scenario(testScenarioYAML(duration: "1h"))
        let publisher = try Publisher(generator: Generator(scenario: s), broker: BrokerURL(host: "127.0.0.1", port: 1))
        await #expect(throws: SimulationError.self) { try await publisher.connect() }
        do {
            try await publisher.connect()
        } catch {
            #expect(error.description.contains("check the broker URL"))
        }
        await publisher.close()
    }
}
}

final class Received: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    private var waiters: [(Int, CheckedContinuation<Void, Never>)] = []

    func add(_ message: MQTTMessage) {
        guard message.topic.hasSuffix("/attrs") else { return }
        lock.lock()
        items.append(message.topic + " " + message.text)
        let count = items.count
        let ready = waiters.filter { $0.0 <= count }
        waiters.removeAll { $0.0 <= count }
        lock.unlock()
        for waiter in ready { waiter.1.resume() }
    }

    /// Wakes every waiter (on timeout); the caller then checks what arrived.
    func releaseAll() {
        lock.lock()
        let all = waiters
        waiters.removeAll()
        lock.unlock()
        for waiter in all { waiter.1.resume() }
    }

    var telemetry: [String] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }

    func wait(for count: Int, timeout: Duration) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    self.lock.lock()
                    if self.items.count >= count {
                        self.lock.unlock()
                        continuation.resume()
                    } else {
                        self.waiters.append((count, continuation))
                        self.lock.unlock()
                    }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                self.releaseAll()
            }
            try await group.next()
            group.cancelAll()
        }
    }
}

/// The number after `key` in `text`.
private func number(after key: String, in text: String) -> Double {
    guard let range = text.range(of: key) else { return .nan }
    return Double(text[range.upperBound...].prefix { "0123456789.-e".contains($0) }) ?? .nan
}

extension Integration.PublishingTests {
    /// A connection takes two open files; the check before connecting counts both, so a run
    /// under a tight limit is refused with the limit to set instead of failing half-connected.
    @Test func theOpenFileCheckCountsTwoPerConnection() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try testScenarioYAML(duration: "1h", fleets: "      environment: {count: 200, interval: 10m, connection: device}")
            .write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        // 200 connections: 264 files by one per connection, 464 by two; the limit is 300.
        let (status, output) = try shellStatus("ulimit -n 300 && exec '\(ChildProcess.executable.path)' simulate s.yaml --broker mqtt://127.0.0.1:1",
                                               in: URL(fileURLWithPath: dir))
        #expect(status != 0)
        if output.contains("connecting the simulated devices failed") {
            // A process that may raise its hard limit (CAP_SYS_RESOURCE) did so and went on to
            // the broker, which is not there.
            #expect(!output.contains("open files"), "\(output)")
        } else {
            #expect(output.contains("needs 200 MQTT connections, 464 open files"), "\(output)")
            #expect(output.contains("(118 connections fit)") && output.contains("ulimit -n"), "\(output)")
        }
    }
}

extension Integration.PublishingTests {
    /// MQTT 5: a broker whose ACL denies a topic still acknowledges the publish, with reason
    /// 0x87; those publishes are counted as refused by the broker, by reason, not as delivered.
    @Test func publishesTheBrokerRefusesAreCountedByReason() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("acl-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Every domain but lighting.
        try ["mobility", "waste", "water", "environment"].map { "topic readwrite city/+/\($0)/#" }.joined(separator: "\n")
            .write(toFile: dir + "/acl", atomically: true, encoding: .utf8)
        let broker = try await EmbeddedBroker.start(.init(extraLines: ["acl_file \(dir)/acl"]))
        defer { broker.stop() }
        let yaml = testScenarioYAML(duration: "2h").replacingOccurrences(of: "  qos: 1", with: "  qos: 1\n  protocol: \"5\"")
        let s = try scenario(yaml)
        let lighting = messages(s).filter { $0.topicString.contains("/lighting/") }.count
        let publisher = try Publisher(generator: Generator(scenario: s), broker: broker.url)
        try await publisher.connect()
        let outcome = try await publisher.run { _ in }
        await publisher.close()
        #expect(lighting > 0)
        #expect(outcome.refusedByBroker == ["Not authorized": lighting], "\(outcome.refusedByBroker)")
        #expect(outcome.unacknowledged == 0)
    }
}

extension Integration.PublishingTests {
    /// Two simulators of one scenario on one broker use the same client ids, and the broker
    /// closes the older connection of each id in turn. They back off instead of taking turns
    /// every 200 ms for the whole run, and the run says why.
    @Test func twoSimulatorsWithTheSameClientIDsBackOffAndSaySo() async throws {
        let broker = try await EmbeddedBroker.start(.init())
        defer { broker.stop() }
        let s = try scenario(testScenarioYAML(duration: "2h").replacingOccurrences(of: "duration: 2h", with: "duration: 2h\nspeed: 900"))
        let told = Mutex<[String]>([])
        let publishers = try (0..<2).map { _ in try Publisher(generator: Generator(scenario: s), broker: broker.url) }
        for publisher in publishers {
            publisher.onBrokerEvent = { line in told.withLock { $0.append(line) } }
            try await publisher.connect()
        }
        let outcomes = try await withThrowingTaskGroup(of: Publisher.Outcome.self) { group in
            for publisher in publishers {
                nonisolated(unsafe) let publisher = publisher
                group.addTask { try await publisher.run { _ in } }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for publisher in publishers { await publisher.close() }
        let taken = outcomes.reduce(0) { $0 + $1.takenOver }
        let connections = publishers[0].connectionCount
        #expect(taken > 0, "the repeated losses are counted")
        // 8 s of run: at most about 6 reconnects per client with the backoff (one every 200 ms
        // without it: some 40).
        #expect(taken <= 12 * connections, "\(taken) takeovers on \(connections) connections")
        #expect(told.withLock { $0 }.contains { $0.contains("same client ids") && $0.contains("--client-prefix") }, "\(told.withLock { $0 })")
    }
}
