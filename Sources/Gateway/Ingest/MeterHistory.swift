/// How a cumulative meter moved between two readings.
struct MeterStep: Equatable {
    enum Kind: Equatable { case forward, reset, rollover }
    var amount: Double
    var kind: Kind

    /// The increment from `previous` to `next` on a meter that may have been reset to zero or
    /// wrapped at its rollover.
    static func between(_ previous: Double, _ next: Double, rollover: Double?) -> MeterStep {
        if next >= previous { return MeterStep(amount: next - previous, kind: .forward) }
        if let r = rollover, next + r - previous < r / 2 { return MeterStep(amount: next + r - previous, kind: .rollover) }
        return MeterStep(amount: next, kind: .reset)
    }
}

/// What one meter reading adds to the windows: up to three increments, each with the span of
/// event time it accrued over (from the earlier reading to the later one), so the windows can
/// share it in proportion to time (one for a reading in order; a reading slotted between two
/// others takes back the increment of the span it splits and adds its two halves), and whether
/// the in-order step was a reset or a rollover.
struct MeterIncrements {
    typealias Item = (from: Int64, to: Int64, amount: Double)
    private(set) var count = 0
    private var items: (Item, Item, Item) = ((0, 0, 0), (0, 0, 0), (0, 0, 0))
    /// The kind of the step from the newest kept reading, for a reading that arrives in order.
    var step: MeterStep.Kind?

    mutating func append(from: Int64, to: Int64, amount: Double) {
        withUnsafeMutableBytes(of: &items) { $0.storeBytes(of: (from, to, amount), toByteOffset: count * MemoryLayout<Item>.stride, as: Item.self) }
        count += 1
    }

    subscript(i: Int) -> Item {
        withUnsafeBytes(of: items) { $0.load(fromByteOffset: i * MemoryLayout<Item>.stride, as: Item.self) }
    }
}

/// The last few readings of one cumulative meter, by event time: a reading that arrives out of
/// order is slotted between its neighbours and the increments are split exactly.
struct MeterHistory: BitwiseCopyable {
    static let depth = 4
    var attribute: Int32
    var count: Int32 = 0
    /// True once an old point was dropped: a reading before the oldest kept has no known predecessor.
    var dropped = false
    var t: (Int64, Int64, Int64, Int64) = (0, 0, 0, 0)
    var v: (Double, Double, Double, Double) = (0, 0, 0, 0)

    init(attribute: Int32) { self.attribute = attribute }

    func time(_ i: Int) -> Int64 { withUnsafeBytes(of: t) { $0.load(fromByteOffset: i * 8, as: Int64.self) } }
    func value(_ i: Int) -> Double { withUnsafeBytes(of: v) { $0.load(fromByteOffset: i * 8, as: Double.self) } }
    private mutating func set(_ i: Int, _ time: Int64, _ value: Double) {
        withUnsafeMutableBytes(of: &t) { $0.storeBytes(of: time, toByteOffset: i * 8, as: Int64.self) }
        withUnsafeMutableBytes(of: &v) { $0.storeBytes(of: value, toByteOffset: i * 8, as: Double.self) }
    }

    /// Takes a reading and returns the increments it adds.
    mutating func record(time: Int64, value: Double, rollover: Double?) -> MeterIncrements {
        var out = MeterIncrements()
        let n = Int(count)
        // Find where the reading goes among the kept ones (sorted by time).
        var at = n
        while at > 0, self.time(at - 1) > time { at -= 1 }
        if at > 0, self.time(at - 1) == time { return out }  // same time again: nothing new
        if n > 0 {
            if at == n {
                let step = MeterStep.between(self.value(n - 1), value, rollover: rollover)
                out.step = step.kind
                out.append(from: self.time(n - 1), to: time, amount: step.amount)
            } else if at == 0 {
                // Older than every kept reading: only exact if nothing older was ever dropped.
                if !dropped { out.append(from: time, to: self.time(0), amount: MeterStep.between(value, self.value(0), rollover: rollover).amount) }
            } else {
                let before = self.value(at - 1), after = self.value(at), beforeTime = self.time(at - 1), afterTime = self.time(at)
                out.append(from: beforeTime, to: afterTime, amount: -MeterStep.between(before, after, rollover: rollover).amount)
                out.append(from: beforeTime, to: time, amount: MeterStep.between(before, value, rollover: rollover).amount)
                out.append(from: time, to: afterTime, amount: MeterStep.between(value, after, rollover: rollover).amount)
            }
        }
        if at == 0, n == Self.depth {
            dropped = true
            return out
        }
        // Insert at `at`, dropping the oldest when full.
        var kept = n
        var position = at
        if kept == Self.depth {
            for i in 0..<(kept - 1) { set(i, self.time(i + 1), self.value(i + 1)) }
            kept -= 1
            position -= 1
            dropped = true
        }
        var i = kept
        while i > position {
            set(i, self.time(i - 1), self.value(i - 1))
            i -= 1
        }
        set(position, time, value)
        count = Int32(kept + 1)
        return out
    }
}
