import Foundation
import Synchronization
import Logging
import Metrics
import ServiceLifecycle
import Telemetry

extension GatewayService {
    // MARK: status

    public struct Status: Sendable, Codable {
        public var ok: Bool
        public var connected: Bool
        public var received: Int64
        public var accepted: Int64
        public var duplicates: Int64
        /// Duplicates that at-least-once delivery made across a lost connection (since the gateway started).
        public var redeliveries: Int64
        public var late: Int64
        public var tooLate: Int64
        public var rejected: Int64
        public var openWindows: Int
        public var devices: Int
        public var journalPosition: UInt64
        public var checkpointPosition: UInt64
        public var secondsSinceLastMessage: Double?
        public var storeError: String?
        public var journalError: String?
    }

    public func status() -> Status {
        lock.lock()
        defer { lock.unlock() }
        let c = aggregator.counters
        return Status(ok: lastStoreError == nil && lastJournalError == nil, connected: connected, received: c.received,
                      accepted: c.accepted, duplicates: c.duplicates, redeliveries: aggregator.redeliveries, late: c.late, tooLate: c.tooLate, rejected: c.rejected,
                      openWindows: aggregator.openWindows, devices: aggregator.knownDevices, journalPosition: journal.end,
                      checkpointPosition: lastCheckpointPosition,
                      secondsSinceLastMessage: lastMessageMs > 0 ? Date().timeIntervalSince1970 - Double(lastMessageMs) / 1000 : nil,
                      storeError: lastStoreError, journalError: lastJournalError)
    }

    public func counters() -> (IngestCounters, openWindows: Int, devices: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (aggregator.counters, aggregator.openWindows, aggregator.knownDevices)
    }

    public func statusLine() -> String {
        let (c, open, devices) = counters()
        let now = Date()
        let rate = Double(c.received - lastStatusReceived) / max(0.001, now.timeIntervalSince(lastStatusWall))
        lastStatusReceived = c.received
        lastStatusWall = now
        return "gateway: \(c.received) msgs (\(Int(rate))/s) accepted \(c.accepted) dup \(c.duplicates) (redelivered \(redeliveries)) late \(c.late) too-late \(c.tooLate) "
            + "invalid \(c.rejected) windows \(c.windowsEmitted)+\(c.corrections) corrections, open \(open), devices \(devices), "
            + "store \(String(format: "%.1f", storeLatency.meanMs)) ms"
    }
}

/// Mean and maximum of store transaction times.
public struct LatencySummary: Sendable {
    public var count = 0
    public var totalSeconds = 0.0
    public var maxSeconds = 0.0
    mutating func add(_ d: Duration) {
        let s = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        count += 1
        totalSeconds += s
        maxSeconds = max(maxSeconds, s)
    }
    public var meanMs: Double { count > 0 ? totalSeconds / Double(count) * 1000 : 0 }
}

/// The retained message of an indicator on `city/{city}/indicators/{slug}[/hour|/day]`.
struct IndicatorMessage: Encodable {
    var city: String
    var code: String
    var name: String
    var unit: String
    var value: Double
    var resolution: String
    var start: String
    var end: String
    var revision: Int32
    var closed: Bool

    init(_ v: IndicatorValue, _ d: IndicatorDefinition) {
        city = v.city
        code = v.code
        name = d.name
        unit = d.unit
        value = v.value
        resolution = v.resolution.name
        start = Timestamps.format(v.start / 1000)
        end = Timestamps.format(v.end / 1000)
        revision = v.revision
        closed = v.closed
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
