import Foundation
import Gateway
import Simulator

/// What one path of the main job (direct, or through a broker) hands to the rest of the run:
/// the gateway's store and counters, and how the sending went.
struct PathOutcome {
    var store: any TelemetryStore
    var counters: IngestCounters
    var simulation: RunSummary
    /// Copies the broker delivered again across a lost gateway connection.
    var redeliveries: Int64 = 0
    var interrupted = false
    var brokerLost = false
    /// Through a broker: what the publisher did; nil on the direct path.
    var publisher: Publisher.Outcome?
    /// Whether everything sent arrived before the run ended.
    var arrived = true
    var latency: LatencyProbe.Summary?
    var delivery: [LatencyProbe.Row] = []
    /// Wall-clock start of the delivery series, s since 1970.
    var deliveryOrigin = 0.0
}
