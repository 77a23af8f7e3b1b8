import Foundation
import Telemetry

/// Writes simulated messages to a file: one JSON object per line with the send time, topic,
/// QoS, retain flag and payload (`jsonl`), or only the SenML payloads of telemetry (`senml`).
/// The payload is embedded verbatim, so a reader recovers the exact bytes that would be published.
public final class MessageFile {
    public enum Format: String, Sendable, CaseIterable {
        case jsonl, senml
    }

    public let path: String
    public let format: Format
    private let file: UnsafeMutablePointer<FILE>
    private var line: [UInt8] = []
    private let qos: UInt8
    public private(set) var written = 0

    public init(path: String, format: Format = .jsonl, qos: Int = 1) throws(SimulationError) {
        self.path = path
        self.format = format
        self.qos = UInt8(48 + qos)
        // "-" is standard output (and has no directory: Foundation traps on its path components).
        let directory = path == "-" ? "" : (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            throw SimulationError("\(path): the directory \(directory) does not exist; create it or choose another --output")
        }
        guard let file = path == "-" ? fdopen(dup(1), "w") : fopen(path, "w") else {
            throw SimulationError("\(path): cannot open for writing (\(String(cString: strerror(errno)))); check the path and permissions")
        }
        self.file = file
        setvbuf(file, nil, _IOFBF, 1 << 20)
        line.reserveCapacity(2048)
    }

    deinit { fclose(file) }

    public func write(_ message: SimMessage) throws(SimulationError) {
        line.removeAll(keepingCapacity: true)
        switch format {
        case .senml:
            guard message.kind == .telemetry else { return }
            line.append(contentsOf: message.payload)
        case .jsonl:
            line.append(contentsOf: #"{"at":"#.utf8)
            appendDecimal(message.sendTime)
            line.append(contentsOf: #","topic":""#.utf8)
            line.append(contentsOf: message.topic)
            line.append(contentsOf: #"","qos":"#.utf8)
            line.append(qos)
            line.append(contentsOf: message.retain ? #","retain":true,"payload":"#.utf8 : #","retain":false,"payload":"#.utf8)
            if message.kind == .status {
                line.append(UInt8(ascii: "\""))
                line.append(contentsOf: message.payload)
                line.append(UInt8(ascii: "\""))
            } else {
                line.append(contentsOf: message.payload)
            }
            line.append(UInt8(ascii: "}"))
        }
        line.append(UInt8(ascii: "\n"))
        let count = line.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        guard count == line.count else { throw writeError() }
        written += 1
    }

    public func close() throws(SimulationError) {
        guard fflush(file) == 0 else { throw writeError() }
    }

    private func writeError() -> SimulationError {
        let reason = String(cString: strerror(errno))
        return SimulationError("\(path): writing failed after \(written) messages (\(reason)); free disk space or choose another --output. The \(written) messages before it are in the file.")
    }

    private func appendDecimal(_ value: Int64) {
        if value < 0 { line.append(UInt8(ascii: "-")) }
        line.appendDecimal(value.magnitude)
    }
}

extension MessageFile {
    /// Reads a `jsonl` message file back: calls `body` with each line's topic, exact payload
    /// and send time (ms since the epoch, 0 when the line has none).
    public static func read(_ path: String, _ body: (String, [UInt8], Int64) throws -> Void) throws {
        let reader = try Reader(path: path)
        while let (topic, payload, at) = try reader.next() { try body(topic, payload, at) }
    }

    /// A `jsonl` message file read a line at a time (for callers that must await between lines).
    public final class Reader {
        private let lines: LineFile
        private let topicKey = Array(#""topic":""#.utf8), payloadKey = Array(#","payload":"#.utf8), atKey = Array(#"{"at":"#.utf8)

        public init(path: String) throws { lines = try LineFile(path: path) }

        /// Messages read so far.
        public private(set) var count = 0

        /// The next message: topic, exact payload and send time (ms, 0 when the line has none).
        public func next() throws -> (String, [UInt8], Int64)? {
            while let line = lines.next() {
                let end = line.count
                if end == 0 { continue }
                guard let t = MessageFile.find(topicKey, in: line, from: 0), let q = line[(t + topicKey.count)...].firstIndex(of: UInt8(ascii: "\"")),
                      let p = MessageFile.find(payloadKey, in: line, from: q), line[end - 1] == UInt8(ascii: "}") else {
                    throw SimulationError("\(lines.path):\(lines.number): not a line of 'smartcity simulate --output' (jsonl)")
                }
                let topic = String(decoding: line[(t + topicKey.count)..<q], as: UTF8.self)
                var payload = Array(line[(p + payloadKey.count)..<(end - 1)])
                if payload.first == UInt8(ascii: "\""), payload.last == UInt8(ascii: "\""), payload.count >= 2 {
                    payload = Array(payload[1..<(payload.count - 1)])
                }
                var at: Int64 = 0
                if line.starts(with: atKey) {
                    for byte in line[atKey.count...] {
                        guard byte >= 48, byte <= 57, at < Int64.max / 10 - 9 else { break }
                        at = at * 10 + Int64(byte - 48)
                    }
                }
                count += 1
                return (topic, payload, at)
            }
            return nil
        }
    }

    fileprivate static func find(_ needle: [UInt8], in line: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        guard line.count >= needle.count else { return nil }
        var i = from
        while i + needle.count <= line.count {
            if line[i] == needle[0], needle.withUnsafeBufferPointer({ memcmp(line.baseAddress! + i, $0.baseAddress!, needle.count) }) == 0 { return i }
            i += 1
        }
        return nil
    }
}

/// A text file read a line at a time without copying: each line's bytes, without its line
/// break, stay valid until the next call.
public final class LineFile {
    public let path: String
    private let file: UnsafeMutablePointer<FILE>
    private var buffer: UnsafeMutablePointer<CChar>?
    private var capacity = 0
    /// The number of the line read last.
    public private(set) var number = 0

    public init(path: String) throws(SimulationError) {
        guard let file = fopen(path, "r") else {
            throw SimulationError("\(path): cannot open (\(String(cString: strerror(errno)))); check the path")
        }
        self.path = path
        self.file = file
    }

    deinit {
        fclose(file)
        free(buffer)
    }

    public func next() -> UnsafeBufferPointer<UInt8>? {
        let n = getline(&buffer, &capacity, file)
        if n < 0 { return nil }
        number += 1
        var end = n
        let bytes = UnsafeRawPointer(buffer!).assumingMemoryBound(to: UInt8.self)
        while end > 0, bytes[end - 1] == 10 || bytes[end - 1] == 13 { end -= 1 }
        return UnsafeBufferPointer(start: bytes, count: end)
    }
}

/// A simulation failure with what to do about it.
public struct SimulationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
