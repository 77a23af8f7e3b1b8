/// Tells the broker's re-sends to the gateway apart from the copies devices send. After the
/// gateway's connection was lost, the broker sends again, with the same bytes, what it had not
/// seen acknowledged: messages that came near the end of the previous connection. A duplicate
/// among the first `capacity` messages of a new connection whose bytes were among the last
/// `capacity` of the previous one is counted as a redelivery; any other duplicate is a device's
/// copy (the duplicate fault's, or a device session's re-send after its own reconnect, which
/// the broker forwards as a new message). libmosquitto does not hand over the packet's DUP flag.
struct RedeliveryTracker {
    /// Messages remembered: more than a fleet of thousands of connections keeps in flight.
    static let capacity = 1 << 18
    /// Identities of the current connection's last messages (a ring), and those of the
    /// previous connection's end that have not come again yet.
    private var recent = [UInt64](repeating: 0, count: capacity)
    private var next = 0
    private var filled = 0
    private var expected: Set<UInt64> = []
    /// Messages of the current connection; after `capacity` of them the previous one's end no
    /// longer counts (redeliveries come first).
    private var sinceConnect = 0
    private var connection = 0
    private(set) var redeliveries: Int64 = 0

    /// Notes a message received on connection number `connection` (`MQTTClient.connections`)
    /// and returns its identity, for `taken`.
    mutating func arrived(topic: UnsafeBufferPointer<UInt8>, payload: UnsafeBufferPointer<UInt8>, connection: Int) -> UInt64 {
        if connection != self.connection {
            if self.connection != 0 {
                expected = Set(recent.prefix(filled))
            }
            self.connection = connection
            next = 0
            filled = 0
            sinceConnect = 0
        }
        sinceConnect += 1
        if sinceConnect > Self.capacity, !expected.isEmpty { expected = [] }
        var hasher = Hasher()
        hasher.combine(bytes: UnsafeRawBufferPointer(topic))
        hasher.combine(0xFF as UInt8)
        hasher.combine(bytes: UnsafeRawBufferPointer(payload))
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    /// Records what the aggregation made of the message.
    mutating func taken(_ identity: UInt64, duplicate: Bool) {
        if duplicate, !expected.isEmpty, expected.remove(identity) != nil { redeliveries += 1 }
        recent[next] = identity
        next = (next + 1) % Self.capacity
        filled = min(filled + 1, Self.capacity)
    }
}
