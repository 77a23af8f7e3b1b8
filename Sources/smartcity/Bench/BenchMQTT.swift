import ArgumentParser
import CMosquittoBaseline
import Dispatch
import Foundation
import Histogram
import MQTT
import EmbeddedBroker

/// `smartcity bench mqtt`: the same publish/subscribe workload through our Swift client and
/// through a plain C libmosquitto loop, alternating, so the ratio shows our layer's overhead.
struct BenchMQTT: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mqtt",
        abstract: "Publish N messages through the Swift client and a plain C libmosquitto client; compare.")

    @Option(help: "Broker URL (mqtt://host:port); default: a private embedded mosquitto.")
    var broker: String?

    @Option(help: "Messages per run.")
    var messages: Int = 100_000

    @Option(help: "QoS levels to measure, comma-separated.")
    var qos: String = "0,1"

    @Option(help: "Payload size in bytes (at least 16: send time and sequence number).")
    var payloadBytes: Int = 64

    @Option(help: "In-flight window at QoS 1 and 2, for both clients.")
    var window: Int = 100

    @Option(help: "Alternating rounds per implementation; the median round is reported.")
    var rounds: Int = 3

    @Option(help: "Seconds without a new message after which the rest count as lost.")
    var idleTimeout: Double = 3

    func validate() throws {
        guard messages > 0 else { throw ValidationError("--messages must be at least 1, got \(messages)") }
        guard payloadBytes >= 16 else { throw ValidationError("--payload-bytes must be at least 16 (send time and sequence number), got \(payloadBytes)") }
        guard window > 0 else { throw ValidationError("--window must be at least 1, got \(window)") }
        guard rounds > 0 else { throw ValidationError("--rounds must be at least 1, got \(rounds)") }
        _ = try qosLevels()
    }

    func qosLevels() throws -> [QoS] { try QoS.levels(parsing: qos) }

    func run() async throws {
        let levels = try qosLevels()
        var embedded: EmbeddedBroker?
        let url: BrokerURL
        if let broker {
            url = try BrokerURL(parsing: broker)
        } else {
            let started = try await EmbeddedBroker.start()
            embedded = started
            url = started.url
        }
        defer { embedded?.stop() }
        print("bench mqtt: \(messages) messages of \(payloadBytes) B, window \(window), \(rounds) round(s), broker \(url)\(embedded == nil ? "" : " (embedded)")")

        var rows: [BenchResult] = []
        for level in levels {
            var cRuns: [BenchResult] = []
            var swiftRuns: [BenchResult] = []
            for round in 0..<rounds {
                let topic = "bench/\(getpid())/q\(level.rawValue)/r\(round)"
                cRuns.append(try await runC(url: url, topic: topic + "/c", qos: level))
                swiftRuns.append(try await runSwift(url: url, topic: topic + "/swift", qos: level))
            }
            rows.append(BenchResult.median(cRuns))
            rows.append(BenchResult.median(swiftRuns))
        }
        print(BenchResult.table(rows))
        for level in levels {
            let c = rows.first { $0.qos == level && $0.implementation == .c }!
            let swift = rows.first { $0.qos == level && $0.implementation == .swift }!
            let ratio = c.rate > 0 ? swift.rate / c.rate : 0
            print("Swift/C throughput ratio at QoS \(level.rawValue): \(String(format: "%.3f", ratio))")
        }
        let lossy = rows.filter { $0.qos != .atMostOnce && $0.lost > 0 }
        if !lossy.isEmpty {
            throw ValidationError("messages lost at QoS 1/2: " + lossy.map { "\($0.implementation.rawValue) QoS \($0.qos.rawValue): \($0.lost)" }.joined(separator: ", "))
        }
    }

    private func runC(url: BrokerURL, topic: String, qos: QoS) async throws -> BenchResult {
        let run = try await CBaseline.run(url: url, topic: topic, qos: qos, messages: messages, payloadBytes: payloadBytes,
                                          window: window, idleTimeout: idleTimeout, latencies: true)
        return BenchResult(implementation: .c, qos: qos, sent: run.sent, received: run.received,
                           elapsed: run.elapsed, latencies: run.latencies)
    }

    private func runSwift(url: BrokerURL, topic: String, qos: QoS) async throws -> BenchResult {
        let recorder = LatencyRecorder(capacity: messages)
        var subscriberOptions = ConnectionOptions(url: url, clientID: "bench-sub-\(getpid())")
        subscriberOptions.reconnect = .never
        let subscriber = try MQTTClient(subscriberOptions) { message in recorder.record(message.payload) }
        try await subscriber.connect()
        try await subscriber.subscribe(topic, qos: qos)

        var publisherOptions = ConnectionOptions(url: url, clientID: "bench-pub-\(getpid())")
        publisherOptions.inflightWindow = window
        publisherOptions.reconnect = .never
        let publisher = try MQTTClient(publisherOptions)
        try await publisher.connect()

        var payload = [UInt8](repeating: 0, count: payloadBytes)
        let start = monotonicNanoseconds()
        var sent = 0
        for sequence in 0..<messages {
            payload.withUnsafeMutableBytes { buffer in
                buffer.storeBytes(of: monotonicNanoseconds(), toByteOffset: 0, as: UInt64.self)
                buffer.storeBytes(of: UInt64(sequence), toByteOffset: 8, as: UInt64.self)
            }
            try await publisher.publish(topic, payload: payload, qos: qos)
            sent += 1
        }
        let received = recorder.waitFor(sent, idleTimeout: idleTimeout)
        let end = recorder.lastReceipt > start ? recorder.lastReceipt : monotonicNanoseconds()
        await publisher.disconnect()
        await subscriber.disconnect()
        return BenchResult(implementation: .swift, qos: qos, sent: sent, received: received,
                           elapsed: Double(end - start) / 1e9, latencies: recorder.latencies())
    }
}

extension QoS {
    /// A benchmark's `--qos` list: levels separated by commas, each one of `allowed`.
    static func levels(parsing text: String, allowed: [QoS] = [.atMostOnce, .atLeastOnce, .exactlyOnce]) throws -> [QoS] {
        try text.split(separator: ",").map { part in
            guard let level = Int(part.trimmingCharacters(in: .whitespaces)), let value = QoS(level: level), allowed.contains(value) else {
                let names = allowed.map { String($0.rawValue) }
                throw ValidationError("--qos takes levels \(names.dropLast().joined(separator: ", ")) \(names.count == 2 ? "and" : "or") \(names.last!) separated by commas, got '\(text)'")
            }
            return value
        }
    }
}

func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// Counts received bench messages and their latencies; called on the network thread.
final class LatencyRecorder: @unchecked Sendable {
    private let condition = NSCondition()
    private var received = 0
    private var samples: [UInt64]
    private(set) var lastReceipt: UInt64 = 0

    init(capacity: Int) {
        samples = []
        samples.reserveCapacity(capacity)
    }

    func record(_ payload: [UInt8]) {
        let now = monotonicNanoseconds()
        let sent = payload.count >= 8 ? payload.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } : now
        condition.lock()
        samples.append(now &- sent)
        received += 1
        lastReceipt = now
        condition.signal()
        condition.unlock()
    }

    /// Waits until `target` messages arrived or none arrived for `idleTimeout` seconds.
    func waitFor(_ target: Int, idleTimeout: Double) -> Int {
        condition.lock()
        defer { condition.unlock() }
        var seen = received
        var lastProgress = Date()
        while received < target {
            _ = condition.wait(until: Date().addingTimeInterval(0.1))
            if received != seen {
                seen = received
                lastProgress = Date()
            } else if Date().timeIntervalSince(lastProgress) > idleTimeout {
                break
            }
        }
        return received
    }

    func latencies() -> [UInt64] {
        condition.lock()
        defer { condition.unlock() }
        return samples
    }
}

struct BenchResult {
    enum Implementation: String { case c = "C libmosquitto", swift = "Swift MQTT" }
    var implementation: Implementation
    var qos: QoS
    var sent: Int
    var received: Int
    var elapsed: Double
    var latencies: [UInt64]

    var lost: Int { max(0, sent - received) }
    var rate: Double { elapsed > 0 ? Double(received) / elapsed : 0 }

    static func median(_ runs: [BenchResult]) -> BenchResult {
        runs.sorted { $0.rate < $1.rate }[runs.count / 2]
    }

    func percentile(_ p: Double) -> Double {
        var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
        for value in latencies { _ = histogram.record(max(1, value)) }
        return Double(histogram.valueAtPercentile(p)) / 1e6
    }

    static func table(_ rows: [BenchResult]) -> String {
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
        }
        var lines = [pad("implementation", 16) + "  qos      sent  received    lost       msg/s    p50 ms    p99 ms  p99.9 ms"]
        for row in rows {
            lines.append(pad(row.implementation.rawValue, 16) + String(
                format: " %4d %9d %9d %7d %11.0f %9.3f %9.3f %9.3f",
                row.qos.rawValue, row.sent, row.received, row.lost,
                row.rate, row.percentile(50), row.percentile(99), row.percentile(99.9)))
        }
        return lines.joined(separator: "\n")
    }
}

/// The plain C libmosquitto publisher/subscriber, run on its own thread (it blocks while it
/// waits for the broker, which must not happen on a Swift concurrency thread).
enum CBaseline {
    struct Run {
        var sent: Int
        var received: Int
        var elapsed: Double
        var latencies: [UInt64]
    }

    static func run(url: BrokerURL, topic: String, qos: QoS, messages: Int, payloadBytes: Int, window: Int,
                    idleTimeout: Double, latencies: Bool) async throws -> Run {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                var samples = [UInt64](repeating: 0, count: latencies ? messages : 0)
                var result = scb_result()
                samples.withUnsafeMutableBufferPointer { buffer in
                    scb_run(url.host, Int32(url.port), topic, qos.rawValue, messages, payloadBytes, Int32(window),
                            Int32(idleTimeout * 1000), latencies ? buffer.baseAddress : nil, &result)
                }
                if result.rc != 0 {
                    let message = result.message
                    continuation.resume(throwing: ValidationError("C baseline failed against \(url): \(message)"))
                    return
                }
                continuation.resume(returning: Run(sent: Int(result.sent), received: Int(result.received),
                                                   elapsed: Double(result.elapsed_ns) / 1e9,
                                                   latencies: Array(samples.prefix(Int(result.received)))))
            }
        }
    }
}

extension scb_result {
    /// The C side's error message.
    var message: String { withUnsafeBytes(of: error) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } }
}

/// A plain C subscriber (the baselines' receiving side) on city/#, or a clear error.
func startCSubscriber(host: String, port: Int, qos: QoS) throws -> OpaquePointer {
    var failure = scb_result()
    guard let subscriber = scb_subscriber_start(host, Int32(port), "city/#", qos.rawValue, &failure) else {
        throw ValidationError("C subscriber: \(failure.message)")
    }
    return subscriber
}
