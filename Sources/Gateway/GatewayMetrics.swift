import Foundation
import Metrics
import Telemetry

/// The gateway's counters and gauges, through swift-metrics. The aggregator counts in plain
/// integers on its hot path; after each flush (and before a scrape) the counters advance by
/// what changed since, so the back end sees every message without a call per message.
///
/// Names (Prometheus): `smartcity_gateway_messages_received_total`,
/// `..._messages_accepted_total{domain}`, `..._readings_total`, `..._status_messages_total`,
/// `..._messages_invalid_total{reason}`, `..._duplicates_total` (of which
/// `..._redeliveries_total` the broker's re-sends after a lost connection), `..._late_total`,
/// `..._too_late_total`, `..._windows_emitted_total`, `..._window_corrections_total`,
/// `..._indicators_emitted_total`, `..._meter_resets_total`, `..._meter_rollovers_total`,
/// gauges `..._ingest_lag_seconds`, `..._open_windows`, `..._devices`, `..._connected`,
/// `..._journal_position_bytes`, `..._checkpoint_position_bytes`, `..._store_write_seconds_max`,
/// `..._alarms_active{kind}`, and the timer `..._store_write_seconds`.
final class GatewayMetrics: @unchecked Sendable {
    static let prefix = "smartcity_gateway_"

    private let lock = NSLock()
    private var last = IngestCounters()
    private var lastRedeliveries: Int64 = 0
    private let received, readings, statusMessages, retainedStatuses, duplicates, redeliveries, late, tooLate: Counter
    private let windowsEmitted, corrections, indicatorsEmitted, meterResets, meterRollovers: Counter
    private let accepted: [Counter]
    private let invalid: [Counter]
    private let ingestLag, openWindows, devices, unknownDevices, connected, journalPosition, checkpointPosition, storeWriteMax: Gauge
    private let storeWrites: Timer
    private let activeAlarms: [Gauge]

    init(factory: any MetricsFactory) {
        func counter(_ name: String, _ dimensions: [(String, String)] = []) -> Counter {
            Counter(label: Self.prefix + name, dimensions: dimensions, factory: factory)
        }
        func gauge(_ name: String) -> Gauge { Gauge(label: Self.prefix + name, dimensions: [], factory: factory) }
        received = counter("messages_received_total")
        accepted = Domain.allCases.map { counter("messages_accepted_total", [("domain", $0.rawValue)]) }
        readings = counter("readings_total")
        statusMessages = counter("status_messages_total")
        retainedStatuses = counter("retained_statuses_total")
        invalid = RejectReason.allCases.map { counter("messages_invalid_total", [("reason", $0.rawValue)]) }
        duplicates = counter("duplicates_total")
        redeliveries = counter("redeliveries_total")
        late = counter("late_total")
        tooLate = counter("too_late_total")
        windowsEmitted = counter("windows_emitted_total")
        corrections = counter("window_corrections_total")
        indicatorsEmitted = counter("indicators_emitted_total")
        meterResets = counter("meter_resets_total")
        meterRollovers = counter("meter_rollovers_total")
        ingestLag = gauge("ingest_lag_seconds")
        openWindows = gauge("open_windows")
        devices = gauge("devices")
        unknownDevices = gauge("unknown_devices")
        connected = gauge("connected")
        journalPosition = gauge("journal_position_bytes")
        checkpointPosition = gauge("checkpoint_position_bytes")
        storeWriteMax = gauge("store_write_seconds_max")
        storeWrites = Timer(label: Self.prefix + "store_write_seconds", dimensions: [], factory: factory)
        activeAlarms = AlarmKind.allCases.map { Gauge(label: Self.prefix + "alarms_active", dimensions: [("kind", $0.name)], factory: factory) }
        // Every series exists from the start, at zero.
        for c in [received, readings, statusMessages, retainedStatuses, duplicates, redeliveries, late, tooLate, windowsEmitted, corrections, indicatorsEmitted,
                  meterResets, meterRollovers] + accepted + invalid { c.increment(by: 0) }
    }

    func update(counters c: IngestCounters, openWindows open: Int, devices known: Int, status: GatewayService.Status,
                storeLatency: LatencySummary, activeAlarms active: [AlarmKind: Int] = [:]) {
        lock.lock()
        defer { lock.unlock() }
        func advance(_ counter: Counter, _ now: Int64, _ before: Int64) { if now > before { counter.increment(by: now - before) } }
        advance(received, c.received, last.received)
        for d in Domain.allCases { advance(accepted[d.ordinal], c.acceptedByDomain[d], last.acceptedByDomain[d]) }
        advance(readings, c.readings, last.readings)
        advance(statusMessages, c.statusMessages, last.statusMessages)
        advance(retainedStatuses, c.retainedStatuses, last.retainedStatuses)
        for (i, r) in RejectReason.allCases.enumerated() { advance(invalid[i], c.invalid[r], last.invalid[r]) }
        advance(duplicates, c.duplicates, last.duplicates)
        advance(redeliveries, status.redeliveries, lastRedeliveries)
        lastRedeliveries = status.redeliveries
        advance(late, c.late, last.late)
        advance(tooLate, c.tooLate, last.tooLate)
        advance(windowsEmitted, c.windowsEmitted, last.windowsEmitted)
        advance(corrections, c.corrections, last.corrections)
        advance(indicatorsEmitted, c.indicatorsEmitted, last.indicatorsEmitted)
        advance(meterResets, c.meterResets, last.meterResets)
        advance(meterRollovers, c.meterRollovers, last.meterRollovers)
        last = c
        ingestLag.record(c.lagCount > 0 ? c.lagSumMs / Double(c.lagCount) / 1000 : 0)
        openWindows.record(open)
        devices.record(known)
        unknownDevices.record(c.unknownDevices)
        connected.record(status.connected ? 1 : 0)
        journalPosition.record(Double(status.journalPosition))
        checkpointPosition.record(Double(status.checkpointPosition))
        storeWriteMax.record(storeLatency.maxSeconds)
        for kind in AlarmKind.allCases { activeAlarms[kind.rawValue].record(active[kind] ?? 0) }
    }

    /// One store transaction's time.
    func storeWrite(_ duration: Duration) {
        storeWrites.recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }
}
