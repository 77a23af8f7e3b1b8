/// Matches broker acknowledgements (PUBACK/PUBCOMP, SUBACK, UNSUBACK) to the callers awaiting
/// them. An acknowledgement can arrive on the network thread before the caller has learnt its
/// message id, so results are parked while any caller is between sending and waiting.
struct AckTable {
    private var waiters: [Int32: CheckedContinuation<Int32, any Error>] = [:]
    private var early: [Int32: Int32] = [:]
    private var expecting = 0

    mutating func expect() { expecting += 1 }

    /// The caller gave up before waiting (the send failed).
    mutating func abandon() {
        expecting -= 1
        if expecting == 0 { early.removeAll(keepingCapacity: true) }
    }

    /// Returns the result at once if it already arrived, else parks the continuation.
    mutating func wait(for mid: Int32, _ continuation: CheckedContinuation<Int32, any Error>) -> Int32? {
        expecting -= 1
        defer { if expecting == 0 { early.removeAll(keepingCapacity: true) } }
        if let code = early.removeValue(forKey: mid) { return code }
        waiters[mid] = continuation
        return nil
    }

    /// Returns the continuation to resume (outside the lock), if someone waits for `mid`.
    mutating func complete(_ mid: Int32, code: Int32) -> CheckedContinuation<Int32, any Error>? {
        if let waiter = waiters.removeValue(forKey: mid) { return waiter }
        if expecting > 0 { early[mid] = code }
        return nil
    }

    mutating func failAll() -> [CheckedContinuation<Int32, any Error>] {
        defer { waiters.removeAll() }
        return Array(waiters.values)
    }
}
