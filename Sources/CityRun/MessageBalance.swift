import Gateway
import Simulator
import Telemetry

/// Where every message of a run went, per class, in terms that add up exactly:
///
/// - readings: `generated = notSent + sent`, `sent = refusedByBroker + delivered + copiesDelivered + lost`,
///   `delivered = accepted + tooLate + invalid`; the gateway's duplicates are the copies that
///   arrived and the broker's redeliveries.
/// - statuses: `generated = notSent + sent + wills` (a device whose link a fault cut says
///   `offline` through its last will, which the broker publishes), `sent + wills =
///   refusedByBroker + delivered + lost`.
///
/// `received` at the gateway is `readings.delivered + readings.duplicates + statuses.delivered`.
/// `lost` is the residual: 0 whenever every message that left arrived, on every path.
public struct MessageBalance: Encodable, Sendable, Equatable {
    public struct Readings: Encodable, Sendable, Equatable {
        /// Telemetry messages the simulator made, a device's copies included.
        public var generated: Int64 = 0
        /// Never handed to the broker: the device's connection stayed down, or a load profile
        /// kept the device quiet.
        public var notSent: Int64 = 0
        public var sent: Int64 = 0
        /// Published, and acknowledged by the broker with a failure (MQTT 5, e.g. an ACL's "Not
        /// authorized"): never delivered, not lost.
        public var refusedByBroker: Int64 = 0
        /// Second copies the duplicate fault made, and those of them that reached the gateway
        /// (it drops them as duplicates).
        public var copies: Int64 = 0
        public var copiesDelivered: Int64 = 0
        /// Distinct readings that reached the gateway, and what it made of them.
        public var delivered: Int64 = 0
        public var accepted: Int64 = 0
        public var tooLate: Int64 = 0
        public var invalid: Int64 = 0
        public var invalidByReason: [String: Int64] = [:]
        /// Accepted after their window had been emitted: the window was corrected (how many
        /// depends on the arrival order; the final windows do not).
        public var late: Int64 = 0
        /// Copies the gateway dropped: the devices' own, and the broker's redeliveries across a
        /// lost gateway connection.
        public var duplicates: Int64 = 0
        public var redeliveries: Int64 = 0
        public var lost: Int64 = 0
    }

    public struct Statuses: Encodable, Sendable, Equatable {
        public var generated: Int64 = 0
        public var notSent: Int64 = 0
        public var sent: Int64 = 0
        /// Last wills the broker published for connections a fault cut.
        public var wills: Int64 = 0
        public var refusedByBroker: Int64 = 0
        public var delivered: Int64 = 0
        public var lost: Int64 = 0
    }

    public var readings = Readings()
    public var statuses = Statuses()
    /// Every message the gateway took (duplicates included; retained statuses handed over on
    /// subscribing are not messages of this run).
    public var received: Int64 = 0

    public init() {}

    init(path: PathOutcome, generator: Generator) {
        let stats = generator.stats, c = path.counters
        readings.generated = Int64(stats.messages - stats.statuses)
        statuses.generated = Int64(stats.statuses)
        readings.copies = Int64(stats.faults[.duplicate, default: 0])
        if let p = path.publisher {
            readings.sent = Int64(p.publishedReadings)
            readings.refusedByBroker = Int64(p.readingsRefusedByBroker)
            statuses.sent = Int64(p.published - p.publishedReadings)
            statuses.wills = Int64(p.wills)
            statuses.refusedByBroker = Int64(p.refusedByBroker.values.reduce(0, +) - p.readingsRefusedByBroker)
        } else {
            readings.sent = readings.generated
            statuses.sent = statuses.generated
        }
        readings.notSent = readings.generated - readings.sent
        statuses.notSent = statuses.generated - statuses.sent - statuses.wills
        readings.accepted = c.accepted
        readings.tooLate = c.tooLate
        readings.invalid = c.rejected
        readings.invalidByReason = Dictionary(uniqueKeysWithValues: RejectReason.allCases.filter { c.invalid[$0] > 0 }.map { ($0.rawValue, c.invalid[$0]) })
        readings.delivered = c.accepted + c.tooLate + c.rejected
        readings.late = c.late
        readings.duplicates = c.duplicates
        readings.redeliveries = path.redeliveries
        readings.copiesDelivered = c.duplicates - path.redeliveries
        readings.lost = readings.sent - readings.refusedByBroker - readings.delivered - readings.copiesDelivered
        statuses.delivered = c.statusMessages
        statuses.lost = statuses.sent + statuses.wills - statuses.refusedByBroker - statuses.delivered
        received = c.received
    }

    /// The balance as lines for the console and the report.
    public var lines: [String] {
        let r = readings, s = statuses
        let invalid = r.invalidByReason.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return [
            "readings: generated \(r.generated) = not sent \(r.notSent) + sent \(r.sent); sent = refused by the broker \(r.refusedByBroker) + delivered \(r.delivered) + copies delivered \(r.copiesDelivered) (of \(r.copies) made) + lost \(r.lost)",
            "  delivered \(r.delivered) = accepted \(r.accepted) (late, corrected a window: \(r.late)) + too late \(r.tooLate) + invalid \(r.invalid)\(invalid.isEmpty ? "" : " (\(invalid))"); duplicates dropped \(r.duplicates) (redelivered by the broker \(r.redeliveries))",
            "statuses: generated \(s.generated) = not sent \(s.notSent) + sent \(s.sent) + last wills \(s.wills); sent + wills = refused by the broker \(s.refusedByBroker) + delivered \(s.delivered) + lost \(s.lost)",
            "received by the gateway \(received) = readings delivered \(r.delivered) + duplicates \(r.duplicates) + statuses delivered \(s.delivered)",
        ]
    }
}
