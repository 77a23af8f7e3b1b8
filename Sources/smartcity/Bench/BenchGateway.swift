import ArgumentParser
import CityRun
import CMosquittoBaseline
import CPlatform
import Foundation
import Gateway
import PostgresStore
import Logging
import MQTT
import EmbeddedBroker
import Simulator
import Telemetry

/// `smartcity bench gateway`: ingest speed offline, memory over a long stream, and keeping up
/// with a plain C subscriber through the broker, each against a baseline in the same run.
struct BenchGateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Measure offline ingest (msg/s), memory over a long stream, and broker ingest against a C subscriber.")

    @Option(help: "Scenario whose messages are ingested.")
    var scenario: String = "Scenarios/almaty.yaml"

    @Option(help: "Simulated length of the offline ingest run.")
    var duration: String = "6h"

    @Option(help: "Messages streamed through the aggregator for the memory part.")
    var memoryMessages: Int = 10_000_000

    @Option(help: "Messages published through the broker per round.")
    var brokerMessages: Int = 200_000

    @Option(help: "Alternating rounds of the broker part; the median ratio is reported.")
    var rounds: Int = 3

    @Option(help: "The store part: a PostgreSQL server (postgres://user@host:port/database) whose tables it empties and fills.")
    var postgres: String?

    @Option(help: "Parts to run, comma-separated: ingest, memory, broker, checkpoint, defined (a YAML-defined family against the built-in one it imitates), formats (flat JSON and NGSI-LD against SenML), store (PostgreSQL against SQLite; needs --postgres), partitions (two gateways splitting the city against one, through the broker; needs --postgres).")
    var parts: String = "ingest,memory,broker"

    func run() async throws {
        let selected = Set(parts.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) })
        let loaded = try Scenario(contentsOf: scenario)
        var config = GatewayConfig(scenario: loaded)
        config.lateness = 3600
        if selected.contains("ingest") { try ingest(loaded, config) }
        if selected.contains("memory") { try memory(loaded, config) }
        if selected.contains("broker") { try await broker(loaded, config) }
        if selected.contains("checkpoint") { try checkpoint(loaded, config) }
        if selected.contains("store") {
            guard let postgres else { throw ValidationError("the store part needs --postgres postgres://user@host:port/database") }
            try store(loaded, config, postgres: postgres)
        }
        if selected.contains("partitions") {
            guard let postgres else { throw ValidationError("the partitions part needs --postgres postgres://user@host:port/database") }
            try await partitions(loaded, config, postgres: postgres)
        }
        if selected.contains("formats") {
            var s = loaded
            s.duration = Durations.parse(duration) ?? 3600
            try DefinedFamilyBench.formats(s)
        }
        if selected.contains("defined") { try DefinedFamilyBench.run(stations: 2000, duration: duration, rounds: rounds, generation: false, aggregation: true) }
    }

    // MARK: Checkpoints

    /// A gateway holding the scenario's state after its first simulated hours: the bytes one
    /// checkpoint writes when idle, after ten seconds of the city's real-time traffic and after
    /// a minute of it, against the whole state (what every checkpoint wrote before).
    func checkpoint(_ scenario: Scenario, _ config: GatewayConfig) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-checkpoint-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = config
        config.store = directory + "/gateway.sqlite"
        config.httpPort = nil
        config.statusInterval = 0
        let store = try SQLiteStore(path: config.store)
        let service = try GatewayService(config: config, store: store)
        var s = scenario
        s.duration = Durations.parse(duration) ?? 21_600
        let generator = Generator(scenario: s, includeStatus: true)
        var messages: [(String, [UInt8])] = []
        while generator.next() { messages.append((generator.message.topicString, generator.message.payload)) }
        // The city's own rate: messages per second of simulated time.
        let perSecond = Double(messages.count) / Double(s.duration)
        let tail = Int(perSecond * 70)
        guard messages.count > tail * 2 else { throw ValidationError("--duration is too short for the checkpoint part") }
        for (topic, payload) in messages.dropLast(tail) { service.receive(topic: topic, payload: payload) }
        let clock = ContinuousClock()
        var began = clock.now
        try service.flush(checkpoint: true)
        let fullSeconds = (clock.now - began).seconds
        let full = store.lastCheckpointBytes
        print("checkpoint (\(service.status().devices) devices, \(messages.count - tail) messages of \(duration), \(fmt(perSecond, 0)) msg/s in real time):")
        print("  whole state:          \(fmt(Double(full) / 1_048_576, 1)) MiB in \(fmt(fullSeconds, 2)) s")
        began = clock.now
        try service.flush(checkpoint: true)
        print("  idle:                 \(service.checkpointsSkipped == 1 ? "skipped, 0 bytes" : "\(store.lastCheckpointBytes) bytes") in \(fmt((clock.now - began).seconds * 1000, 1)) ms")
        var at = messages.count - tail
        for (label, seconds) in [("after 10 s of traffic", 10.0), ("after 60 s of traffic", 60.0)] {
            let n = Int(perSecond * seconds)
            for (topic, payload) in messages[at..<min(messages.count, at + n)] { service.receive(topic: topic, payload: payload) }
            at += n
            began = clock.now
            try service.flush(checkpoint: true)
            let bytes = store.lastCheckpointBytes
            print("  \((label + ":").padding(toLength: 22, withPad: " ", startingAt: 0)) \(fmt(Double(bytes) / 1_048_576, 2)) MiB (\(n) messages) in \(fmt((clock.now - began).seconds, 2)) s; ratio to the whole state \(fmt(Double(bytes) / Double(max(1, full)), 3))")
        }
    }

    // MARK: Store

    /// The gateway service taking the scenario's messages as fast as it can, flushing to its
    /// store every second of wall time as it does in service (and with a checkpoint every ten),
    /// once with SQLite and once with PostgreSQL per round, alternating.
    func store(_ scenario: Scenario, _ config: GatewayConfig, postgres: String) throws {
        guard let seconds = Durations.parse(duration) else { throw ValidationError("--duration '\(duration)' is not a duration") }
        var s = scenario
        s.duration = seconds
        let generator = Generator(scenario: s, includeStatus: true)
        var messages: [(String, [UInt8])] = []
        while generator.next() { messages.append((generator.message.topicString, generator.message.payload)) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func once(_ server: Bool, _ round: Int) throws -> (rate: Double, writeMs: Double, windows: Int64) {
            var c = config
            c.store = server ? postgres : directory + "/r\(round).sqlite"
            c.journal = directory + "/r\(round)-\(server).journal"
            c.httpPort = nil
            c.statusInterval = 0
            if server { try PostgresStore.empty(url: postgres) }
            let service = try GatewayService(config: c, store: try c.openStore(), logger: LogSetup.logger("smartcity.bench", level: .error))
            let clock = ContinuousClock()
            let began = clock.now
            var lastFlush = began, lastCheckpoint = began
            for (i, (topic, payload)) in messages.enumerated() {
                service.receive(topic: topic, payload: payload)
                if i % 1024 == 0, clock.now - lastFlush >= .seconds(1) {
                    lastFlush = clock.now
                    let checkpoint = clock.now - lastCheckpoint >= .seconds(10)
                    if checkpoint { lastCheckpoint = lastFlush }
                    try service.flush(checkpoint: checkpoint)
                }
            }
            try service.flush(checkpoint: true, provisional: true)
            let elapsed = (clock.now - began).seconds
            let latency = service.storeLatency
            return (Double(messages.count) / elapsed, latency.totalSeconds / Double(max(1, latency.count)) * 1000, service.counters().0.windowsEmitted)
        }
        print("store: \(messages.count) messages of \(duration) of \(scenario.name) through the gateway service, flushed every second; \(rounds) alternating rounds")
        var ratios: [Double] = []
        for round in 0..<rounds {
            let lite = try once(false, round), pg = try once(true, round)
            ratios.append(pg.rate / lite.rate)
            print("  round \(round + 1): SQLite \(Int(lite.rate)) msg/s (mean write \(fmt(lite.writeMs, 1)) ms), PostgreSQL \(Int(pg.rate)) msg/s (mean write \(fmt(pg.writeMs, 1)) ms); ratio \(fmt(pg.rate / lite.rate, 2))")
        }
        print("  median ratio PostgreSQL / SQLite: \(fmt(ratios.sorted()[ratios.count / 2], 2)) (goal at least 0.9)")
    }

    /// Messages of the scenario's first `seconds`, without statuses.
    func messages(_ scenario: Scenario, seconds: Int64, limit: Int = .max) -> (topics: [[UInt8]], payloads: [[UInt8]]) {
        var s = scenario
        s.duration = seconds
        let generator = Generator(scenario: s, includeStatus: false)
        var topics: [[UInt8]] = [], payloads: [[UInt8]] = []
        while topics.count < limit, generator.next() {
            topics.append(generator.message.topic)
            payloads.append(generator.message.payload)
        }
        return (topics, payloads)
    }

    // MARK: Offline ingest

    /// Decode + validate + deduplicate + aggregate (with window emission and indicators), against
    /// Foundation's JSONSerialization merely parsing the same payloads.
    func ingest(_ scenario: Scenario, _ config: GatewayConfig) throws {
        guard let seconds = Durations.parse(duration) else { throw ValidationError("--duration '\(duration)' is not a duration") }
        let (topics, payloads) = messages(scenario, seconds: seconds)
        let clock = ContinuousClock()
        let aggregator = try Aggregator(config: config)
        let began = clock.now
        // The first half includes each device's first message (registration); the second half
        // is the steady state of a long-running gateway.
        let half = topics.count / 2
        var firstHalf = 0.0
        for i in topics.indices {
            if i == half { firstHalf = (clock.now - began).seconds }
            topics[i].withUnsafeBufferPointer { t in
                payloads[i].withUnsafeBufferPointer { p in _ = aggregator.ingest(topic: t, payload: p) }
            }
            if i % 65_536 == 0 { drain(aggregator) }
        }
        aggregator.emitOpenWindows()
        let elapsed = (clock.now - began).seconds
        let steady = Double(topics.count - half) / (elapsed - firstHalf)
        let c = aggregator.counters

        let sample = min(payloads.count, 200_000)
        let baselineBegan = clock.now
        var parsed = 0
        for i in 0..<sample {
            if let records = try? JSONSerialization.jsonObject(with: Data(payloads[i])) as? [Any] { parsed += records.count }
        }
        let baseline = (clock.now - baselineBegan).seconds
        let rate = Double(topics.count) / elapsed
        let baselineRate = Double(sample) / baseline
        print("ingest (offline, one core): \(topics.count) messages, \(c.readings) readings of \(duration) of \(scenario.name)")
        let perMessage = Double(c.readings) / Double(c.accepted)
        print("  gateway:  \(fmt(rate / 1e6, 2)) M msg/s, \(fmt(rate * perMessage / 1e6, 2)) M readings/s overall (decode, validate, dedup, 3 window sizes, indicators)")
        print("            \(fmt(steady / 1e6, 2)) M msg/s, \(fmt(steady * perMessage / 1e6, 2)) M readings/s in the second half (every device known)")
        print("  baseline: \(fmt(baselineRate / 1e6, 3)) M msg/s (Foundation JSONSerialization parse only, \(parsed) records)")
        print("  ratio:    \(fmt(rate / baselineRate, 1))x overall, \(fmt(steady / baselineRate, 1))x steady; windows emitted \(c.windowsEmitted), indicators \(c.indicatorsEmitted)")
        let reasons = RejectReason.allCases.filter { c.invalid[$0] > 0 }.map { "\($0.rawValue) \(c.invalid[$0])" }
        print("  accepted \(c.accepted), duplicates \(c.duplicates), late \(c.late), too late \(c.tooLate), rejected \(c.rejected)\(reasons.isEmpty ? "" : " (" + reasons.joined(separator: ", ") + ")") — the scenario's faults")
    }

    private func drain(_ aggregator: Aggregator) {
        _ = aggregator.drain()
    }

    // MARK: Memory

    /// Streams messages straight from the generator into the aggregator (flushing its output as
    /// the gateway does) and samples the heap: it must follow the open windows and devices, not
    /// the message count.
    func memory(_ scenario: Scenario, _ config: GatewayConfig) throws {
        var s = scenario
        s.duration = 30 * 86_400
        let generator = Generator(scenario: s, includeStatus: false)
        let aggregator = try Aggregator(config: config)
        let baseline = Int(csys_heap_bytes())
        let checkpoints = Set([1, 2, 5, 10, 20, 50, 100].map { $0 * memoryMessages / 100 }.filter { $0 >= 100_000 })
        var samples: [(Int, Int, Int)] = []
        var n = 0
        while n < memoryMessages, generator.next() {
            generator.message.topic.withUnsafeBufferPointer { t in
                generator.message.payload.withUnsafeBufferPointer { p in _ = aggregator.ingest(topic: t, payload: p) }
            }
            n += 1
            if n % 65_536 == 0 { drain(aggregator) }
            if checkpoints.contains(n) {
                drain(aggregator)
                samples.append((n, Int(csys_heap_bytes()) - baseline, aggregator.openWindows))
            }
        }
        print("memory (aggregator heap over a stream of \(n) messages, \(aggregator.knownDevices) devices):")
        for (messages, heap, open) in samples {
            print("  after \(String(messages).leftPadded(9)) messages: heap \(fmt(Double(heap) / 1_048_576, 1)) MiB, open windows \(open)")
        }
        // Reference: the first sample after every device was seen once (a tenth of the stream).
        if let first = samples.first(where: { $0.0 >= memoryMessages / 10 }), let last = samples.last, first.1 > 0, last.0 > first.0 {
            print("  ratio heap(\(last.0))/heap(\(first.0)): \(fmt(Double(last.1) / Double(first.1), 2)) for \(fmt(Double(last.0) / Double(first.0), 0))x the messages")
        }
    }

    // MARK: Through the broker

    /// The same messages published by one C client at QoS 1 into one gateway, then into two
    /// gateways that split the city by district (both on the PostgreSQL store, the first of
    /// the two merging the city-wide indicators); alternating rounds, the median ratio.
    func partitions(_ scenario: Scenario, _ config: GatewayConfig, postgres: String) async throws {
        let (topics, payloads) = messages(scenario, seconds: 86_400, limit: brokerMessages)
        let input = PublishInput(topics: topics, payloads: payloads)
        let embedded = try await EmbeddedBroker.start()
        defer { embedded.stop() }
        let url = embedded.url
        var ratios: [Double] = []
        print("partitions (QoS 1, \(topics.count) messages per round, one C publisher, embedded mosquitto, PostgreSQL store):")
        for round in 1...rounds {
            var rates: [Double] = []
            for n in [1, 2] {
                try PostgresStore.empty(url: postgres)
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-partitions-\(UUID().uuidString)").path
                var services: [GatewayService] = []
                var expected: [Int64] = []
                for k in 1...n {
                    var c = config
                    c.store = postgres
                    c.journal = directory + "/journal-\(k)"
                    c.partition = n > 1 ? Partition(index: k, count: n) : nil
                    c.statusInterval = 0
                    c.publishIndicators = false
                    c.clientID = "bench-partitions-\(round)-\(k)of\(n)"
                    services.append(try GatewayService(config: c, store: try c.openStore(), logger: LogSetup.logger("smartcity.bench", level: .error)))
                    // What its subscriptions bring: the messages of its districts.
                    expected.append(Int64(topics.filter { t in
                        let levels = String(decoding: t, as: UTF8.self).split(separator: "/")
                        guard let partition = c.partition else { return true }
                        return c.city(String(levels[1])).map { partition.owns(district: String(levels[3]), of: $0) } ?? false
                    }.count))
                }
                for service in services { try await service.start(broker: ConnectionOptions(url: url, clientID: service.config.clientID)) }
                let start = scb_now_ns()
                async let sent = input.publish(url)
                await withTaskGroup(of: Void.self) { group in
                    for (service, count) in zip(services, expected) { group.addTask { await service.waitUntilReceived(count) } }
                }
                let elapsed = Double(scb_now_ns() - start) / 1e9
                _ = await sent
                for service in services { await service.stop() }
                try? FileManager.default.removeItem(atPath: directory)
                rates.append(Double(topics.count) / elapsed)
            }
            ratios.append(rates[1] / rates[0])
            print("  round \(round): one gateway \(fmt(rates[0] / 1000, 1)) k msg/s, two \(fmt(rates[1] / 1000, 1)) k msg/s, ratio \(fmt(rates[1] / rates[0], 2))")
        }
        print("  median ratio two gateways / one: \(fmt(ratios.sorted()[ratios.count / 2], 2))")
    }

    /// The same messages, published by one plain C client at QoS 1, received by the C baseline
    /// subscriber and by the whole gateway (journal, dedup, windows, store flushes).
    func broker(_ scenario: Scenario, _ config: GatewayConfig) async throws {
        let (topics, payloads) = messages(scenario, seconds: 86_400, limit: brokerMessages)
        let input = PublishInput(topics: topics, payloads: payloads)
        let embedded = try await EmbeddedBroker.start()
        defer { embedded.stop() }
        let url = embedded.url
        var ratios: [Double] = []
        print("broker ingest (QoS 1, \(topics.count) messages per round, one C publisher, embedded mosquitto):")
        for round in 1...rounds {
            // Baseline: a plain C subscriber counting messages.
            let subscriber = try startCSubscriber(host: url.host, port: url.port, qos: .atLeastOnce)
            let start = scb_now_ns()
            let published = await input.publish(url)
            var received = scb_result()
            scb_subscriber_wait(subscriber, UInt64(topics.count), 10_000, &received)
            scb_subscriber_stop(subscriber)
            let baseline = Double(received.elapsed_ns - start) / 1e9
            precondition(received.received == UInt64(topics.count), "the C subscriber lost messages")

            // The gateway, with a fresh store and journal.
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-gateway-\(UUID().uuidString)").path
            var c = config
            c.store = directory + "/gateway.sqlite"
            c.statusInterval = 0
            c.publishIndicators = false
            c.clientID = "bench-gateway-\(round)"
            let service = try GatewayService(config: c, logger: LogSetup.logger("smartcity.bench", level: .error))
            try await service.start(broker: ConnectionOptions(url: url, clientID: c.clientID))
            let gatewayStart = scb_now_ns()
            async let sent = input.publish(url)
            await service.waitUntilReceived(Int64(topics.count))
            let gatewayElapsed = Double(scb_now_ns() - gatewayStart) / 1e9
            _ = await sent
            let status = service.status()
            await service.stop()
            try? FileManager.default.removeItem(atPath: directory)
            let ratio = baseline / gatewayElapsed
            ratios.append(ratio)
            print("  round \(round): C subscriber \(fmt(Double(topics.count) / baseline / 1000, 1)) k msg/s, gateway \(fmt(Double(topics.count) / gatewayElapsed / 1000, 1)) k msg/s, ratio \(fmt(ratio, 2)); gateway received \(status.received) of \(published) sent (accepted \(status.accepted), duplicates \(status.duplicates), rejected \(status.rejected))")
        }
        print("  median ratio gateway / C subscriber: \(fmt(ratios.sorted()[ratios.count / 2], 2))")
    }
}

/// The messages of the broker part as the C publisher takes them.
struct PublishInput: Sendable {
    var topics: [CChar] = []
    var topicOffsets: [Int] = []
    var payloads: [UInt8] = []
    var payloadOffsets: [Int] = [0]

    init(topics: [[UInt8]], payloads: [[UInt8]]) {
        for i in topics.indices {
            topicOffsets.append(self.topics.count)
            self.topics.append(contentsOf: topics[i].map { CChar(bitPattern: $0) })
            self.topics.append(0)
            self.payloads.append(contentsOf: payloads[i])
            payloadOffsets.append(self.payloads.count)
        }
    }

    /// Publishes everything on a thread of its own (the C client blocks) and returns the count sent.
    func publish(_ url: BrokerURL) async -> Int {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var result = scb_result()
                topics.withUnsafeBufferPointer { t in
                    topicOffsets.withUnsafeBufferPointer { to in
                        payloads.withUnsafeBufferPointer { p in
                            payloadOffsets.withUnsafeBufferPointer { po in
                                scb_publish_messages(url.host, Int32(url.port), 1, 1000, topicOffsets.count, t.baseAddress, to.baseAddress,
                                                     p.baseAddress, po.baseAddress, &result)
                            }
                        }
                    }
                }
                continuation.resume(returning: Int(result.sent))
            }
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
