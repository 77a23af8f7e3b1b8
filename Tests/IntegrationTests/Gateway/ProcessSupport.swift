import Foundation
import Testing
import TestSupport

/// A `smartcity` child process whose output lines can be awaited.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSCondition()
    private var lines: [String] = []
    private var ended = false

    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("smartcity")
    }

    /// `openFiles`: the process's limit on open files (`ulimit -n`); its pid stays the tool's.
    convenience init(_ arguments: [String], openFiles: Int? = nil) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable.path) else {
            throw TestFailure("\(Self.executable.path) is missing; build it with 'swift build --build-tests'")
        }
        if let openFiles {
            try self.init(executable: URL(fileURLWithPath: "/bin/sh"),
                          arguments: ["-c", "ulimit -n \(openFiles) && exec \"$0\" \"$@\"", Self.executable.path] + arguments)
        } else {
            try self.init(executable: Self.executable, arguments: arguments)
        }
    }

    /// Another program (a server the test runs).
    init(executable: URL, arguments: [String], environment: [String: String]? = nil) throws {
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let handle = pipe.fileHandleForReading
        try process.run()
        Thread.detachNewThread { [self] in
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 10) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending = Data(pending[(newline + 1)...])
                    lock.lock()
                    lines.append(line)
                    lock.broadcast()
                    lock.unlock()
                }
            }
            lock.lock()
            if !pending.isEmpty { lines.append(String(decoding: pending, as: UTF8.self)) }
            ended = true
            lock.broadcast()
            lock.unlock()
        }
    }

    /// Waits (blocking a thread, not the test's executor) until a line satisfies `match`.
    func waitForLine(timeout: Double = 60, _ match: @escaping @Sendable (String) -> Bool) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { [self] in
                let deadline = Date().addingTimeInterval(timeout)
                lock.lock()
                var seen = 0
                while true {
                    while seen < lines.count {
                        if match(lines[seen]) {
                            let line = lines[seen]
                            lock.unlock()
                            continuation.resume(returning: line)
                            return
                        }
                        seen += 1
                    }
                    if ended || !lock.wait(until: deadline) {
                        let output = lines.suffix(20).joined(separator: "\n")
                        lock.unlock()
                        continuation.resume(throwing: TestFailure("no matching line within \(timeout) s (exited: \(ended)); last output:\n\(output)"))
                        return
                    }
                }
            }
        }
    }

    var output: String {
        lock.lock()
        defer { lock.unlock() }
        return lines.joined(separator: "\n")
    }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for the exit and then for the end of its output, so that `output` holds all of it
    /// (a process it started and left running may keep the pipe open: then at most 10 s more).
    func waitForExit() async -> Int32 {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { [self] in
                process.waitUntilExit()
                let deadline = Date().addingTimeInterval(10)
                lock.lock()
                while !ended && lock.wait(until: deadline) {}
                lock.unlock()
                continuation.resume(returning: process.terminationStatus)
            }
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The number after `name ` in a status line (`accepted 1234`).
func statusValue(_ line: String, _ name: String) -> Int? {
    guard let range = line.range(of: " \(name) ") else { return nil }
    return Int(line[range.upperBound...].prefix { $0.isNumber })
}
