import Telemetry

/// One message the simulation produces, in send-time order.
public struct SimMessage: Sendable {
    public enum Kind: Sendable, Equatable {
        case telemetry
        /// A retained `online` / `offline` status.
        case status
    }

    public var kind = Kind.telemetry
    public var topic: [UInt8] = []
    public var payload: [UInt8] = []
    public var retain = false
    /// Simulated event time of the reading (seconds since 1970).
    public var eventTime: Int64 = 0
    /// Simulated send time in milliseconds since 1970 (later than the event for delayed messages).
    public var sendTime: Int64 = 0
    public var domain = Domain.mobility
    /// Which fleet of the generator and which device of that fleet sent it.
    public var fleet = 0
    public var device = 0
    /// An `offline` status caused by a lost connection (the broker would send it as the will).
    public var abrupt = false

    public init() {}

    public var topicString: String { String(decoding: topic, as: UTF8.self) }
    public var payloadString: String { String(decoding: payload, as: UTF8.self) }
}

/// Which part of the fleet this process simulates: `index` of `count`.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public static let whole = Shard(index: 0, count: 1)

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// `2/4` is the third of four shards (numbered from 0).
    public init?(parsing text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else { return nil }
        self.init(index: i, count: n)
    }

    @inline(__always)
    func owns(_ key: UInt64) -> Bool { count == 1 || Int(mix64(key ^ 0x7368_6172_64) % UInt64(count)) == index }

    public var description: String { "\(index)/\(count)" }
}

/// What a run produced, by domain and by fault.
public struct SimulationStats: Sendable {
    /// Telemetry messages per domain, in `Domain.allCases` order.
    var perDomain = [Int](repeating: 0, count: Domain.allCases.count)
    public var statuses = 0
    public var faults: [FaultKind: Int] = [:]
    public var bytes = 0
    public var devices = 0

    public var telemetry: [Domain: Int] {
        Dictionary(uniqueKeysWithValues: Domain.allCases.enumerated().filter { perDomain[$0.offset] > 0 }.map { ($0.element, perDomain[$0.offset]) })
    }

    public var messages: Int { perDomain.reduce(0, +) + statuses }
}
