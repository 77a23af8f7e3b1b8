import Foundation
import Histogram
import Telemetry

/// Delivery latency from the publisher's hand-off to the gateway's receipt, on a sample of
/// messages chosen by a hash of their payload (each payload is unique: it names its device and
/// sequence number), so both sides pick the same messages without coordination.
final class LatencyProbe: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: [UInt64: UInt64] = [:]
    private var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
    /// One message in `every` is timed.
    let every: UInt64

    init(every: UInt64 = 16) { self.every = every }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    func published(_ payload: UnsafeBufferPointer<UInt8>) {
        let h = fnv1a(payload)
        guard h % every == 0 else { return }
        let t = Self.now()
        lock.withLock { pending[h] = t }
    }

    func received(_ payload: UnsafeBufferPointer<UInt8>) {
        let h = fnv1a(payload)
        guard h % every == 0 else { return }
        let t = Self.now()
        lock.withLock {
            // A duplicate delivery finds nothing: only the first receipt counts.
            if let sent = pending.removeValue(forKey: h), t >= sent { _ = histogram.record(t - sent) }
        }
    }

    struct Summary: Encodable {
        var samples: UInt64
        var p50Ms: Double
        var p90Ms: Double
        var p99Ms: Double
        var p999Ms: Double
        var maxMs: Double
    }

    func summary() -> Summary {
        lock.withLock {
            func ms(_ p: Double) -> Double { Double(histogram.valueAtPercentile(p)) / 1e6 }
            return Summary(samples: histogram.totalCount, p50Ms: ms(50), p90Ms: ms(90), p99Ms: ms(99), p999Ms: ms(99.9),
                           maxMs: Double(histogram.max) / 1e6)
        }
    }
}
