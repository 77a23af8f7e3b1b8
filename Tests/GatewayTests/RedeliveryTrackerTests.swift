@testable import Gateway
import Testing

/// The broker's redeliveries after a lost connection are told apart from devices' copies.
@Suite struct RedeliveryTrackerTests {
    /// Feeds message `n` on `connection`; `duplicate` is what the aggregation said of it.
    func feed(_ tracker: inout RedeliveryTracker, _ n: Int, connection: Int, duplicate: Bool) {
        let topic = Array("city/almaty/water/north/alm-wm-\(n)/attrs".utf8)
        let payload = Array("[{\"bn\":\"m\(n)\",\"v\":\(n)}]".utf8)
        let identity = topic.withUnsafeBufferPointer { t in
            payload.withUnsafeBufferPointer { tracker.arrived(topic: t, payload: $0, connection: connection) }
        }
        tracker.taken(identity, duplicate: duplicate)
    }

    @Test func theEndOfTheLastConnectionComingAgainIsARedelivery() {
        var tracker = RedeliveryTracker()
        for n in 0..<100 { feed(&tracker, n, connection: 1, duplicate: false) }
        // A device's copy on the same connection is not the broker's.
        feed(&tracker, 99, connection: 1, duplicate: true)
        #expect(tracker.redeliveries == 0)
        // The connection is lost; the broker sends the last 20 again, then new messages.
        for n in 80..<100 { feed(&tracker, n, connection: 2, duplicate: true) }
        for n in 100..<110 { feed(&tracker, n, connection: 2, duplicate: false) }
        #expect(tracker.redeliveries == 20)
        // Each is counted once: the same bytes again are a device's copy.
        feed(&tracker, 85, connection: 2, duplicate: true)
        #expect(tracker.redeliveries == 20)
    }

    @Test func aCopyLongAfterTheReconnectIsTheDevices() {
        var tracker = RedeliveryTracker()
        for n in 0..<10 { feed(&tracker, n, connection: 1, duplicate: false) }
        for n in 10..<(10 + RedeliveryTracker.capacity + 1) { feed(&tracker, n, connection: 2, duplicate: false) }
        feed(&tracker, 5, connection: 2, duplicate: true)
        #expect(tracker.redeliveries == 0)
        // Nor is a message the aggregation took as new a redelivery.
        var fresh = RedeliveryTracker()
        for n in 0..<10 { feed(&fresh, n, connection: 1, duplicate: false) }
        feed(&fresh, 9, connection: 2, duplicate: false)
        #expect(fresh.redeliveries == 0)
    }
}
