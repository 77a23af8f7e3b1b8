import ArgumentParser
import CMosquittoBaseline
import CPlatform
import Foundation
import IndexEngine
import MQTT
import EmbeddedBroker
import Simulator
import Telemetry

/// `smartcity bench sim`: the simulator's generation speed, memory per device and publish
/// rate, each against a baseline measured in the same run.
struct BenchSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Measure offline generation (msg/s), model memory per device, and publishing against the C baseline.")

    @Option(help: "Scenario whose fleets are generated.")
    var scenario: String = "Scenarios/almaty.yaml"

    @Option(help: "Simulated length for the offline generation run.")
    var duration: String = "1d"

    @Option(help: "Devices for the memory measurement.")
    var devices: Int = 1_000_000

    @Option(help: "Simulated length whose messages the publishing part sends.")
    var publishDuration: String = "1h"

    @Option(help: "Alternating rounds of the publishing part; the median ratio is reported.")
    var rounds: Int = 3

    @Option(help: "QoS levels for the publishing part, comma-separated.")
    var qos: String = "0,1"

    @Option(help: "Parts to run, comma-separated: generate, memory, publish, defined (a YAML-defined family against the built-in one it imitates).")
    var parts: String = "generate,memory,publish"

    @Option(help: "The publishing part publishes part i of n of the fleet, e.g. 0/21 (its connections must fit the open-file limit).")
    var shard: String = "0/1"

    func run() async throws {
        let selected = Set(parts.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) })
        var loaded = try Scenario(contentsOf: scenario)
        guard let seconds = Durations.parse(duration) else { throw ValidationError("--duration '\(duration)' is not a duration") }
        loaded.duration = seconds
        if selected.contains("generate") { generate(loaded) }
        if selected.contains("memory") { memory(loaded) }
        if selected.contains("publish") { try await publish(loaded) }
        if selected.contains("defined") { try DefinedFamilyBench.run(stations: 2000, duration: duration, rounds: rounds, generation: true, aggregation: false) }
    }

    // MARK: Offline generation

    /// Generates the scenario without output; the baseline encodes the same SenML records with
    /// Foundation's JSONEncoder, as a straightforward implementation would.
    func generate(_ scenario: Scenario) {
        let clock = ContinuousClock()
        let began = clock.now
        let generator = Generator(scenario: scenario, includeStatus: false)
        let setup = clock.now - began
        var bytes = 0
        var sample: [[UInt8]] = []
        while generator.next() {
            bytes &+= generator.message.payload.count
            if sample.count < 100_000, generator.stats.messages % 7 == 0 { sample.append(generator.message.payload) }
        }
        let elapsed = (clock.now - began).seconds
        let count = generator.stats.messages
        let rate = Double(count) / elapsed

        // Baseline: decode the sampled payloads into records once, then time JSONEncoder on them.
        struct Record: Codable {
            var bn: String?
            var bt: Double?
            var n: String
            var u: String?
            var v: Double?
            var s: Double?
            var vb: Bool?
            var vs: String?
        }
        let decoder = JSONDecoder()
        let records = sample.compactMap { try? decoder.decode([Record].self, from: Data($0)) }
        let encoder = JSONEncoder()
        let baselineStart = clock.now
        var baselineBytes = 0
        for message in records { baselineBytes &+= (try? encoder.encode(message).count) ?? 0 }
        let baselineRate = Double(records.count) / (clock.now - baselineStart).seconds

        print("bench sim generate: \(scenario.name), \(Durations.format(scenario.duration)) simulated, \(generator.stats.devices) devices")
        print("  generated \(count) messages (\(bytes / max(1, count)) B average SenML payload) in \(fmt(elapsed, 2)) s (setup \(fmt(setup.seconds, 2)) s): \(Int(rate)) msg/s")
        print("  baseline JSONEncoder on \(records.count) of the same messages: \(Int(baselineRate)) msg/s")
        print("  ratio generated / baseline: \(fmt(rate / baselineRate, 1))x")
    }

    // MARK: Memory

    /// Heap memory held by a fleet of `devices` street lights (the largest family) per device:
    /// model state, schedule, sequence number. The baseline allocates `devices` 64-byte
    /// elements in one array and is measured the same way, as a check of the method.
    func memory(_ scenario: Scenario) {
        var big = scenario
        guard var city = big.cities.first else { return }
        var fleets = Fleets()
        var lighting = city.fleets.lighting ?? Fleets.Lighting(fleet: FleetSettings(count: devices, interval: 3600))
        lighting.fleet.count = devices
        fleets.lighting = lighting
        city.fleets = fleets
        big.cities = [city]
        big.faults = []
        big.duration = 3600

        let before = residentBytes()
        var generator: Generator? = Generator(scenario: big, includeStatus: false)
        // Run a little so every state is touched.
        for _ in 0..<10_000 { _ = generator!.next() }
        let after = residentBytes()
        let perDevice = Double(after - before) / Double(devices)
        generator = nil

        let baseBefore = residentBytes()
        var blocks = [SIMD8<Double>](repeating: SIMD8(repeating: 1), count: devices)
        blocks[devices / 2] = SIMD8(repeating: 2)
        let baseAfter = residentBytes()
        let basePerDevice = Double(baseAfter - baseBefore) / Double(devices)
        print("bench sim memory: \(devices) devices")
        print("  simulator: \(fmt(perDevice, 1)) B per device (model state, schedule and sequence number)")
        print("  baseline 64 B per element array: \(fmt(basePerDevice, 1)) B per element (measurement check)")
        print("  ratio: \(fmt(perDevice / basePerDevice, 2)) x a 64-byte record")
        _ = blocks.count
    }

    /// Bytes the allocator has handed out (small chunks plus mmapped blocks): unlike the
    /// resident size it drops when memory is freed, so measurements in one process stay apart.
    func residentBytes() -> Int {
        Int(csys_heap_bytes())
    }

    // MARK: Publishing

    /// The scenario's first `publishDuration` of messages through its concentrators at --speed
    /// max, received by one subscriber, against the C baseline publishing as many messages of
    /// the same average size over one connection.
    func publish(_ scenario: Scenario) async throws {
        let levels = try QoS.levels(parsing: qos)
        guard let seconds = Durations.parse(publishDuration) else { throw ValidationError("--publish-duration '\(publishDuration)' is not a duration") }
        guard let part = Shard(parsing: shard) else { throw ValidationError("--shard '\(shard)' must be i/n with 0 <= i < n, e.g. 0/4") }
        var run = scenario
        run.speed = .max
        run.duration = seconds
        // The messages themselves and their connections, for the C publisher over the same
        // connections (a Publisher that is never connected gives the layout).
        let probe = Generator(scenario: run, shard: part, includeStatus: false)
        var spread = SpreadMessages()
        let connections: Int
        do {
            let layout = try Publisher(generator: Generator(scenario: run, shard: part, includeStatus: false), broker: BrokerURL(host: "127.0.0.1", port: 1))
            while probe.next() { spread.append(probe.message, connection: layout.connection(fleet: probe.message.fleet, device: probe.message.device)) }
            connections = layout.connectionCount
            await layout.close()
        }
        let count = probe.stats.messages
        let payloadBytes = max(16, spread.payloads.count / max(1, count))
        let broker = try await EmbeddedBroker.start()
        defer { broker.stop() }
        print("bench sim publish: \(count) messages (\(Durations.format(seconds)) of \(run.name), \(payloadBytes) B average), embedded broker")
        // Rounds alternate (C baseline, C over the same connections, simulator), so a slower
        // or faster spell of a noisy machine falls on all of them; each round gives a ratio.
        for level in levels {
            run.mqtt.qos = Int(level.rawValue)
            var baseline: [Double] = [], simulator: [Double] = [], ratios: [Double] = [], sameRatios: [Double] = []
            for round in 0..<rounds {
                let cpu = CPUMeter(broker: broker.processID)
                let c = try await CBaseline.run(url: broker.url, topic: "bench/c/\(level.rawValue)/\(round)", qos: level,
                                                messages: count, payloadBytes: payloadBytes, window: run.mqtt.inflight,
                                                idleTimeout: 3, latencies: false)
                let cRate = Double(c.received) / c.elapsed
                baseline.append(cRate)
                print("  QoS \(level.rawValue) round \(round + 1): C baseline \(Int(cRate)) msg/s (\(c.received) of \(count) delivered over one connection), \(cpu.perMessage(count))")
                // QoS 0 only: the same messages, in the same order, over the same connections,
                // from a plain C program writing each message as it is published.
                var sameRate: Double?
                if level == .atMostOnce {
                    let (rate, delivered, used) = try spread.publish(broker: broker, connections: connections)
                    sameRate = rate
                    print("  QoS 0 round \(round + 1): C over the same \(connections) connections \(Int(rate)) msg/s (\(delivered) of \(count) delivered), \(used)")
                }
                let (rate, delivered, used) = try await publishRound(run, shard: part, broker: broker, level: level, count: count)
                simulator.append(rate)
                ratios.append(rate / cRate)
                if let sameRate { sameRatios.append(rate / sameRate) }
                print("  QoS \(level.rawValue) round \(round + 1): simulator \(Int(rate)) msg/s over \(connections) connections (\(delivered) of \(count) delivered), \(used); ratio \(fmt(rate / cRate, 2))")
            }
            print("  QoS \(level.rawValue): median simulator \(Int(Statistics.median(simulator))) msg/s, median C baseline \(Int(Statistics.median(baseline))) msg/s, median ratio \(fmt(Statistics.median(ratios), 2)) (rounds: \(ratios.map { fmt($0, 2) }.joined(separator: ", ")))")
            if !sameRatios.isEmpty {
                print("  QoS 0: simulator / C over the same connections, median \(fmt(Statistics.median(sameRatios), 2)) (rounds: \(sameRatios.map { fmt($0, 2) }.joined(separator: ", ")))")
            }
        }
    }

    /// One simulator round through the broker, received by the baseline's own C subscriber so
    /// only the publisher differs: (msg/s, delivered, CPU).
    func publishRound(_ run: Scenario, shard: Shard, broker: EmbeddedBroker, level: QoS, count: Int) async throws -> (Double, Int, String) {
        let subscriber = try startCSubscriber(host: broker.host, port: broker.port, qos: level)
        let publisher = try Publisher(generator: Generator(scenario: run, shard: shard, includeStatus: false), broker: broker.url)
        try await publisher.connect()
        let cpu = CPUMeter(broker: broker.processID)
        let start = scb_now_ns()
        _ = try await publisher.run { _ in }
        var received = scb_result()
        scb_subscriber_wait(subscriber, UInt64(count), 3_000, &received)
        let used = cpu.perMessage(count)
        scb_subscriber_stop(subscriber)
        await publisher.close()
        let delivered = Int(received.received)
        if level != .atMostOnce, delivered != count {
            throw ValidationError("QoS \(level.rawValue): \(count - delivered) of \(count) messages were lost")
        }
        return (Double(delivered) / (Double(received.elapsed_ns &- start) / 1e9), delivered, used)
    }
}

/// Messages laid out for the C publisher: NUL-terminated topics, payloads and connections.
struct SpreadMessages {
    var topics: [UInt8] = []
    var topicOffsets: [Int] = []
    var payloads: [UInt8] = []
    var payloadOffsets: [Int] = [0]
    var connectionOf: [Int32] = []

    mutating func append(_ message: SimMessage, connection: Int) {
        topicOffsets.append(topics.count)
        topics.append(contentsOf: message.topic)
        topics.append(0)
        payloads.append(contentsOf: message.payload)
        payloadOffsets.append(payloads.count)
        connectionOf.append(Int32(connection))
    }

    /// One round through the broker, received by the C subscriber: (msg/s, delivered, CPU).
    func publish(broker: EmbeddedBroker, connections: Int) throws -> (Double, Int, String) {
        let subscriber = try startCSubscriber(host: broker.host, port: broker.port, qos: .atMostOnce)
        let cpu = CPUMeter(broker: broker.processID)
        let start = scb_now_ns()
        var result = scb_result()
        topics.withUnsafeBufferPointer { t in
            topicOffsets.withUnsafeBufferPointer { to in
                payloads.withUnsafeBufferPointer { p in
                    payloadOffsets.withUnsafeBufferPointer { po in
                        connectionOf.withUnsafeBufferPointer { c in
                            t.withMemoryRebound(to: CChar.self) { tc in
                                scb_publish_spread(broker.host, Int32(broker.port), Int32(connections), connectionOf.count,
                                                   tc.baseAddress, to.baseAddress, p.baseAddress, po.baseAddress,
                                                   c.baseAddress, &result)
                            }
                        }
                    }
                }
            }
        }
        var received = scb_result()
        scb_subscriber_wait(subscriber, UInt64(connectionOf.count), 3_000, &received)
        let used = cpu.perMessage(connectionOf.count)
        scb_subscriber_stop(subscriber)
        if result.rc != 0 {
            throw ValidationError("C publisher over many connections: \(result.message)")
        }
        let rate = Double(received.received) / (Double(received.elapsed_ns &- start) / 1e9)
        return (rate, Int(received.received), used)
    }
}

/// CPU time used by this process (publisher and subscriber) and by the broker since creation.
struct CPUMeter {
    let broker: pid_t
    let ownStart: Double
    let brokerStart: Double
    let segmentsStart = tcpSegments()

    init(broker: pid_t) {
        self.broker = broker
        ownStart = cpuSeconds(of: getpid())
        brokerStart = cpuSeconds(of: broker)
    }

    /// "CPU per message: X µs here, Y µs broker".
    func perMessage(_ count: Int) -> String {
        let own = (cpuSeconds(of: getpid()) - ownStart) / Double(max(1, count)) * 1e6
        let brokerCPU = (cpuSeconds(of: broker) - brokerStart) / Double(max(1, count)) * 1e6
        return "CPU per message \(fmt(own, 1)) µs in this process, \(fmt(brokerCPU, 1)) µs in the broker, \(fmt(Double(tcpSegments() - segmentsStart) / Double(max(1, count)), 2)) TCP segments per message"
    }
}

func tcpSegments() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/net/snmp", encoding: .utf8) else { return 0 }
    let lines = text.split(separator: "\n").filter { $0.hasPrefix("Tcp:") }
    guard lines.count == 2 else { return 0 }
    let names = lines[0].split(separator: " "), values = lines[1].split(separator: " ")
    guard let i = names.firstIndex(of: "OutSegs"), i < values.count else { return 0 }
    return Int(values[i]) ?? 0
}

func fmt(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }
