import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The append-only log of every message the gateway received, written before the broker gets
/// its acknowledgement. Together with a checkpoint (the aggregation state at a journal
/// position) it makes a restart exact: restore the checkpoint, replay the journal after it.
///
/// Files `journal-<position>.log` in one directory; a position is a byte offset over all of
/// them. A record is `u32 length, u16 topic length, i64 arrival ms, topic, payload`. A record
/// cut short by a crash is dropped on open (its message was never acknowledged).
public final class Journal {
    public let directory: String
    public let segmentSize: Int
    /// Position after the last record written to the buffer.
    public private(set) var end: UInt64 = 0
    private var fd: Int32 = -1
    private var lockFD: Int32 = -1
    private var segmentStart: UInt64 = 0
    private var buffer: [UInt8] = []
    /// Bytes handed to the kernel (survive a kill of the process).
    public private(set) var written: UInt64 = 0

    /// `exclusive`: hold a lock on the directory while open, so a second process cannot use it.
    public init(directory: String, segmentSize: Int = 64 << 20, exclusive: Bool = false) throws {
        self.directory = directory
        self.segmentSize = segmentSize
        buffer.reserveCapacity(1 << 20)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw GatewayError.journal("\(directory): cannot create the journal directory (\(error.localizedDescription)); check the path and permissions")
        }
        if exclusive {
            lockFD = open(directory + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard lockFD >= 0 else { throw GatewayError.journal("\(directory)/lock: cannot open (\(String(cString: strerror(errno))))") }
            guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
                close(lockFD)
                lockFD = -1
                throw GatewayError.journal("\(directory): the journal is in use by another gateway process; give each instance its own journal (--journal or journal:)")
            }
        }
        let segments = try Journal.segments(in: directory)
        if let last = segments.last {
            segmentStart = last
            let path = Journal.path(directory, last)
            let valid = try Journal.validLength(path)
            fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw GatewayError.journal("\(path): cannot open (\(String(cString: strerror(errno))))") }
            if ftruncate(fd, off_t(valid)) != 0 || lseek(fd, off_t(valid), SEEK_SET) < 0 {
                throw GatewayError.journal("\(path): cannot cut the torn tail (\(String(cString: strerror(errno))))")
            }
            end = last + UInt64(valid)
        } else {
            try openSegment(at: 0)
        }
        written = end
    }

    deinit {
        if fd >= 0 { close(fd) }
        if lockFD >= 0 { close(lockFD) }
    }

    /// Appends a record to the buffer and returns its position.
    @inline(__always)
    public func append(topic: UnsafeBufferPointer<UInt8>, payload: UnsafeBufferPointer<UInt8>, arrivalMs: Int64) -> UInt64 {
        let position = end
        let length = UInt32(2 + 8 + topic.count + payload.count)
        withUnsafeBytes(of: length.littleEndian) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt16(topic.count).littleEndian) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: arrivalMs.littleEndian) { buffer.append(contentsOf: $0) }
        buffer.append(contentsOf: topic)
        buffer.append(contentsOf: payload)
        end += UInt64(4 + length)
        return position
    }

    /// Hands the buffer to the kernel: from then on the records survive the process being killed.
    public func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { raw in
            var at = 0
            while at < raw.count {
                let n = write(fd, raw.baseAddress! + at, raw.count - at)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw GatewayError.journal("\(directory): cannot write the journal (\(String(cString: strerror(errno)))); free disk space — messages not yet acknowledged will be redelivered")
                }
                at += n
            }
        }
        written += UInt64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
        if written - segmentStart >= UInt64(segmentSize) {
            close(fd)
            try openSegment(at: written)
        }
    }

    /// Deletes segments that hold only records before `position` (covered by a checkpoint).
    public func release(before position: UInt64) throws {
        let segments = try Journal.segments(in: directory)
        for (i, start) in segments.enumerated() where i + 1 < segments.count && segments[i + 1] <= position && start != segmentStart {
            unlink(Journal.path(directory, start))
        }
    }

    /// Calls `body` for every record from `position` to the end of what was written.
    public func replay(from position: UInt64, _ body: (UInt64, UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>, Int64) throws -> Void) throws {
        try flush()
        let segments = try Journal.segments(in: directory)
        for (i, start) in segments.enumerated() {
            let next = i + 1 < segments.count ? segments[i + 1] : UInt64.max
            if next <= position { continue }
            let path = Journal.path(directory, start)
            guard let data = FileManager.default.contents(atPath: path) else { throw GatewayError.journal("\(path): cannot read") }
            try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                var at = position > start ? Int(position - start) : 0
                let bytes = raw.bindMemory(to: UInt8.self)
                while at + 14 <= bytes.count {
                    let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                    guard at + 4 + length <= bytes.count, length >= 10 else { break }
                    let topicLength = Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at + 4, as: UInt16.self)))
                    let arrival = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: at + 6, as: Int64.self))
                    let topicStart = at + 14
                    guard topicStart + topicLength <= at + 4 + length else {
                        throw GatewayError.journal("\(path): record at \(start + UInt64(at)) is corrupt")
                    }
                    let topic = UnsafeBufferPointer(rebasing: bytes[topicStart..<(topicStart + topicLength)])
                    let payload = UnsafeBufferPointer(rebasing: bytes[(topicStart + topicLength)..<(at + 4 + length)])
                    try body(start + UInt64(at), topic, payload, arrival)
                    at += 4 + length
                }
            }
        }
    }

    private func openSegment(at position: UInt64) throws {
        let path = Journal.path(directory, position)
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw GatewayError.journal("\(path): cannot create (\(String(cString: strerror(errno)))); check the directory and free space") }
        segmentStart = position
    }

    static func path(_ directory: String, _ start: UInt64) -> String {
        let digits = String(start)
        return "\(directory)/journal-\(String(repeating: "0", count: max(0, 20 - digits.count)))\(digits).log"
    }

    static func segments(in directory: String) throws -> [UInt64] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name -> UInt64? in
            guard name.hasPrefix("journal-"), name.hasSuffix(".log") else { return nil }
            return UInt64(name.dropFirst(8).dropLast(4))
        }.sorted()
    }

    /// Length of the whole records at the start of a segment.
    static func validLength(_ path: String) throws -> Int {
        guard let data = FileManager.default.contents(atPath: path) else { return 0 }
        return data.withUnsafeBytes { raw in
            var at = 0
            while at + 14 <= raw.count {
                let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                guard length >= 10, at + 4 + length <= raw.count else { break }
                at += 4 + length
            }
            return at
        }
    }
}
