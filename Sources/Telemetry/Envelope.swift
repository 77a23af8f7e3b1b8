/// What every telemetry pack carries besides a family's attributes: the base name naming the
/// entity and device, the device's sequence number and its send time.
public enum Envelope {
    /// Base names are `urn:ngsi-ld:{EntityType}:{deviceId}:`.
    public static let baseNamePrefix: StaticString = "urn:ngsi-ld:"
    /// Record `seq`: the device's message counter, a whole number from 0 (deduplication).
    public static let sequence: StaticString = "seq"
    /// Record `sent`: the wall-clock send time in `s` (ingest lag, delivery latency).
    public static let sent: StaticString = "sent"
    public static let sentUnit: StaticString = "s"

    /// Payloads of a device's retained status topic (`.../status`); `offline` is also its last will.
    public static let statusOnline: StaticString = "online"
    public static let statusOffline: StaticString = "offline"

    public static func baseName(entityType: String, device: String) -> String {
        "\(baseNamePrefix)\(entityType):\(device):"
    }
}
