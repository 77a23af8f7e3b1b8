import CPlatform
import Foundation
import MQTT
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A private mosquitto broker on a free loopback port, started from a configuration template
/// and stopped with the tool: on `stop()`, on deinit, and (through a parent-death signal) when
/// the tool itself dies, even by SIGKILL.
///
/// ```swift
/// let broker = try await EmbeddedBroker.start()
/// defer { broker.stop() }
/// let options = ConnectionOptions(port: broker.port, clientID: "sim")
/// ```
public final class EmbeddedBroker: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// Extra mosquitto.conf lines appended to the listener section (TLS, password_file, ...).
        public var extraLines: [String]
        /// Keep sessions and queued messages on disk across restarts (`persistence true`).
        public var persistence: Bool
        /// Fixed port; nil picks a free one.
        public var port: Int?
        /// The template to start from; nil looks for Config/mosquitto.conf, else uses the built-in one.
        public var templatePath: String?
        /// How long to wait for the broker to accept connections.
        public var startTimeout: Duration

        public init(extraLines: [String] = [], persistence: Bool = false, port: Int? = nil,
                    templatePath: String? = nil, startTimeout: Duration = .seconds(10)) {
            self.extraLines = extraLines
            self.persistence = persistence
            self.port = port
            self.templatePath = templatePath
            self.startTimeout = startTimeout
        }
    }

    public let port: Int
    public let host = "127.0.0.1"
    public let directory: URL
    public let configuration: Configuration
    private let executable: String
    private let pid = Mutex<pid_t>(0)

    public var url: BrokerURL { BrokerURL(host: host, port: port) }
    /// The broker's process id (0 once stopped).
    public var processID: pid_t { pid.withLock { $0 } }
    /// Lets the running broker hold at least `files` open files (one per client connection),
    /// raising its limit as far as this process may (prlimit: a privileged process also past
    /// the broker's hard limit). Returns the broker's limit now.
    @discardableResult
    public func allowOpenFiles(_ files: Int) -> Int {
        let child = processID
        guard child > 0 else { return 0 }
        return Int(max(0, cprocess_open_files(child, Int64(files))))
    }

    /// The broker's own log (stdout and stderr), for diagnosing failures.
    public var logPath: String { directory.appendingPathComponent("mosquitto.log").path }

    private init(port: Int, directory: URL, configuration: Configuration, executable: String) {
        self.port = port
        self.directory = directory
        self.configuration = configuration
        self.executable = executable
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts a broker and returns once it accepts connections.
    public static func start(_ configuration: Configuration = Configuration()) async throws(MQTTError) -> EmbeddedBroker {
        let executable = try locateMosquitto()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("smartcity-broker-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw MQTTError(.brokerProcess, "cannot create the broker's folder \(directory.path): \(error); check free space and TMPDIR")
        }
        let port: Int
        if let fixed = configuration.port { port = fixed } else { port = try freeLoopbackPort() }
        let broker = EmbeddedBroker(port: port, directory: directory, configuration: configuration, executable: executable)
        try broker.writeConfiguration()
        try await broker.launch()
        return broker
    }

    /// Stops the broker (SIGTERM, which also writes its persistence file) and starts it again
    /// on the same port with the same configuration.
    public func restart() async throws(MQTTError) {
        stop()
        try await launch()
    }

    /// Stops the broker and waits for it to exit. Safe to call more than once.
    public func stop() {
        let child = pid.withLock { pid -> pid_t in
            defer { pid = 0 }
            return pid
        }
        guard child > 0 else { return }
        // mosquitto loses a SIGTERM that comes between installing its handler and entering its
        // main loop (right after it starts listening): ask again, and in the end insist.
        for _ in 0..<20 {
            kill(child, SIGTERM)
            if csys_wait_exit(child, 250) == 1 { return }
        }
        kill(child, SIGKILL)
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
    }

    public var isRunning: Bool { pid.withLock { $0 > 0 } }

    static func locateMosquitto() throws(MQTTError) -> String {
        if let explicit = ProcessInfo.processInfo.environment["SMARTCITY_MOSQUITTO"], !explicit.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: explicit) else {
                throw MQTTError(.brokerProcess, "SMARTCITY_MOSQUITTO=\(explicit) is not an executable file; point it at the mosquitto binary or unset it")
            }
            return explicit
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/opt/homebrew/sbin"]
        for folder in candidates {
            let file = folder + "/mosquitto"
            if FileManager.default.isExecutableFile(atPath: file) { return file }
        }
        throw MQTTError(.brokerProcess, "the mosquitto broker is not installed; install it with `sudo apt-get install mosquitto`, or connect to a running broker instead")
    }

    public static func freeLoopbackPort() throws(MQTTError) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw MQTTError.system(errno, "finding a free port") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, length) == 0 && getsockname(fd, sa, &length) == 0
            }
        }
        guard bound else { throw MQTTError.system(errno, "finding a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static let builtinTemplate = """
        # Private broker for one smartcity run: loopback only, anonymous access.
        per_listener_settings true
        listener {{port}} 127.0.0.1
        allow_anonymous true
        max_connections -1
        max_inflight_messages 0
        max_queued_messages 1000000
        max_queued_bytes 0
        set_tcp_nodelay true
        user root
        log_dest stderr
        log_type error
        log_type warning
        log_type notice
        log_type information
        connection_messages false
        """

    private func writeConfiguration() throws(MQTTError) {
        var template = EmbeddedBroker.builtinTemplate
        let candidates = [configuration.templatePath, "Config/mosquitto.conf"].compactMap { $0 }
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate) {
            guard let text = try? String(contentsOfFile: candidate, encoding: .utf8) else {
                throw MQTTError(.brokerProcess, "cannot read broker configuration \(candidate); check its permissions")
            }
            template = text
            break
        }
        var text = template.replacingOccurrences(of: "{{port}}", with: String(port))
        text += "\n" + configuration.extraLines.joined(separator: "\n") + "\n"
        if configuration.persistence {
            text += "persistence true\npersistence_location \(directory.path)/\nautosave_interval 1\n"
        } else {
            text += "persistence false\n"
        }
        do {
            try text.write(to: directory.appendingPathComponent("mosquitto.conf"), atomically: true, encoding: .utf8)
        } catch {
            throw MQTTError(.brokerProcess, "cannot write the broker configuration to \(directory.path): \(error); check free space")
        }
    }

    private func launch() async throws(MQTTError) {
        let logFD = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard logFD >= 0 else { throw MQTTError.system(errno, "opening the broker log \(logPath)") }
        let start = (try? String(contentsOfFile: logPath, encoding: .utf8))?.utf8.count ?? 0
        let arguments = [executable, "-c", directory.appendingPathComponent("mosquitto.conf").path]
        var cArguments = arguments.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        let child = cprocess_spawn(executable, &cArguments, logFD)
        let spawnErrno = errno
        close(logFD)
        guard child > 0 else {
            throw MQTTError(.brokerProcess, "cannot start \(executable): \(String(cString: strerror(spawnErrno))); reinstall mosquitto (`sudo apt-get install mosquitto`)")
        }
        pid.withLock { $0 = child }
        try await waitUntilRunning(child: child, logOffset: start)
    }

    /// Waits for the log line that says the broker is up, or for the broker to exit.
    private func waitUntilRunning(child: pid_t, logOffset: Int) async throws(MQTTError) {
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.startTimeout
        let watcher = LogWatcher(path: logPath, offset: logOffset)
        while clock.now < deadline {
            var status: Int32 = 0
            if waitpid(child, &status, WNOHANG) == child {
                pid.withLock { $0 = 0 }
                throw MQTTError(.brokerProcess, "mosquitto exited at start-up (status \(status)): \(watcher.tail()); see \(logPath)")
            }
            if watcher.contains(" running") { return }
            watcher.waitForChange(timeout: .milliseconds(50))
        }
        stop()
        throw MQTTError(.brokerProcess, "mosquitto did not come up within \(configuration.startTimeout): \(watcher.tail()); see \(logPath)")
    }
}

/// Follows a log file with inotify, so start-up waits on the broker's own "running" line.
private final class LogWatcher {
    private let path: String
    private let offset: Int
    private let inotifyFD: Int32

    init(path: String, offset: Int) {
        self.path = path
        self.offset = offset
        inotifyFD = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        if inotifyFD >= 0 { _ = inotify_add_watch(inotifyFD, path, UInt32(IN_MODIFY)) }
    }

    deinit { if inotifyFD >= 0 { close(inotifyFD) } }

    private func text() -> String {
        guard let data = FileManager.default.contents(atPath: path), data.count >= offset else { return "" }
        return String(decoding: data[offset...], as: UTF8.self)
    }

    func contains(_ needle: String) -> Bool { text().contains(needle) }

    func tail() -> String {
        let lines = text().split(separator: "\n").suffix(3)
        return lines.isEmpty ? "no output" : lines.joined(separator: " | ")
    }

    /// Blocks until the file changes (or the child may have exited: bounded by `timeout`).
    func waitForChange(timeout: Duration) {
        var descriptor = pollfd(fd: inotifyFD, events: Int16(POLLIN), revents: 0)
        _ = poll(&descriptor, 1, Int32(timeout.seconds * 1000))
        var buffer = [UInt8](repeating: 0, count: 4096)
        _ = read(inotifyFD, &buffer, buffer.count)
    }
}
