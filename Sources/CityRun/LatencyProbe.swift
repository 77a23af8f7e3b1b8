import Foundation
import Histogram
import Telemetry

/// Delivery latency from the publisher's hand-off to the gateway's receipt, for every message
/// (or one in `every`, chosen by a hash of the payload: each payload is unique, it names its
/// device and sequence number, so both sides pick the same messages without coordination).
///
/// Besides the whole run's percentiles it keeps a time series: per interval of wall time and
/// per domain, the offered rate (hand-offs to the broker), the delivered rate (receipts, a
/// device's duplicate counted as the publish it is, a broker's redelivery not),
/// the latency percentiles of the messages received in the interval, and the messages lost so
/// far (sent `lostAfter` or longer ago and not received; at the end, all not received).
public final class LatencyProbe: @unchecked Sendable {
    /// One interval of one domain (or `all`).
    struct Row: Codable, Equatable {
        var interval: Int
        /// Start of the interval: wall-clock time, and seconds since the probe started.
        var time: String
        var elapsedSeconds: Double
        var domain: String
        var offeredPerSecond: Double
        var deliveredPerSecond: Double
        /// Latency of the messages received in the interval; nil when none was.
        var p50Ms: Double?
        var p90Ms: Double?
        var p99Ms: Double?
        var p999Ms: Double?
        var maxMs: Double?
        var lostSoFar: Int
    }

    public struct Summary: Encodable, Sendable {
        public var samples: UInt64
        public var p50Ms: Double
        public var p90Ms: Double
        public var p99Ms: Double
        public var p999Ms: Double
        public var maxMs: Double
    }

    /// A message handed to the broker and not yet received: when, its domain, its interval, and
    /// how many copies of it the devices sent (a duplicate is the same payload twice).
    private struct Sent {
        var time: UInt64
        var domain: UInt8
        var copies: UInt8
        var interval: Int32
    }

    private final class Stripe: @unchecked Sendable {
        let lock = NSLock()
        var pending: [UInt64: Sent] = [:]
    }

    /// One message in `every` is timed.
    let every: UInt64
    let intervalNs: UInt64
    /// A message not received this long after it was sent counts as lost (until it arrives).
    let lostAfterNs: UInt64 = 30_000_000_000
    private let origin: UInt64
    /// When the probe started (the series' time zero).
    let wallOrigin: Date
    private let stripes = (0..<32).map { _ in Stripe() }
    private static let domains = Domain.allCases
    private var all: Int { Self.domains.count }

    private let lock = NSLock()
    private var current = 0
    private var offered: [Int]
    private var delivered: [Int]
    private var histograms: [Histogram<UInt64>]
    private var total = LatencyProbe.histogram()
    /// Timed messages sent per interval and domain (index `interval * (domains + 1) + domain`),
    /// and those of them received.
    private var sentIn: [Int] = []
    private var receivedOf: [Int] = []
    /// Intervals whose unreceived messages count as lost, and how many they are per domain.
    private var horizon = 0
    private var lost: [Int]
    private var rows: [Row] = []

    init(every: UInt64 = 1, interval: Double = 1) {
        self.every = max(1, every)
        intervalNs = UInt64(max(0.001, interval) * 1e9)
        origin = Self.now()
        wallOrigin = Date()
        let n = Domain.allCases.count + 1
        offered = Array(repeating: 0, count: n)
        delivered = Array(repeating: 0, count: n)
        histograms = (0..<n).map { _ in Self.histogram() }
        lost = Array(repeating: 0, count: n)
    }

    /// Microseconds up to ten minutes at three significant digits.
    private static func histogram() -> Histogram<UInt64> {
        Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    private func timed(_ h: UInt64) -> Bool { every == 1 || h % every == 0 }

    func published(_ payload: UnsafeBufferPointer<UInt8>, domain: Domain) {
        let h = fnv1a(payload)
        let t = Self.now()
        let d = Self.domains.firstIndex(of: domain) ?? 0
        let k = Int((t &- origin) / intervalNs)
        lock.withLock {
            advance(to: k)
            offered[d] += 1
            offered[all] += 1
            if timed(h) {
                count(&sentIn, interval: k, domain: d)
            }
        }
        guard timed(h) else { return }
        let stripe = stripes[Int(h % UInt64(stripes.count))]
        stripe.lock.withLock {
            if var sent = stripe.pending[h] {
                sent.copies &+= 1
                stripe.pending[h] = sent
            } else {
                stripe.pending[h] = Sent(time: t, domain: UInt8(d), copies: 1, interval: Int32(k))
            }
        }
    }

    func received(_ payload: UnsafeBufferPointer<UInt8>) {
        let h = fnv1a(payload)
        guard timed(h) else { return }
        let t = Self.now()
        let stripe = stripes[Int(h % UInt64(stripes.count))]
        // A copy beyond those sent (a broker's redelivery) finds nothing: it was delivered already.
        let found: Sent? = stripe.lock.withLock {
            guard var sent = stripe.pending[h] else { return nil }
            sent.copies -= 1
            if sent.copies == 0 { stripe.pending[h] = nil } else { stripe.pending[h] = sent }
            return sent
        }
        guard let sent = found, t >= sent.time else { return }
        let micros = (t - sent.time) / 1000
        let d = Int(sent.domain), k = Int((t &- origin) / intervalNs)
        lock.withLock {
            advance(to: k)
            delivered[d] += 1
            delivered[all] += 1
            _ = histograms[d].record(micros)
            _ = histograms[all].record(micros)
            _ = total.record(micros)
            count(&receivedOf, interval: Int(sent.interval), domain: d)
            // Counted lost already: it is not any more.
            if Int(sent.interval) < horizon {
                lost[d] -= 1
                lost[all] -= 1
            }
        }
    }

    private func count(_ table: inout [Int], interval k: Int, domain d: Int) {
        let width = all + 1
        if table.count < (k + 1) * width { table.append(contentsOf: repeatElement(0, count: (k + 1) * width - table.count)) }
        table[k * width + d] += 1
        table[k * width + all] += 1
    }

    /// Closes the intervals before `k` (under `lock`).
    private func advance(to k: Int) {
        while current < k {
            close()
            current += 1
        }
    }

    /// Closes the interval open now; the last one (`final`) counts whatever has not arrived as lost.
    private func close(final: Bool = false) {
        let width = all + 1
        // Intervals that ended lostAfter or longer before this one's end.
        let end = UInt64(current + 1) * intervalNs
        let reach = final ? current + 1 : end >= lostAfterNs ? Int((end - lostAfterNs) / intervalNs) : 0
        while horizon < reach {
            for d in 0..<width {
                let sent = horizon * width + d < sentIn.count ? sentIn[horizon * width + d] : 0
                let received = horizon * width + d < receivedOf.count ? receivedOf[horizon * width + d] : 0
                lost[d] += sent - received
            }
            horizon += 1
        }
        let seconds = Double(intervalNs) / 1e9
        let start = Double(current) * seconds
        let time = Timestamps.format(Int64((wallOrigin.timeIntervalSince1970 + start).rounded(.down)))
        for d in 0..<width {
            let h = histograms[d]
            func ms(_ p: Double) -> Double? { h.totalCount == 0 ? nil : Double(h.valueAtPercentile(p)) / 1000 }
            rows.append(Row(interval: current, time: time, elapsedSeconds: start, domain: d == all ? "all" : Self.domains[d].rawValue,
                            offeredPerSecond: Double(offered[d]) / seconds, deliveredPerSecond: Double(delivered[d]) / seconds,
                            p50Ms: ms(50), p90Ms: ms(90), p99Ms: ms(99), p999Ms: ms(99.9),
                            maxMs: h.totalCount == 0 ? nil : Double(h.max) / 1000, lostSoFar: lost[d]))
            histograms[d].reset()
            offered[d] = 0
            delivered[d] = 0
        }
    }

    /// The whole series, once the run is over: the interval open now is closed first.
    func series() -> [Row] {
        lock.withLock {
            advance(to: Int((Self.now() &- origin) / intervalNs))
            close(final: true)
            current += 1
            return rows
        }
    }

    func summary() -> Summary {
        lock.withLock {
            func ms(_ p: Double) -> Double { total.totalCount == 0 ? 0 : Double(total.valueAtPercentile(p)) / 1000 }
            return Summary(samples: total.totalCount, p50Ms: ms(50), p90Ms: ms(90), p99Ms: ms(99), p999Ms: ms(99.9),
                           maxMs: total.totalCount == 0 ? 0 : Double(total.max) / 1000)
        }
    }

    static let csvHeader = "interval,time,elapsed_s,domain,offered_per_s,delivered_per_s,p50_ms,p90_ms,p99_ms,p99_9_ms,max_ms,lost_so_far"

    static func csv(_ rows: [Row]) -> String {
        var text = csvHeader + "\n"
        func f(_ v: Double?) -> String { v.map { String(format: "%.3f", $0) } ?? "" }
        for r in rows {
            text += "\(r.interval),\(r.time),\(f(r.elapsedSeconds)),\(r.domain),\(f(r.offeredPerSecond)),\(f(r.deliveredPerSecond)),"
            text += "\(f(r.p50Ms)),\(f(r.p90Ms)),\(f(r.p99Ms)),\(f(r.p999Ms)),\(f(r.maxMs)),\(r.lostSoFar)\n"
        }
        return text
    }
}
