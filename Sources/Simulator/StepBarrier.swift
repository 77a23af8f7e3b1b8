/// Keeps a run's connections in step in simulated time. Send times are cut into steps; before
/// the first message of a step leaves, every message of the steps two back must be settled
/// (acknowledged by the broker at QoS 1 and 2, so queued for its subscribers; written at QoS 0).
/// A subscriber therefore never gets a message more than two steps older than one it already
/// has, whatever the speed, the machine or a slow connection: with steps of half the allowed
/// drift, a gateway whose lateness covers the drift and the longest fault delay takes every
/// reading, at `--speed max` as in real time.
struct StepBarrier {
    /// Length of a step, ms of simulated time.
    let step: Int64
    private var current = Int64.min
    /// Messages handed to each connection so far, and that count when the current step began.
    private var handed: [Int]
    private var atStepStart: [Int]
    /// The settled count last seen of each connection (saves asking the ones already there).
    private var settled: [Int]

    init(maximumDrift ms: Int64, connections: Int) {
        step = max(1, ms / 2)
        handed = [Int](repeating: 0, count: connections)
        atStepStart = handed
        settled = handed
    }

    /// The drift the barrier allows, ms: a subscriber's messages are never further apart.
    var bound: Int64 { 2 * step }

    mutating func hand(_ connection: Int) { handed[connection] += 1 }

    /// Called before a message with send time `ms` leaves. When it begins a new step: for each
    /// connection, how many of its messages must be settled first (the steps two back; all
    /// so far when steps were skipped). Nil within a step.
    mutating func enter(_ ms: Int64) -> [Int]? {
        var k = ms / step
        if ms < 0, k * step != ms { k -= 1 }
        guard k > current else { return nil }
        let target = k == current + 1 ? atStepStart : handed
        atStepStart = handed
        current = k
        return target
    }

    /// The connections among `target` not known to have settled their share, with the count
    /// each must reach; `seen` records a settled count looked up.
    func unsettled(_ target: [Int]) -> [(connection: Int, count: Int)] {
        var out: [(Int, Int)] = []
        for c in target.indices where target[c] > settled[c] { out.append((c, target[c])) }
        return out
    }

    mutating func seen(_ connection: Int, settled count: Int) { settled[connection] = max(settled[connection], count) }
}
