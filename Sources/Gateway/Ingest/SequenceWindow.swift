/// Deduplication of one device's messages under at-least-once delivery: the highest sequence
/// number seen and a bitmap of the 128 below it, so each (device, seq) counts once even when
/// messages arrive out of order.
struct SequenceWindow: BitwiseCopyable, Equatable {
    enum Seen: Equatable { case fresh, duplicate, tooOld }

    static let depth: Int64 = 128

    private(set) var highest: Int64 = -1
    private var seenLow: UInt64 = 0
    private var seenHigh: UInt64 = 0

    /// Records `seq`; fresh the first time, duplicate after, tooOld when more than `depth`
    /// below the highest (it can no longer be told apart).
    mutating func observe(_ seq: Int64) -> Seen {
        if seq > highest {
            let shift = seq - highest
            if highest < 0 || shift > Self.depth {
                seenLow = 0
                seenHigh = 0
                if highest >= 0, shift == Self.depth + 1 { seenHigh = 1 << 63 }
            } else {
                // Shift the 128-bit map left by `shift`, then mark the old highest (bit shift-1).
                let s = UInt64(shift)
                if s >= 64 {
                    seenHigh = s == 64 ? seenLow : seenLow << (s - 64)
                    seenLow = 0
                } else {
                    seenHigh = (seenHigh << s) | (seenLow >> (64 - s))
                    seenLow <<= s
                }
                let bit = s - 1
                if bit < 64 { seenLow |= 1 << bit } else { seenHigh |= 1 << (bit - 64) }
            }
            highest = seq
            return .fresh
        }
        if seq == highest { return .duplicate }
        let d = UInt64(highest - seq - 1)
        if d >= UInt64(Self.depth) { return .tooOld }
        if d < 64 {
            if seenLow & (1 << d) != 0 { return .duplicate }
            seenLow |= 1 << d
        } else {
            if seenHigh & (1 << (d - 64)) != 0 { return .duplicate }
            seenHigh |= 1 << (d - 64)
        }
        return .fresh
    }
}
