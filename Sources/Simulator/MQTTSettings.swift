import Telemetry

public struct MQTTSettings: Sendable {
    public var broker: String?
    public var qos: Int = 1
    public var protocolVersion = "3.1.1"
    public var keepAlive = 60
    public var username: String?
    public var password: String?
    public var caFile: String?
    public var certificateFile: String?
    public var keyFile: String?
    public var insecure = false
    public var clientPrefix = "sim"
    /// Placeholders {city} {domain} {district} {device} {kind}; kind is `attrs` or `status`.
    public var topic = TopicScheme.template
    /// Unacknowledged messages per connection at QoS 1/2 when running at --speed max.
    public var inflight = 100
    /// Simulated seconds whose messages leave in one write pass per connection (0: each at
    /// once). Messages of one connection stay in order; those of different connections may
    /// arrive out of order by up to this span, in exchange for fewer, fuller TCP segments.
    public var coalesce: Int64 = 60
    /// Simulated seconds by which one connection's messages may run ahead of another's on their
    /// way through the broker (`StepBarrier`); a gateway's lateness must cover it and the
    /// longest fault delay.
    public var maxDrift: Int64 = 300
    /// New connections per second at the start (nil: as fast as the handshakes go), and how
    /// many handshakes may be under way at once.
    public var connectRate: Double?
    public var handshakes = 256
    /// Local addresses the connections leave from, when one address has too few ports for
    /// the fleet (a local broker gets 127.0.0.1, 127.0.0.2, ... without them).
    public var sourceAddresses: [String] = []
    /// Connections per source address (nil: the system's ephemeral ports less 1,000).
    public var connectionsPerAddress: Int?
    public init() {}

    /// A connection rate as written: `500`, `500/s`, `30000/m`.
    public static func rate(parsing text: String) -> Double? {
        let t = text.filter { $0 != " " }
        let (number, per): (Substring, Double) = t.hasSuffix("/s") ? (t.dropLast(2), 1) : t.hasSuffix("/m") ? (t.dropLast(2), 60) : (Substring(t), 1)
        guard let value = Double(number), value.isFinite, value > 0 else { return nil }
        return value / per
    }
}
