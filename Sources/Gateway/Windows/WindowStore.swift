/// Which of the last 64 windows (per resolution) a device was already counted in, so a delayed
/// reading does not count it twice.
struct WindowMarks: BitwiseCopyable {
    var newest: (Int64, Int64, Int64) = (.min, .min, .min)
    var masks: (UInt64, UInt64, UInt64) = (0, 0, 0)

    /// Marks the window; true if it was not marked before.
    mutating func mark(_ r: Int, start: Int64, length: Int64) -> Bool {
        var n = withUnsafeBytes(of: newest) { $0.load(fromByteOffset: r * 8, as: Int64.self) }
        var m = withUnsafeBytes(of: masks) { $0.load(fromByteOffset: r * 8, as: UInt64.self) }
        defer {
            withUnsafeMutableBytes(of: &newest) { $0.storeBytes(of: n, toByteOffset: r * 8, as: Int64.self) }
            withUnsafeMutableBytes(of: &masks) { $0.storeBytes(of: m, toByteOffset: r * 8, as: UInt64.self) }
        }
        if n == .min || start > n {
            let k = n == .min ? 64 : (start - n) / length
            m = k >= 64 ? 1 : (m << UInt64(k)) | 1
            n = start
            return true
        }
        let k = (n - start) / length
        if k >= 64 { return false }
        if m & (1 << UInt64(k)) != 0 { return false }
        m |= 1 << UInt64(k)
        return true
    }
}

/// A city's event-time clock: its UTC offset (windows are aligned to local time), its event
/// time, and the last base-window boundary it passed.
///
/// The event time is not the newest reading but the newest that `quorum` devices have reached:
/// the smallest of the newest times of the `quorum` most advanced devices (none until that many
/// have reported: a city with fewer devices closes its windows at shutdown, or runs with a
/// quorum of 1). A device with a clock far ahead, or a forged timestamp, moves nothing on its
/// own; windows close when the city's devices have passed them.
struct CityClock: BitwiseCopyable, Equatable {
    static let maximumQuorum = 8

    var offsetMs: Int64
    var newest: Int64 = .min
    var lastBoundary: Int64 = .min
    /// Arrival time (ms, gateway clock) of the reading that last moved `newest`; 0 unknown.
    var newestArrival: Int64 = 0
    /// The most advanced devices (registry numbers) and their newest event times.
    var leaders = Leaders()

    init(offsetMs: Int64) { self.offsetMs = offsetMs }

    struct Leaders: BitwiseCopyable, Equatable {
        static func == (a: Leaders, b: Leaders) -> Bool {
            a.count == b.count && (0..<Int(a.count)).allSatisfy { a.device($0) == b.device($0) && a.time($0) == b.time($0) }
        }

        var count: Int32 = 0
        var devices: (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) = (0, 0, 0, 0, 0, 0, 0, 0)
        var times: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0, 0, 0, 0)

        func device(_ i: Int) -> Int32 { withUnsafeBytes(of: devices) { $0.load(fromByteOffset: i * 4, as: Int32.self) } }
        func time(_ i: Int) -> Int64 { withUnsafeBytes(of: times) { $0.load(fromByteOffset: i * 8, as: Int64.self) } }
        mutating func set(_ i: Int, _ device: Int32, _ time: Int64) {
            withUnsafeMutableBytes(of: &devices) { $0.storeBytes(of: device, toByteOffset: i * 4, as: Int32.self) }
            withUnsafeMutableBytes(of: &times) { $0.storeBytes(of: time, toByteOffset: i * 8, as: Int64.self) }
        }

        /// Takes a device's newest time; returns the quorum time (the smallest kept).
        mutating func observe(device id: Int32, time t: Int64, quorum: Int) -> Int64 {
            var slot = -1
            var smallest = 0
            for i in 0..<Int(count) {
                if device(i) == id { slot = i }
                if time(i) < time(smallest) { smallest = i }
            }
            if slot >= 0 {
                if t > time(slot) { set(slot, id, t) }
            } else if Int(count) < quorum {
                set(Int(count), id, t)
                count += 1
            } else if t > time(smallest) {
                set(smallest, id, t)
            }
            // Until `quorum` devices have reported, nothing has reached any time.
            guard Int(count) >= quorum else { return .min }
            var low = Int64.max
            for i in 0..<Int(count) where self.time(i) < low { low = self.time(i) }
            return low
        }
    }
}

struct WindowSlot: BitwiseCopyable {
    var partial = WindowPartial()
    var series: Int32
    var city: Int32
    var start: Int64
    var resolution: Int8
    var live = true
    var emitted = false
    var dirty = false
    var revision: Int32 = 0
}

struct WindowKey: Hashable {
    var series: Int32
    var resolution: Int8
    var start: Int64
}

/// A window of a numbered series as the store emits it; the aggregator names it.
struct EmittedWindow: Equatable {
    var series: Int32
    var city: Int32
    var resolution: Resolution
    var start: Int64
    var end: Int64
    var partial: WindowPartial
    var revision: Int32
    var closed: Bool
}

/// Event-time windows of numbered series at three resolutions, knowing nothing of payloads:
/// values go in with an event time; a window closes when its city's newest event time passes
/// its end, is emitted once, then re-emitted with a higher revision when late data changes it,
/// and is forgotten once the watermark (newest - lateness) passes it. Memory follows the open
/// windows, not the values.
struct WindowStore {
    /// Window lengths by resolution, ms.
    let lengths: [Int64]
    /// How long after a window's end late data is still taken, ms.
    let lateness: Int64
    /// How many devices must reach an event time before the city's clock does (`CityClock`).
    let quorum: Int
    private(set) var clocks: [CityClock] = []
    private(set) var slots: [WindowSlot] = []
    private var freeSlots: [Int32] = []
    private var index: [WindowKey: Int32] = [:]
    // The newest window of each (series, resolution): where nearly every value goes.
    private var cacheStart: [Int64] = []
    private var cacheSlot: [Int32] = []
    private let cacheGrowth: Int

    /// `cacheGrowth`: how many (series, resolution) cache entries to add at a time.
    init(lengths: [Int64], lateness: Int64, quorum: Int = 1, cacheGrowth: Int = 256) {
        precondition(lengths.count == Resolution.allCases.count)
        precondition((1...CityClock.maximumQuorum).contains(quorum))
        self.lengths = lengths
        self.lateness = lateness
        self.quorum = quorum
        self.cacheGrowth = cacheGrowth
    }

    mutating func addCity(offsetMs: Int64) -> Int {
        clocks.append(CityClock(offsetMs: offsetMs))
        return clocks.count - 1
    }

    /// Open windows (all resolutions).
    var openWindows: Int { index.count }

    func newest(city: Int) -> Int64 { clocks[city].newest }

    /// Where the city's clock may be at `arrival`: its quorum time plus the wall time since
    /// that was reached (a quiet hour moves it an hour); the quorum time alone when arrival
    /// times are unknown (file replays).
    func expected(city: Int, arrival: Int64) -> Int64 {
        let clock = clocks[city]
        guard clock.newest != .min, arrival > 0, clock.newestArrival > 0, arrival > clock.newestArrival else { return clock.newest }
        return clock.newest + (arrival - clock.newestArrival)
    }

    @inline(__always)
    func windowStart(_ time: Int64, _ resolution: Int, city: Int) -> Int64 {
        let length = lengths[resolution]
        let offsetMs = clocks[city].offsetMs
        let local = time + offsetMs
        var start = local / length * length
        if local < 0, start != local { start -= length }
        return start - offsetMs
    }

    /// True when the base window of `time` is already beyond the city's watermark.
    func isTooLate(_ time: Int64, city: Int) -> Bool {
        let newest = clocks[city].newest
        guard newest != .min else { return false }
        return windowStart(time, Resolution.base.rawValue, city: city) + lengths[0] <= newest - lateness
    }

    /// Adds a value to the series' windows at every resolution; true if an emitted window changed.
    @discardableResult
    mutating func add(series: Int, value: Double, time: Int64, city: Int) -> Bool {
        var late = false
        for r in 0..<3 {
            let slot = slotFor(series: series, resolution: r, start: windowStart(time, r, city: city), city: city)
            slots[slot].partial.add(value, at: time)
            if slots[slot].emitted {
                slots[slot].dirty = true
                late = true
            }
        }
        return late
    }

    /// Adds to the `increment` of the series' windows (meters, amounts collected).
    mutating func addIncrement(series: Int, amount: Double, time: Int64, city: Int) {
        guard amount != 0 else { return }
        for r in 0..<3 {
            let slot = slotFor(series: series, resolution: r, start: windowStart(time, r, city: city), city: city)
            slots[slot].partial.increment += amount
            if slots[slot].emitted { slots[slot].dirty = true }
        }
    }

    /// Adds an amount that accrued over the event-time span (from, to] (a meter's increment
    /// between two readings) to the windows the span covers, each in proportion to its share
    /// of the span. The part of the span before the earliest window still open is shared
    /// among the open ones, so the total is kept.
    mutating func addIncrement(series: Int, amount: Double, from: Int64, to: Int64, city: Int) {
        guard amount != 0 else { return }
        var from = from
        let newest = clocks[city].newest
        if newest != .min { from = max(from, windowStart(newest - lateness, 0, city: city)) }
        guard from < to else {
            addIncrement(series: series, amount: amount, time: to, city: city)
            return
        }
        let span = Double(to - from)
        for r in 0..<3 {
            var start = windowStart(from, r, city: city)
            while start < to {
                let end = start + lengths[r]
                let overlap = Swift.min(end, to) - Swift.max(start, from)
                if overlap > 0 {
                    let slot = slotFor(series: series, resolution: r, start: start, city: city)
                    slots[slot].partial.increment += amount * Double(overlap) / span
                    if slots[slot].emitted { slots[slot].dirty = true }
                }
                start = end
            }
        }
    }

    /// Adds 1 to each window of the series that `marks` has not counted yet (distinct devices).
    mutating func countOnce(series: Int, time: Int64, city: Int, marks: inout WindowMarks) -> Bool {
        var late = false
        for r in 0..<3 {
            let start = windowStart(time, r, city: city)
            guard marks.mark(r, start: start, length: lengths[r]) else { continue }
            let slot = slotFor(series: series, resolution: r, start: start, city: city)
            slots[slot].partial.add(1, at: time)
            if slots[slot].emitted {
                slots[slot].dirty = true
                late = true
            }
        }
        return late
    }

    /// Takes a device's newest event time and moves the city's clock to the quorum time if
    /// that is newer; true when a base window boundary was passed, so a sweep is due.
    mutating func advance(city: Int, device: Int, to time: Int64, arrival: Int64 = 0) -> Bool {
        let reached = clocks[city].leaders.observe(device: Int32(device), time: time, quorum: quorum)
        guard reached > clocks[city].newest else { return false }
        clocks[city].newest = reached
        clocks[city].newestArrival = arrival
        let time = reached
        let boundary = windowStart(time, Resolution.base.rawValue, city: city)
        guard boundary > clocks[city].lastBoundary else { return false }
        clocks[city].lastBoundary = boundary
        return true
    }

    /// Emits windows that closed in event time and corrections of emitted ones, and forgets
    /// windows beyond the lateness. `final` (shutdown) also emits the open windows, marked
    /// provisional. Only the given city's windows when `city` is set.
    mutating func sweep(city only: Int? = nil, final: Bool) -> [EmittedWindow] {
        var out: [EmittedWindow] = []
        var purge: [Int] = []
        for i in slots.indices where slots[i].live {
            let c = Int(slots[i].city)
            if let only, c != only { continue }
            let newest = clocks[c].newest
            let end = slots[i].start + lengths[Int(slots[i].resolution)]
            let closed = newest != .min && end <= newest
            if closed && !slots[i].emitted {
                slots[i].emitted = true
                slots[i].revision = 1
                out.append(emitted(i, closed: true))
            } else if slots[i].emitted && slots[i].dirty {
                slots[i].revision += 1
                out.append(emitted(i, closed: true))
            } else if final && !closed {
                out.append(emitted(i, closed: false))
            }
            slots[i].dirty = false
            if newest != .min, end <= newest - lateness { purge.append(i) }
        }
        for i in purge {
            let s = slots[i]
            index[WindowKey(series: s.series, resolution: s.resolution, start: s.start)] = nil
            let c = Int(s.series) * 3 + Int(s.resolution)
            if c < cacheSlot.count, cacheSlot[c] == Int32(i) {
                cacheSlot[c] = -1
                cacheStart[c] = .min
            }
            slots[i].live = false
            freeSlots.append(Int32(i))
        }
        return out
    }

    /// The emitted windows still kept, as last emitted (to rebuild what follows the store after
    /// a restore).
    func emittedWindows() -> [EmittedWindow] {
        slots.indices.filter { slots[$0].live && slots[$0].emitted }.map { emitted($0, closed: true) }
    }

    private func emitted(_ i: Int, closed: Bool) -> EmittedWindow {
        let s = slots[i]
        return EmittedWindow(series: s.series, city: s.city, resolution: Resolution(rawValue: Int(s.resolution))!, start: s.start,
                             end: s.start + lengths[Int(s.resolution)], partial: s.partial, revision: s.revision, closed: closed)
    }

    @inline(__always)
    private mutating func slotFor(series: Int, resolution: Int, start: Int64, city: Int) -> Int {
        let c = series * 3 + resolution
        if c < cacheStart.count, cacheStart[c] == start, cacheSlot[c] >= 0 { return Int(cacheSlot[c]) }
        return slotSlow(series: series, resolution: resolution, start: start, city: city)
    }

    private mutating func slotSlow(series: Int, resolution: Int, start: Int64, city: Int) -> Int {
        let key = WindowKey(series: Int32(series), resolution: Int8(resolution), start: start)
        let slot: Int
        if let s = index[key] {
            slot = Int(s)
        } else {
            let fresh = WindowSlot(series: Int32(series), city: Int32(city), start: start, resolution: Int8(resolution))
            if let free = freeSlots.popLast() {
                slot = Int(free)
                slots[slot] = fresh
            } else {
                slot = slots.count
                slots.append(fresh)
            }
            index[key] = Int32(slot)
        }
        let c = series * 3 + resolution
        if c >= cacheStart.count {
            cacheStart.append(contentsOf: repeatElement(.min, count: c + 1 - cacheStart.count + cacheGrowth))
            cacheSlot.append(contentsOf: repeatElement(-1, count: cacheStart.count - cacheSlot.count))
        }
        if start >= cacheStart[c] || cacheSlot[c] < 0 {
            cacheStart[c] = start
            cacheSlot[c] = Int32(slot)
        }
        return slot
    }

    // MARK: checkpoint

    /// The live windows, for a checkpoint.
    var liveSlots: [WindowSlot] { slots.filter(\.live) }

    /// Replaces the state with a checkpoint's.
    mutating func restore(clocks: [CityClock], slots: [WindowSlot]) {
        self.clocks = clocks
        self.slots = slots
        freeSlots = []
        index = [:]
        for (i, s) in slots.enumerated() {
            index[WindowKey(series: s.series, resolution: s.resolution, start: s.start)] = Int32(i)
        }
        cacheStart = []
        cacheSlot = []
    }
}
