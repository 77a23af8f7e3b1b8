import EmbeddedBroker
import Foundation

/// A PostgreSQL server of the test's own: a cluster made by `initdb` in a temporary directory
/// (as the `postgres` user when the tests run as root, which initdb refuses), listening on a
/// free loopback port, stopped and removed by `stop()`.
final class PostgresServer: @unchecked Sendable {
    let directory: String
    let port: Int
    private let bin: String
    private let asPostgres: Bool

    var url: String { "postgres://postgres@127.0.0.1:\(port)/postgres" }

    /// Where Debian puts the server's programs (they are not on the path).
    static func binaries() throws -> String {
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
            where FileManager.default.isExecutableFile(atPath: folder + "/initdb") && FileManager.default.isExecutableFile(atPath: folder + "/pg_ctl") {
            return folder
        }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) where FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\(version)/bin/initdb") {
            return "/usr/lib/postgresql/\(version)/bin"
        }
        throw TestFailure("PostgreSQL's initdb is not installed; `make test` installs Debian's postgresql package")
    }

    init() throws {
        bin = try Self.binaries()
        asPostgres = getuid() == 0
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("smartcity-pg-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if asPostgres { _ = try shell("chown postgres '\(directory)' && chmod 700 '\(directory)'", in: URL(fileURLWithPath: "/")) }
        port = try EmbeddedBroker.freeLoopbackPort()
        try postgres("'\(bin)/initdb' -D '\(directory)/data' -U postgres -A trust --no-sync -E UTF8 > '\(directory)/initdb.log' 2>&1")
        try start()
    }

    /// Runs a command as the server's owner.
    private func postgres(_ command: String) throws {
        let line = asPostgres ? "su postgres -s /bin/sh -c \"\(command.replacingOccurrences(of: "\"", with: "\\\""))\"" : command
        _ = try shell(line, in: URL(fileURLWithPath: directory))
    }

    private var server: Process?
    /// "ready to accept connections" lines of the log seen so far (one per start).
    private var readyLines = 1

    /// Starts the server as a child of the test (as the `postgres` user through setpriv, which
    /// execs it), and waits until it takes connections.
    func start() throws {
        let process = Process()
        let arguments = ["\(bin)/postgres", "-D", "\(directory)/data", "-p", "\(port)", "-k", directory,
                         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]
        if asPostgres {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=postgres", "--regid=postgres", "--init-groups"] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: arguments[0])
            process.arguments = Array(arguments.dropFirst())
        }
        if !FileManager.default.fileExists(atPath: directory + "/server.log") { FileManager.default.createFile(atPath: directory + "/server.log", contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/server.log"))
        try log.seekToEnd()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        server = process
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            // The server says so in its log once it takes connections.
            if let text = try? String(contentsOfFile: directory + "/server.log", encoding: .utf8),
               text.components(separatedBy: "ready to accept connections").count > readyLines { readyLines += 1; return }
            guard process.isRunning else { break }
            usleep(50_000)
        }
        try? kill()
        throw TestFailure("PostgreSQL did not start on port \(port): \((try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? "")")
    }

    /// Stops the server at once (immediate shutdown: its clients see the connection drop),
    /// keeping the data.
    func kill() throws {
        guard let server, server.isRunning else { return }
        Foundation.kill(server.processIdentifier, SIGQUIT)
        server.waitUntilExit()
        self.server = nil
    }

    func stop() {
        try? kill()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
