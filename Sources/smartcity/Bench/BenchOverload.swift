import ArgumentParser
import Foundation
import Histogram
@_spi(FastPath) import MQTT
import EmbeddedBroker

/// `smartcity bench overload`: an open-loop publisher ramps its offered rate step by step past
/// what the broker and a subscriber can carry, at each QoS, and reports per step the offered
/// and delivered rates, the latency and the scheduler's lag: where delivered stops following
/// offered, what latency does there, and that QoS 1 still loses nothing. The baseline, measured
/// in the same run, is the closed-loop rate (publishing as fast as the path takes).
struct BenchOverload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "overload",
        abstract: "Ramp the offered rate past the broker's capacity at QoS 0 and 1: delivered rate, latency and loss per step.")

    @Option(help: "Broker URL (mqtt://host:port); default: a private embedded mosquitto.")
    var broker: String?

    @Option(help: "QoS levels to measure, comma-separated.")
    var qos: String = "0,1"

    @Option(help: "Offered rate of the first step, messages per second.")
    var from: Double = 10_000

    @Option(help: "Offered rate of the last step, messages per second (the steps grow geometrically).")
    var to: Double = 320_000

    @Option(help: "Number of steps.")
    var steps: Int = 6

    @Option(help: "Seconds per step.")
    var stepSeconds: Double = 2

    @Option(help: "Payload size in bytes (at least 20: send time, sequence and step).")
    var payloadBytes: Int = 200

    @Option(help: "Unacknowledged messages the publisher may have at QoS 1 (libmosquitto searches its queue per acknowledgement, so a window far larger slows it down).")
    var window: Int = 1000

    @Option(help: "Seconds without a new message, after the last step, after which the rest count as lost.")
    var idleTimeout: Double = 10

    func validate() throws {
        guard from > 0, to >= from else { throw ValidationError("--from must be above 0 and --to at least --from, got \(from) and \(to)") }
        guard steps >= 1, steps <= 100 else { throw ValidationError("--steps must be 1 to 100, got \(steps)") }
        guard stepSeconds >= 0.2 else { throw ValidationError("--step-seconds must be at least 0.2, got \(stepSeconds)") }
        guard window >= 1 else { throw ValidationError("--window must be at least 1, got \(window)") }
        guard payloadBytes >= 20 else { throw ValidationError("--payload-bytes must be at least 20, got \(payloadBytes)") }
        _ = try levels()
    }

    func levels() throws -> [QoS] { try QoS.levels(parsing: qos, allowed: [.atMostOnce, .atLeastOnce]) }

    /// Per step: messages sent and received, receipts in the step's wall time, latencies.
    final class Tally: @unchecked Sendable {
        let lock = NSLock()
        var received: [Int]
        var arrivedDuring: [Int]
        var histograms: [Histogram<UInt64>]
        var total = 0
        var last: UInt64 = 0
        /// When the first step starts (set once the clients are connected).
        var start: UInt64
        let stepNs: UInt64

        init(steps: Int, start: UInt64, stepNs: UInt64) {
            received = Array(repeating: 0, count: steps)
            arrivedDuring = Array(repeating: 0, count: steps + 1)
            histograms = (0..<steps).map { _ in Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three) }
            self.start = start
            self.stepNs = stepNs
        }

        func record(_ payload: UnsafeBufferPointer<UInt8>) {
            guard payload.count >= 20 else { return }
            let now = monotonicNanoseconds()
            let raw = UnsafeRawBufferPointer(payload)
            let sent = raw.loadUnaligned(as: UInt64.self)
            let step = Int(raw.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
            lock.withLock {
                guard step < received.count else { return }
                received[step] += 1
                total += 1
                last = now
                arrivedDuring[min(arrivedDuring.count - 1, Int((now &- start) / stepNs))] += 1
                _ = histograms[step].record(max(1, (now &- sent) / 1000))
            }
        }

        var count: Int { lock.withLock { total } }
    }

    struct Step {
        var target: Double
        var sent = 0
        var lag = 0.0
    }

    func run() async throws {
        var embedded: EmbeddedBroker?
        let url: BrokerURL
        if let broker {
            url = try BrokerURL(parsing: broker)
        } else {
            var configuration = EmbeddedBroker.Configuration()
            // An overloaded broker queues for a slow subscriber instead of dropping at 1,000.
            configuration.extraLines = ["max_queued_messages 0", "max_inflight_messages 0"]
            let started = try await EmbeddedBroker.start(configuration)
            embedded = started
            url = started.url
        }
        defer { embedded?.stop() }
        let rates = (0..<steps).map { steps == 1 ? from : from * pow(to / from, Double($0) / Double(steps - 1)) }
        print("bench overload: \(steps) steps of \(stepSeconds) s from \(Int(from)) to \(Int(to)) msg/s, \(payloadBytes) B, broker \(url)\(embedded == nil ? "" : " (embedded)")")
        var failures: [String] = []
        for level in try levels() {
            let capacity = try await closedLoop(url: url, qos: level)
            print("\nQoS \(level.rawValue): closed-loop baseline \(Int(capacity)) msg/s (publishing as fast as the path takes)")
            let (results, tally, lost) = try await ramp(url: url, qos: level, rates: rates)
            print("step  offered target  offered msg/s  delivered msg/s  delivered/target  scheduler lag s  p50 ms  p99 ms  max ms")
            var knee: Int?
            for (k, step) in results.enumerated() {
                let offered = Double(step.sent) / stepSeconds
                let delivered = Double(tally.arrivedDuring[k]) / stepSeconds
                let h = tally.histograms[k]
                func ms(_ p: Double) -> String { h.totalCount == 0 ? "-" : String(format: "%.1f", Double(h.valueAtPercentile(p)) / 1000) }
                // Delivered follows the offered load while it carries what the step asks for; at
                // QoS 1 a full window holds the publisher back first (its lag).
                let ratio = delivered / step.target
                if knee == nil, ratio < 0.95 { knee = k }
                print(String(format: "%4d %15.0f %14.0f %16.0f %17.3f %16.3f", k, step.target, offered, delivered, ratio, step.lag)
                      + " \(ms(50).padding(6)) \(ms(99).padding(6)) \(h.totalCount == 0 ? "-" : String(format: "%.1f", Double(h.max) / 1000))")
            }
            if let knee {
                let below = knee > 0 ? results[knee - 1].target : 0
                print("QoS \(level.rawValue): delivered stops following offered between \(Int(below.rounded())) and \(Int(results[knee].target.rounded())) msg/s offered; the last step carried in full is \(String(format: "%.2f", below / capacity)) of the closed-loop baseline")
            } else {
                print("QoS \(level.rawValue): delivered followed offered up to the last step, \(Int(rates.last!.rounded())) msg/s, \(String(format: "%.2f", rates.last! / capacity)) of the closed-loop baseline; raise --to")
            }
            print("QoS \(level.rawValue): sent \(results.map(\.sent).reduce(0, +)), received \(tally.count), lost \(lost)")
            if level != .atMostOnce, lost > 0 { failures.append("QoS \(level.rawValue) lost \(lost)") }
        }
        if !failures.isEmpty { throw ValidationError("messages lost: " + failures.joined(separator: ", ")) }
    }

    private func clients(url: BrokerURL, qos: QoS, tag: String, tally: @escaping @Sendable (UnsafeBufferPointer<UInt8>) -> Void) async throws -> (MQTTClient, MQTTClient, String) {
        let topic = "bench/overload/\(getpid())/\(tag)"
        var subscriberOptions = ConnectionOptions(url: url, clientID: "overload-sub-\(getpid())-\(tag)")
        subscriberOptions.reconnect = .never
        let subscriber = try MQTTClient(subscriberOptions, onRawMessage: { _, payload, _ in tally(payload) })
        try await subscriber.connect()
        try await subscriber.subscribe(topic, qos: qos)
        var publisherOptions = ConnectionOptions(url: url, clientID: "overload-pub-\(getpid())-\(tag)")
        publisherOptions.reconnect = .never
        // Open loop: at QoS 1 a full window holds the publisher back, and that shows as the
        // scheduler's lag.
        publisherOptions.inflightWindow = window
        let publisher = try MQTTClient(publisherOptions)
        try await publisher.connect()
        return (publisher, subscriber, topic)
    }

    /// Messages per second through the path when publishing as fast as it takes them.
    private func closedLoop(url: BrokerURL, qos: QoS) async throws -> Double {
        let messages = Int(min(400_000, max(50_000, to * stepSeconds / 2)))
        let start = monotonicNanoseconds()
        let tally = Tally(steps: 1, start: start, stepNs: UInt64(3600e9))
        let (publisher, subscriber, topic) = try await clients(url: url, qos: qos, tag: "q\(qos.rawValue)-base") { tally.record($0) }
        var payload = [UInt8](repeating: 0x2e, count: payloadBytes)
        let bytes = Array(topic.utf8) + [0]
        for i in 0..<messages {
            stamp(&payload, sequence: i, step: 0)
            try await publisher.publish(terminatedTopic: bytes, payload: payload, qos: qos)
        }
        _ = await wait(tally, for: messages)
        await publisher.disconnect()
        await subscriber.disconnect()
        let elapsed = Double(tally.lock.withLock { tally.last } &- start) / 1e9
        return elapsed > 0 ? Double(tally.count) / elapsed : 0
    }

    private func ramp(url: BrokerURL, qos: QoS, rates: [Double]) async throws -> ([Step], Tally, Int) {
        let stepNs = UInt64(stepSeconds * 1e9)
        let tally = Tally(steps: rates.count, start: monotonicNanoseconds(), stepNs: stepNs)
        let (publisher, subscriber, topic) = try await clients(url: url, qos: qos, tag: "q\(qos.rawValue)-ramp") { tally.record($0) }
        let start = monotonicNanoseconds()
        tally.lock.withLock { tally.start = start }
        let bytes = Array(topic.utf8) + [0]
        var payload = [UInt8](repeating: 0x2e, count: payloadBytes)
        var results = rates.map { Step(target: $0) }
        var sequence = 0
        for (k, rate) in rates.enumerated() {
            let stepStart = start + UInt64(k) * stepNs
            let count = Int(rate * stepSeconds)
            for i in 0..<count {
                let due = stepStart + UInt64(Double(i) / rate * 1e9)
                let now = monotonicNanoseconds()
                if due > now + 1_000_000 {
                    try await Task.sleep(nanoseconds: due - now)
                } else if now > due {
                    results[k].lag = max(results[k].lag, Double(now - due) / 1e9)
                }
                // Past the step's end the rest of it is not sent: the offered rate is what left.
                if monotonicNanoseconds() >= stepStart + stepNs { break }
                stamp(&payload, sequence: sequence, step: k)
                sequence += 1
                try await publisher.publish(terminatedTopic: bytes, payload: payload, qos: qos)
                results[k].sent += 1
            }
            let end = stepStart + stepNs
            let now = monotonicNanoseconds()
            if end > now { try await Task.sleep(nanoseconds: end - now) }
        }
        let sent = results.map(\.sent).reduce(0, +)
        let received = await wait(tally, for: sent)
        await publisher.disconnect()
        await subscriber.disconnect()
        return (results, tally, max(0, sent - received))
    }

    private func stamp(_ payload: inout [UInt8], sequence: Int, step: Int) {
        payload.withUnsafeMutableBytes { buffer in
            buffer.storeBytes(of: monotonicNanoseconds(), toByteOffset: 0, as: UInt64.self)
            buffer.storeBytes(of: UInt64(sequence), toByteOffset: 8, as: UInt64.self)
            buffer.storeBytes(of: UInt32(step), toByteOffset: 16, as: UInt32.self)
        }
    }

    /// Waits until `target` messages arrived, or none arrived for `idleTimeout` seconds.
    private func wait(_ tally: Tally, for target: Int) async -> Int {
        var seen = tally.count
        var quiet = 0.0
        while seen < target, quiet < idleTimeout {
            try? await Task.sleep(for: .milliseconds(100))
            let now = tally.count
            if now == seen { quiet += 0.1 } else { quiet = 0 }
            seen = now
        }
        return seen
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
