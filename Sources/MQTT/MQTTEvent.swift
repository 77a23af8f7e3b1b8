/// Connection life-cycle events, in the order they happen.
public enum MQTTEvent: Sendable, Equatable {
    /// CONNACK accepted. `sessionPresent` is true when the broker kept a persistent session.
    case connected(sessionPresent: Bool)
    /// The connection ended: `nil` when asked for with `disconnect()`, else why it was lost.
    case disconnected(MQTTError?)
    /// A reconnect attempt is scheduled after `delay`.
    case reconnecting(attempt: Int, delay: Duration)
}
