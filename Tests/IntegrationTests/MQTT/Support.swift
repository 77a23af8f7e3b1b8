import Foundation
@_spi(FastPath) import MQTT
import EmbeddedBroker
import Testing

struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Runs `body`, failing with TimedOut after `seconds`: a bound on a wait for an event, not a delay.
func within<T: Sendable>(_ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw TimedOut(what: what)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

extension AsyncStream where Element: Sendable {
    /// The next `count` elements, or TimedOut.
    func take(_ count: Int, within seconds: Double = 10) async throws -> [Element] {
        let stream = self
        return try await IntegrationTests.within(seconds, "\(count) element(s)") {
            var result: [Element] = []
            guard count > 0 else { return result }
            for await element in stream {
                result.append(element)
                if result.count == count { break }
            }
            return result
        }
    }

    /// The first element matching `predicate`, or TimedOut.
    func first(within seconds: Double = 10, where predicate: @escaping @Sendable (Element) -> Bool) async throws -> Element {
        let stream = self
        return try await IntegrationTests.within(seconds, "a matching element") {
            for await element in stream where predicate(element) { return element }
            throw TimedOut(what: "a matching element (stream ended)")
        }
    }
}

/// Runs a shell command, failing the test with its output when it fails.
@discardableResult
func shell(_ command: String, in directory: URL) throws -> String {
    let (status, output) = try shellStatus(command, in: directory)
    guard status == 0 else {
        throw NSError(domain: "shell", code: Int(status), userInfo: [NSLocalizedDescriptionKey: "`\(command)` failed: \(output)"])
    }
    return output
}

/// Runs a shell command and returns its exit status and output (stdout and stderr).
func shellStatus(_ command: String, in directory: URL) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    process.currentDirectoryURL = directory
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, output)
}

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("smartcity-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func options(_ broker: EmbeddedBroker, _ id: String) -> ConnectionOptions {
    ConnectionOptions(host: broker.host, port: broker.port, clientID: id)
}

/// A client on `loop` whose writes wait for the loop (`writesOnLoop`); `adjust` sets any
/// other options.
func loopWritingClient(_ broker: EmbeddedBroker, _ id: String, loop: NetworkLoop,
                       adjust: (inout ConnectionOptions) -> Void = { _ in }) throws -> MQTTClient {
    var o = options(broker, id)
    o.writesOnLoop = true
    adjust(&o)
    return try MQTTClient(o, loop: loop)
}

/// A connected subscriber on `filter`.
func connectedSubscriber(_ broker: EmbeddedBroker, _ id: String, on filter: String, qos: QoS = .atMostOnce) async throws -> MQTTClient {
    let subscriber = try MQTTClient(options(broker, id))
    try await subscriber.connect()
    try await subscriber.subscribe(filter, qos: qos)
    return subscriber
}

/// A loopback TCP listener that accepts connections and never answers: returns its socket and port.
func silentListener() throws -> (Int32, Int) {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
            bind(listener, sa, length) == 0 && listen(listener, 4) == 0 && getsockname(listener, sa, &length) == 0
        }
    }
    guard bound else { throw TimedOut(what: "a loopback listener (errno \(errno))") }
    return (listener, Int(UInt16(bigEndian: address.sin_port)))
}

/// A CA, and a server certificate it signs for 127.0.0.1 (ca.crt, server.crt, server.key), and
/// another CA (other.crt), made with openssl for a test.
func makeCertificates(in directory: URL) throws {
    try shell("""
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.crt 2>&1 &&
        openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr 2>&1 &&
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext &&
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.crt 2>&1 &&
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca -keyout other.key -out other.crt 2>&1
        """, in: directory)
}
