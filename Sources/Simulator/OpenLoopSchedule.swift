import MQTT

/// An open-loop schedule: each message is due at an offset from the start on the wall clock
/// and is handed over then, whether or not the receiver has caught up; how late one is handed
/// over is the scheduler's lag.
public struct OpenLoopSchedule: Sendable {
    public let clock = ContinuousClock()
    public let began: ContinuousClock.Instant
    /// The lag of the latest late message, and the largest.
    public private(set) var lag = 0.0
    public private(set) var maximumLag = 0.0

    public init() { began = clock.now }

    /// Waits until `offset` after the start (calling `beforeSleep` first, when it must wait),
    /// or notes how late that is already.
    public mutating func wait(until offset: Duration, beforeSleep: () -> Void = {}) async {
        let due = began + offset, now = clock.now
        if due > now + .milliseconds(1) {
            beforeSleep()
            try? await Task.sleep(until: due, clock: clock)
        } else if now > due {
            lag = (now - due).seconds
            maximumLag = max(maximumLag, lag)
        }
    }
}
