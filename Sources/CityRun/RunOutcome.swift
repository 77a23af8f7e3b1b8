import Foundation
import Gateway
import Simulator
import Telemetry

/// What `smartcity run` writes to summary.json.
public struct RunOutcome: Encodable, Sendable {
    public struct Telemetry: Encodable, Sendable {
        public var sent: Int64
        public var received: Int64
        public var accepted: Int64
        public var duplicates: Int64
        public var late: Int64
        public var tooLate: Int64
        public var invalid: Int64
        public var invalidByReason: [String: Int64]
        public var statusMessages: Int64
        /// Publishes refused because the device's connection was down (not sent).
        public var refused: Int64 = 0
        /// Readings held while their connection was down (a broker outage) and sent when it was back.
        public var held: Int64 = 0
        /// Duplicates that at-least-once delivery made across a lost broker connection (of
        /// readings that came before it; the rest of `duplicates` are the devices' own copies).
        public var redeliveries: Int64 = 0
        /// Publishes the devices sent again after reconnecting (unacknowledged when their
        /// connection was lost): an upper bound of the copies their sessions made.
        public var resentByDevices: Int64 = 0
        /// Readings the broker acknowledged with a failure (MQTT 5, e.g. an ACL's "Not
        /// authorized"): published, never delivered, not counted as lost.
        public var readingsRefusedByBroker: Int64 = 0
        /// Sent but never received by the gateway (distinct messages: neither the duplicate fault's
        /// copies nor the broker's redeliveries make up for a lost one).
        public var lost: Int64
        public var allArrived: Bool
        public var acceptedByDomain: [String: Int64]
        public var duplicatesByDomain: [String: Int64]
        public var lateByDomain: [String: Int64]
        public var windowsEmitted: Int64
        public var corrections: Int64
        public var indicatorsEmitted: Int64
    }
    public var simulation: RunSummary
    /// `broker` (through MQTT) or `direct` (straight into the gateway's ingest).
    public var path = "broker"
    /// How each annual indicator of the index was obtained from the period the run covers.
    public var annual: [String: String] = [:]
    /// True when the broker stayed unreachable past --broker-outage and the run gave it up.
    public var brokerLost = false
    /// True when Ctrl-C ended the run early; the rest covers what was sent until then.
    public var interrupted = false
    /// Fault episodes and city events in `labels.csv` (the ground truth).
    public var labels = 0
    /// The gateway's alarms scored against the labels, per kind (see `AlarmScore`).
    public var detection: [AlarmScore] = []
    public var simulatedUntil = ""
    /// Publisher hand-off to gateway receipt, on a hash-chosen sample of the messages.
    public var latency: LatencyProbe.Summary?
    public var telemetry: Telemetry
    /// Where every message went, per class (see `MessageBalance`).
    public var balance: MessageBalance
    public var wallSeconds: Double
    public var messagesPerSecond: Double
    /// Newest daily value of every indicator per city.
    public var indicators: [String: [String: Double]]
    public var index: IndexOutcome

    init(simulation: RunSummary, balance: MessageBalance, counters: IngestCounters, wallSeconds: Double,
         indicators: [String: [String: Double]], index: IndexOutcome, publisher: Publisher.Outcome?, arrived: Bool) {
        self.index = index
        self.simulation = simulation
        self.balance = balance
        let r = balance.readings
        telemetry = Telemetry(
            sent: r.sent + balance.statuses.sent, received: balance.received, accepted: r.accepted, duplicates: r.duplicates,
            late: r.late, tooLate: r.tooLate, invalid: r.invalid, invalidByReason: r.invalidByReason,
            statusMessages: balance.statuses.delivered, redeliveries: r.redeliveries, readingsRefusedByBroker: r.refusedByBroker,
            lost: r.lost, allArrived: arrived,
            acceptedByDomain: counters.acceptedByDomain.byName, duplicatesByDomain: counters.duplicatesByDomain.byName,
            lateByDomain: counters.lateByDomain.byName,
            windowsEmitted: counters.windowsEmitted, corrections: counters.corrections, indicatorsEmitted: counters.indicatorsEmitted)
        if let publisher {
            telemetry.refused = Int64(publisher.refused)
            telemetry.held = Int64(publisher.held)
            telemetry.resentByDevices = Int64(publisher.resent)
        }
        self.wallSeconds = wallSeconds
        messagesPerSecond = wallSeconds > 0 ? Double(telemetry.sent) / wallSeconds : 0
        self.indicators = indicators
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    public func text() -> String {
        let t = telemetry
        var lines = [
            interrupted ? "interrupted at simulated \(simulatedUntil); figures cover what was sent until then" : "",
            "scenario \(simulation.scenario) (hash \(simulation.scenarioHash)), seed \(simulation.seed): \(simulation.start) to \(simulation.end), \(simulation.devices) devices",
            "messages: sent \(t.sent), received \(t.received), lost \(t.lost)\(t.readingsRefusedByBroker > 0 ? ", readings refused by the broker \(t.readingsRefusedByBroker)" : ""); readings accepted \(t.accepted), duplicates \(t.duplicates)\(t.redeliveries > 0 ? " (re-sent across a broker outage \(t.redeliveries))" : ""), late \(t.late), too late \(t.tooLate), invalid \(t.invalid)",
        ] + balance.lines.map { "  " + $0 } + [
            latency.map { "delivery latency (\($0.samples) samples): p50 \(fixed($0.p50Ms, 1)) ms, p90 \(fixed($0.p90Ms, 1)) ms, p99 \(fixed($0.p99Ms, 1)) ms, max \(fixed($0.maxMs, 1)) ms" } ?? "",
            "wall time \(fixed(wallSeconds, 1)) s, \(Int(messagesPerSecond)) msg/s; windows \(t.windowsEmitted) + \(t.corrections) corrections, indicator values \(t.indicatorsEmitted)",
        ]
        if !detection.isEmpty {
            lines.append("alarms against the \(labels) labels (raised between an episode's start and its end + \(AlarmScore.tolerance / 60) min):")
            lines += detection.map { "  " + $0.line }
        }
        let pillars = index.pillars.map(\.code)
        let table = TextTable(["city", "stage"] + pillars + [index.code, "rank", "from telemetry"])
        for city in index.cities {
            let scores: [String] = pillars.map { p -> String in
                guard let v = city.pillars[p] else { return "-" }
                return fixed(v, 1)
            }
            let total: String = city.score.map { fixed($0, 1) } ?? "-"
            let rank: String = city.rank.map { String($0) } ?? "-"
            table.add([city.city, city.stage] + scores + [total, rank, city.telemetryShare.map { "\(fixed($0 * 100, 0)) %" } ?? "-"])
        }
        lines.append("\(index.name) (pillars: " + index.pillars.map { "\($0.code) \($0.name)" }.joined(separator: "; ") + "):")
        lines.append(table.render())
        return lines.filter { !$0.isEmpty }.joined(separator: "\n")
    }
}
