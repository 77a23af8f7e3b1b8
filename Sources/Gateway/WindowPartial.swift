/// The mergeable summary of one attribute over one window: partials of the same window from
/// several gateway instances (or districts) merge into the partial of their union.
public struct WindowPartial: Sendable, Equatable, BitwiseCopyable {
    public var count: Int64 = 0
    public var sum = 0.0
    public var sumSquares = 0.0
    public var min = Double.infinity
    public var max = -Double.infinity
    /// Earliest and latest reading by event time (ms); ties go to the smaller and larger value,
    /// so the result does not depend on arrival order.
    public var firstTime = Int64.max
    public var firstValue = 0.0
    public var lastTime = Int64.min
    public var lastValue = 0.0
    /// For cumulative meters: the sum of per-device increments whose later reading falls in
    /// the window (resets and rollovers handled); for `collected`, the kilograms emptied.
    public var increment = 0.0

    public init() {}

    @inline(__always)
    public mutating func add(_ value: Double, at time: Int64) {
        count += 1
        sum += value
        sumSquares += value * value
        if value < min { min = value }
        if value > max { max = value }
        if time < firstTime || (time == firstTime && value < firstValue) {
            firstTime = time
            firstValue = value
        }
        if time > lastTime || (time == lastTime && value > lastValue) {
            lastTime = time
            lastValue = value
        }
    }

    public mutating func merge(_ other: WindowPartial) {
        guard other.count > 0 || other.increment != 0 else { return }
        count += other.count
        sum += other.sum
        sumSquares += other.sumSquares
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
        if other.firstTime < firstTime || (other.firstTime == firstTime && other.firstValue < firstValue) {
            firstTime = other.firstTime
            firstValue = other.firstValue
        }
        if other.lastTime > lastTime || (other.lastTime == lastTime && other.lastValue > lastValue) {
            lastTime = other.lastTime
            lastValue = other.lastValue
        }
        increment += other.increment
    }

    public var mean: Double? { count > 0 ? sum / Double(count) : nil }
}
