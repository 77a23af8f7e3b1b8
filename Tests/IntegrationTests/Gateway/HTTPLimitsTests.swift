import Foundation
@testable import Gateway
import Logging
import Prometheus
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

extension Integration {
/// The HTTP server against a client that does not play by the rules: oversized request lines
/// and headers, idle connections, bad query values. Each is refused or closed, and the server
/// keeps answering others.
@Suite(.timeLimit(.minutes(2))) final class HTTPLimitsTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("http-limits-\(UUID().uuidString)").path
    let api: HTTPAPI
    let port: Int

    init() async throws {
        var config = GatewayConfig()
        config.store = directory + "/gateway.sqlite"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let registry = PrometheusCollectorRegistry()
        let service = try GatewayService(config: config, logger: Logger(label: "test"), metrics: PrometheusMetricsFactory(registry: registry))
        var limits = HTTPAPI.Limits()
        limits.idleTimeout = .seconds(1)
        api = HTTPAPI(service: service, registry: registry, host: "127.0.0.1", port: 0, limits: limits)
        port = try await api.start()
    }

    deinit {
        let api = self.api
        let directory = self.directory
        Task {
            await api.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Sends `request` on a new connection and reads until the server closes it or `timeout`
    /// passes; returns what came back and whether the server closed the connection.
    func exchange(_ request: [UInt8], timeout: Int = 5) throws -> (response: String, closed: Bool) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        var wait = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }  // the server may close before reading it all
            sent += n
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return (String(decoding: response, as: UTF8.self), true) }
            if n < 0 { return (String(decoding: response, as: UTF8.self), errno == ECONNRESET) }
            response += buffer[0..<n]
            if response.count > 1 << 20 { break }
        }
        return (String(decoding: response, as: UTF8.self), false)
    }

    func get(_ path: String, extraHeaders: String = "") throws -> (response: String, closed: Bool) {
        try exchange(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(extraHeaders)Connection: close\r\n\r\n".utf8))
    }

    func healthAnswers() throws -> Bool {
        try get("/health").response.hasPrefix("HTTP/1.1 200")
    }

    @Test func badTimeBoundsAreA400WithTheReason() throws {
        let from = try get("/api/indicators/almaty/ISO37120_8_1?from=yesterday").response
        #expect(from.hasPrefix("HTTP/1.1 400") && from.contains("from must be a time in ms since 1970"), "\(from.prefix(300))")
        let order = try get("/api/indicators/almaty/ISO37120_8_1?from=20&to=10").response
        #expect(order.hasPrefix("HTTP/1.1 400") && order.contains("is after to"), "\(order.prefix(300))")
    }

    @Test func aHugeRequestLineIsRefusedAndOthersAreStillServed() throws {
        let started = ContinuousClock.now
        let (response, closed) = try get("/health?x=" + String(repeating: "A", count: 1 << 20))
        #expect(closed, "the connection is closed")
        #expect(response.isEmpty || response.hasPrefix("HTTP/1.1 4"), "\(response.prefix(200))")
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(try healthAnswers())
    }

    @Test func tooManyHeadersAreRefusedAndOthersAreStillServed() throws {
        let headers = (0..<200).map { "X-Junk-\($0): \(String(repeating: "v", count: 100))\r\n" }.joined()
        let (response, closed) = try get("/health", extraHeaders: headers)
        #expect(closed && (response.isEmpty || response.hasPrefix("HTTP/1.1 4")), "\(response.prefix(200))")
        #expect(try healthAnswers())
    }

    /// The HTTP corpus: each request gets the status its file name starts with (`4`: any 4xx or
    /// a closed connection), and the server keeps serving after each.
    @Test func everyCorpusRequestGetsItsStatusAndTheServerStaysUp() throws {
        let requests = Corpus.files("http", ext: "http")
        #expect(requests.count >= 15)
        for (name, bytes) in requests {
            let expected = String(name.prefix { $0 != "-" })
            let (response, closed) = try exchange(bytes, timeout: 3)
            if expected == "4" {
                #expect(response.hasPrefix("HTTP/1.1 4") || (response.isEmpty && closed), "\(name): \(response.prefix(200))")
            } else {
                #expect(response.hasPrefix("HTTP/1.1 \(expected)"), "\(name): \(response.prefix(200))")
            }
            #expect(try healthAnswers(), "\(name): /health answers after it")
        }
    }

    @Test func anIdleConnectionIsClosed() throws {
        // Nothing sent: the server closes it after its idle timeout (1 s here), before ours (5 s).
        let (response, closed) = try exchange([])
        #expect(closed && response.isEmpty)
    }
}
}
