/// A checkpoint of the aggregation state that cannot be read back.
public struct SnapshotError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// Binary writer for aggregation checkpoints: arrays of plain structs are copied as they lie
/// in memory, behind a header naming the format and the struct sizes, so a checkpoint from a
/// different build is refused instead of misread.
struct SnapshotWriter {
    private(set) var bytes: [UInt8] = []

    mutating func raw<T: BitwiseCopyable>(_ value: T) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }

    mutating func int(_ value: Int) { raw(Int64(value)) }

    mutating func array<T: BitwiseCopyable>(_ values: [T]) {
        int(values.count)
        raw(Int64(MemoryLayout<T>.stride))
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ s: String) { array(Array(s.utf8)) }
}

struct SnapshotReader {
    private let bytes: [UInt8]
    private var at = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { at == bytes.count }

    mutating func raw<T: BitwiseCopyable>(_: T.Type = T.self) throws(SnapshotError) -> T {
        let n = MemoryLayout<T>.size
        guard at + n <= bytes.count else { throw SnapshotError(description: "checkpoint ends early at byte \(at)") }
        let value = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: T.self) }
        at += n
        return value
    }

    mutating func int() throws(SnapshotError) -> Int { Int(try raw(Int64.self)) }

    mutating func array<T: BitwiseCopyable>(_: T.Type = T.self) throws(SnapshotError) -> [T] {
        let count = try int()
        let stride = try int()
        guard stride == MemoryLayout<T>.stride else {
            throw SnapshotError(description: "checkpoint written by another build (\(T.self) is \(stride) bytes there, \(MemoryLayout<T>.stride) here)")
        }
        let n = count * stride
        guard count >= 0, at + n <= bytes.count else { throw SnapshotError(description: "checkpoint ends early at byte \(at)") }
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialised in
            bytes.withUnsafeBytes { src in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: src[at..<at + n]))
            }
            initialised = count
        }
        at += n
        return values
    }

    mutating func string() throws(SnapshotError) -> String { String(decoding: try array(UInt8.self), as: UTF8.self) }
}
