import Foundation
@testable import Gateway
import EmbeddedBroker
import Logging
import MQTT
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
        limits.requestTimeout = .seconds(2)
        limits.liveInterval = .milliseconds(200)
        limits.liveStreamLifetime = .seconds(1)
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
        let fd = try connection()
        defer { close(fd) }
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

    /// A socket connected to the server (or to `port`).
    func connection(to port: Int? = nil) throws -> Int32 {
        let port = port ?? self.port
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        return fd
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

    /// The live view: a page that needs nothing from elsewhere, and a stream of snapshots that
    /// ends after its lifetime (the page's EventSource opens the next).
    @Test func theLiveViewIsSelfContainedAndStreams() throws {
        let page = try get("/").response
        #expect(page.hasPrefix("HTTP/1.1 200") && page.contains("text/html") && page.contains("new EventSource(\"/api/live/stream\")"))
        #expect(!page.contains("http://") && !page.contains("https://") && !page.contains("<script src") && !page.contains("<link"))
        let (stream, closed) = try get("/api/live/stream")
        #expect(closed, "the stream ends after its lifetime")
        #expect(stream.contains("text/event-stream") && stream.contains("retry: 1000"))
        let events = stream.components(separatedBy: "data: ").dropFirst()
        #expect(events.count >= 3, "a snapshot every 200 ms for a second: \(events.count)")
        let first = try #require(events.first?.components(separatedBy: "\n").first)
        let snapshot = try #require(try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any])
        #expect((snapshot["status"] as? [String: Any])?["received"] as? Int == 0)
        #expect(snapshot["alarms"] as? [Any] != nil && snapshot["indicators"] as? [Any] != nil)
    }

    @Test func alarmQueriesAreCheckedAndServed() throws {
        let all = try get("/api/alarms?state=all").response
        #expect(all.hasPrefix("HTTP/1.1 200") && all.hasSuffix("[]"), "\(all.suffix(200))")
        let state = try get("/api/alarms?state=open").response
        #expect(state.hasPrefix("HTTP/1.1 400") && state.contains("state must be active or all"), "\(state.suffix(200))")
        let kind = try get("/api/alarms?kind=meteor").response
        #expect(kind.hasPrefix("HTTP/1.1 400") && kind.contains("pipe-burst"), "\(kind.suffix(200))")
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

    /// A client that trickles a request body, a byte every 0.3 s, is never idle (each byte is a
    /// body part); the request timeout (2 s here) closes it anyway, and counts it. (A trickled
    /// head is closed by the idle timeout too: no part is read until the head is whole.)
    @Test func aSlowSenderIsClosedAfterTheRequestTimeout() throws {
        let fd = try connection()
        defer { close(fd) }
        var wait = timeval(tv_sec: 0, tv_usec: 300_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        let started = ContinuousClock.now
        var closedAfter: Duration?
        var sent = 0
        // A head announcing a large body, then the body a letter at a time, until the server
        // closes (or 20 s pass).
        let start = Array("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n".utf8)
        while ContinuousClock.now - started < .seconds(20) {
            let chunk = sent == 0 ? start : [UInt8(ascii: "a") + UInt8(sent % 26)]
            sent += 1
            if send(fd, chunk, chunk.count, Int32(MSG_NOSIGNAL)) <= 0 { closedAfter = ContinuousClock.now - started; break }
            var answer = [UInt8](repeating: 0, count: 512)
            let n = recv(fd, &answer, answer.count, 0)
            if n == 0 || (n < 0 && errno == ECONNRESET) { closedAfter = ContinuousClock.now - started; break }
        }
        let after = try #require(closedAfter, "the server closes a slow sender")
        #expect(after >= .seconds(1.5) && after < .seconds(6), "closed after \(after)")
        let metrics = try get("/metrics").response
        #expect(metrics.contains("smartcity_http_request_timeouts_total 1"), "\(metrics.suffix(400))")
        #expect(try healthAnswers())
    }

    /// The request timeout stops with the head's blank line: a request that arrives in one go
    /// is served, and the connection is not closed by the timeout while the server answers.
    @Test func theMatcherFindsTheEndOfAHeadAcrossReads() {
        func ends(_ text: String) -> Bool {
            var matched = 0
            for byte in text.utf8 {
                matched = RequestDeadline.advance(matched, byte)
                if matched == 4 { return true }
            }
            return false
        }
        #expect(ends("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(ends("a\r\r\n\r\n"))
        #expect(!ends("a\r\n\r"))
        #expect(!ends("a\n\n\r\n"))
        #expect(!ends("a\r\n\n\r\n"))
    }

    @Test func anIdleConnectionIsClosed() throws {
        // Nothing sent: the server closes it after its idle timeout (1 s here), before ours (5 s).
        let (response, closed) = try exchange([])
        #expect(closed && response.isEmpty)
    }
}
}

extension Integration.HTTPLimitsTests {
    /// 200 HTTP clients against a gateway that may open 160 files: it takes only as many as
    /// leave room for its other files (and says so), the rest wait in the backlog, and the
    /// gateway still reconnects to its broker after a restart. Without the cap the clients
    /// took every descriptor and the reconnect failed with EMFILE until they left.
    @Test func httpClientsCannotRunTheGatewayOutOfFiles() async throws {
        let broker = try await EmbeddedBroker.start(.init(persistence: true))
        defer { broker.stop() }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let gateway = try ChildProcess(["gateway", "serve", "--broker", broker.url.description, "--store", directory + "/files.sqlite",
                                        "--http-port", "0", "--no-publish", "--status-interval", "0"], openFiles: 160)
        defer { gateway.signal(SIGKILL) }
        let serving = try await gateway.waitForLine { $0.contains("serves /metrics") }
        let port = try #require(Int(serving.components(separatedBy: "http://127.0.0.1:").last?.prefix { $0.isNumber } ?? ""))
        _ = try await gateway.waitForLine { $0.contains("subscribed to") }
        let capLine = try await gateway.waitForLine { $0.contains("HTTP: at most") }
        let cap = try #require(Int(capLine.components(separatedBy: "at most ")[1].prefix { $0.isNumber }))
        #expect(cap < 160 - HTTPAPI.reservedFiles, "\(capLine)")
        let pid = gateway.process.processIdentifier
        func openFiles() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0 }
        let before = openFiles()
        var clients: [Int32] = []
        defer { for fd in clients { close(fd) } }
        for _ in 0..<200 { clients.append(try connection(to: port)) }
        // The server takes `cap` of them (a wait for that count, bounded).
        let deadline = ContinuousClock.now + .seconds(10)
        while openFiles() < before + cap, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(openFiles() <= 160 - 32, "\(openFiles()) files open: room is left for the rest of the gateway")
        try await broker.restart()
        _ = try await gateway.waitForLine(timeout: 15) { $0.contains("the broker is back") }
    }
}
