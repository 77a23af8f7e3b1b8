/// Numbers byte strings (topics, device ids) densely from 0 without allocating on a lookup:
/// the keys live in one arena, the table is open addressing with linear probing.
struct ByteInterner {
    private(set) var arena: [UInt8] = []
    private(set) var offsets: [Int32] = []
    private(set) var lengths: [Int32] = []
    private var hashes: [UInt64] = []
    private var table: [Int32]
    private var mask: Int

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        table = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    var count: Int { offsets.count }

    @inline(__always)
    static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        // FNV-1a over 8-byte words, then a final avalanche: fast for short keys, good spread.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var i = 0
        let n = key.count
        if let base = key.baseAddress {
            let raw = UnsafeRawPointer(base)
            while i + 8 <= n {
                h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x100_0000_01b3
                i += 8
            }
            while i < n {
                h = (h ^ UInt64(base[i])) &* 0x100_0000_01b3
                i += 1
            }
        }
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        return h
    }

    /// The number of `key`, or nil.
    @inline(__always)
    func find(_ key: UnsafeBufferPointer<UInt8>, hash h: UInt64) -> Int32? {
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let id = table[slot]
            if id < 0 { return nil }
            if hashes[Int(id)] == h, equal(Int(id), key) { return id }
            slot = (slot + 1) & mask
        }
    }

    func find(_ key: UnsafeBufferPointer<UInt8>) -> Int32? { find(key, hash: ByteInterner.hash(key)) }

    /// Adds `key` (which must not be present) and returns its number.
    mutating func insert(_ key: UnsafeBufferPointer<UInt8>, hash h: UInt64) -> Int32 {
        let id = Int32(offsets.count)
        offsets.append(Int32(arena.count))
        lengths.append(Int32(key.count))
        hashes.append(h)
        arena.append(contentsOf: key)
        if offsets.count * 2 > table.count { grow() } else { place(id, h) }
        return id
    }

    func key(_ id: Int32) -> [UInt8] {
        Array(arena[Int(offsets[Int(id)])..<Int(offsets[Int(id)] + lengths[Int(id)])])
    }

    func string(_ id: Int32) -> String { String(decoding: key(id), as: UTF8.self) }

    private func equal(_ id: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        let length = Int(lengths[id])
        guard length == key.count else { return false }
        let start = Int(offsets[id])
        return arena.withUnsafeBufferPointer { a in
            guard length > 0 else { return true }
            return memcmp(a.baseAddress! + start, key.baseAddress!, length) == 0
        }
    }

    private mutating func place(_ id: Int32, _ h: UInt64) {
        var slot = Int(truncatingIfNeeded: h) & mask
        while table[slot] >= 0 { slot = (slot + 1) & mask }
        table[slot] = id
    }

    private mutating func grow() {
        table = [Int32](repeating: -1, count: table.count * 2)
        mask = table.count - 1
        for id in 0..<offsets.count { place(Int32(id), hashes[id]) }
    }

    // MARK: snapshot

    func write(to w: inout SnapshotWriter) {
        w.array(arena)
        w.array(lengths)
    }

    static func read(from r: inout SnapshotReader) throws(SnapshotError) -> ByteInterner {
        let arena: [UInt8] = try r.array()
        let lengths: [Int32] = try r.array()
        var interner = ByteInterner(capacity: max(1024, lengths.count))
        var at = 0
        arena.withUnsafeBufferPointer { a in
            for length in lengths {
                let key = UnsafeBufferPointer(rebasing: a[at..<at + Int(length)])
                _ = interner.insert(key, hash: ByteInterner.hash(key))
                at += Int(length)
            }
        }
        return interner
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
