import Foundation
import Synchronization
import Logging
import Metrics
import ServiceLifecycle
import Telemetry

/// Waiting for what the gateway has taken: callers (a run, tests) await counts instead of polling.
extension GatewayService {
    /// What a waiter counts: accepted telemetry, every message, or distinct readings (telemetry
    /// messages but the duplicates: a broker's redeliveries do not count twice), or statuses.
    enum Tally { case accepted, received, readings, statuses }

    /// Resumes the waiters whose count was reached (under the lock).
    func resumeWaiters() {
        let counters = aggregator.counters
        waiters.removeAll { waiter in
            let reached = switch waiter.tally {
            case .accepted: counters.accepted
            case .received: counters.received
            case .readings: counters.received - counters.duplicates - counters.statusMessages
            case .statuses: counters.statusMessages
            }
            guard reached >= waiter.count else { return false }
            waiter.continuation.resume()
            return true
        }
    }

    /// Distinct telemetry messages so far (what `waitUntilReadings` counts).
    public var readings: Int64 {
        lock.withLock { aggregator.counters.received - aggregator.counters.duplicates - aggregator.counters.statusMessages }
    }

    /// Returns once `count` telemetry messages have been accepted (counted once each), or
    /// when the task is cancelled.
    public func waitUntilAccepted(_ count: Int64) async { await wait(count, .accepted) }

    /// Returns once `count` messages (of any outcome) have been received since the state
    /// began, or when the task is cancelled (a caller that gave up waiting is not held).
    public func waitUntilReceived(_ count: Int64) async { await wait(count, .received) }

    /// Returns once `count` distinct telemetry messages arrived (received minus duplicates and
    /// statuses, so the broker's redeliveries after an outage do not count), or when the task
    /// is cancelled.
    public func waitUntilReadings(_ count: Int64) async { await wait(count, .readings) }

    /// Status messages so far (what `waitUntilStatuses` counts).
    public var statuses: Int64 { lock.withLock { aggregator.counters.statusMessages } }

    /// Returns once `count` status messages (the devices' own and the broker's last wills)
    /// arrived, or when the task is cancelled.
    public func waitUntilStatuses(_ count: Int64) async { await wait(count, .statuses) }

    func wait(_ count: Int64, _ tally: Tally) async {
        let id = lock.withLock {
            nextWaiter += 1
            return nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                lock.lock()
                defer { lock.unlock() }
                guard !Task.isCancelled else { return continuation.resume() }
                waiters.append((id, count, tally, continuation))
                resumeWaiters()
            }
        } onCancel: {
            lock.lock()
            let waiter = waiters.firstIndex { $0.id == id }.map { waiters.remove(at: $0) }
            lock.unlock()
            waiter?.continuation.resume()
        }
    }

    /// Feeds one message as if it came from the broker (file replay, tests), arriving now or
    /// at `arrivalMs` (a recording's send time).
}
