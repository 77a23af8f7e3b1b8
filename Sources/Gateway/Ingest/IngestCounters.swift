import Telemetry

/// Counters since the gateway's state began (they survive restarts through checkpoints).
public struct IngestCounters: Sendable, Equatable, BitwiseCopyable {
    public var received: Int64 = 0
    public var accepted: Int64 = 0
    public var duplicates: Int64 = 0
    public var late: Int64 = 0
    public var tooLate: Int64 = 0
    public var statusMessages: Int64 = 0
    /// Retained statuses the broker hands over on every subscription: the devices' last known
    /// state, not messages received; they are not in `received`.
    public var retainedStatuses: Int64 = 0
    public var windowsEmitted: Int64 = 0
    public var corrections: Int64 = 0
    public var indicatorsEmitted: Int64 = 0
    public var meterResets: Int64 = 0
    public var meterRollovers: Int64 = 0
    public var readings: Int64 = 0
    /// Devices registered that the roster does not name (with accept-unknown-devices).
    public var unknownDevices: Int64 = 0
    /// Sum of (arrival - send time) over accepted messages with a send time, in ms, and how many.
    public var lagSumMs: Double = 0
    public var lagCount: Int64 = 0
    public var invalid = InvalidCounts()
    public var acceptedByDomain = DomainCounts()
    public var duplicatesByDomain = DomainCounts()
    public var lateByDomain = DomainCounts()

    public init() {}

    public var rejected: Int64 { invalid.total }

    /// The counters of several instances (partitions) as one.
    public static func + (a: IngestCounters, b: IngestCounters) -> IngestCounters {
        var c = a
        c.received += b.received
        c.accepted += b.accepted
        c.duplicates += b.duplicates
        c.late += b.late
        c.tooLate += b.tooLate
        c.statusMessages += b.statusMessages
        c.retainedStatuses += b.retainedStatuses
        c.windowsEmitted += b.windowsEmitted
        c.corrections += b.corrections
        c.indicatorsEmitted += b.indicatorsEmitted
        c.meterResets += b.meterResets
        c.meterRollovers += b.meterRollovers
        c.readings += b.readings
        c.unknownDevices += b.unknownDevices
        c.lagSumMs += b.lagSumMs
        c.lagCount += b.lagCount
        for reason in RejectReason.allCases { c.invalid[reason] += b.invalid[reason] }
        for domain in Domain.allCases {
            c.acceptedByDomain[domain] += b.acceptedByDomain[domain]
            c.duplicatesByDomain[domain] += b.duplicatesByDomain[domain]
            c.lateByDomain[domain] += b.lateByDomain[domain]
        }
        return c
    }
}

public struct InvalidCounts: Sendable, Equatable, BitwiseCopyable {
    var storage: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64,
                  Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    public subscript(reason: RejectReason) -> Int64 {
        get { withUnsafeBytes(of: storage) { $0.load(fromByteOffset: reason.index * 8, as: Int64.self) } }
        set { withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: newValue, toByteOffset: reason.index * 8, as: Int64.self) } }
    }
    public var total: Int64 { RejectReason.allCases.reduce(0) { $0 + self[$1] } }
    public static func == (a: InvalidCounts, b: InvalidCounts) -> Bool { RejectReason.allCases.allSatisfy { a[$0] == b[$0] } }
}

public struct DomainCounts: Sendable, Equatable, BitwiseCopyable {
    var storage: (Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0)
    public subscript(domain: Domain) -> Int64 {
        get { withUnsafeBytes(of: storage) { $0.load(fromByteOffset: domain.ordinal * 8, as: Int64.self) } }
        set { withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: newValue, toByteOffset: domain.ordinal * 8, as: Int64.self) } }
    }
    public static func == (a: DomainCounts, b: DomainCounts) -> Bool { Domain.allCases.allSatisfy { a[$0] == b[$0] } }
    /// The counts keyed by domain name.
    public var byName: [String: Int64] { Dictionary(uniqueKeysWithValues: Domain.allCases.map { ($0.rawValue, self[$0]) }) }
}
