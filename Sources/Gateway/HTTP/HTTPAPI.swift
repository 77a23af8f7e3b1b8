import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import Synchronization
import Telemetry

/// `/metrics` (Prometheus text), `/health` and the JSON API over the store, on Hummingbird.
///
/// - `GET /metrics` — the registry the process's metrics go to
/// - `GET /health` — 200 when the store and journal work, 503 otherwise
/// - `GET /api/indicators[?city=almaty&domain=environment]` — newest value per city, indicator, resolution
/// - `GET /api/indicators/{city}/{code}[?resolution=hour&from=ms&to=ms]` — one indicator's series
/// - `GET /api/definitions` — every indicator's code, name, unit, formula
/// - `GET /api/alarms[?state=active|all&city=almaty&kind=pipe-burst]` — the detectors' alarms
/// - `GET /` — the live view, a self-contained page; `GET /api/live` its snapshot, and
///   `GET /api/live/stream` the snapshots as server-sent events
///
/// `application` is a Service for the gateway's `ServiceGroup`:
///
/// ```swift
/// let api = HTTPAPI(service: gateway, registry: registry, host: "127.0.0.1", port: 9464)
/// let group = ServiceGroup(configuration: .init(services: [api.application] + gateway.services(broker: options), ...))
/// ```
public final class HTTPAPI: Sendable {
    /// What one client may ask of the server: it serves a local network, where anybody may
    /// connect, so every resource a request holds is bounded.
    public struct Limits: Sendable {
        /// Open connections; more wait in the kernel's backlog until one closes.
        public var connections = 256
        /// A connection with no HTTP part read or written for this long is closed (a head
        /// trickled in byte by byte counts as nothing read until it is whole).
        public var idleTimeout: Duration = .seconds(30)
        /// A request (its head, and any body) that has not arrived whole this long after its
        /// first byte is closed: a client trickling a body is never idle.
        public var requestTimeout: Duration = .seconds(10)
        /// Live-view streams open at once, how often each sends a snapshot, and how long one
        /// lasts (the page's EventSource opens the next; a stream never holds a shutdown up
        /// longer than an interval).
        public var liveStreams = 16
        public var liveInterval: Duration = .seconds(1)
        public var liveStreamLifetime: Duration = .seconds(60)
        /// Bytes of one header line (the request line counts as one), of all headers, and how many.
        public var headerBytes = 8 * 1024
        public var headersBytes = 32 * 1024
        public var headers = 100

        public init() {}
    }

    public let application: any ApplicationProtocol
    private let bound: AsyncStream<Int>
    /// The task of a server started by `start()` rather than by a service group.
    private let task = Mutex<Task<Void, any Error>?>(nil)

    public init(service: GatewayService, registry: PrometheusCollectorRegistry, host: String, port: Int,
                limits: Limits = Limits(), logger: Logger = Logger(label: "smartcity.http")) {
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            service.updateMetrics()
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        router.get("/health") { _, _ -> Response in
            let status = service.status()
            return try HTTPAPI.json(status, status: status.ok ? .ok : .serviceUnavailable)
        }
        router.get("/api/definitions") { _, _ -> Response in
            try HTTPAPI.json(service.definitions.values.sorted { $0.code < $1.code }.map {
                ["code": $0.code, "slug": $0.slug, "name": $0.name, "unit": $0.unit, "domain": $0.domain.rawValue,
                 "formula": $0.formula, "needs": $0.needs, "direction": $0.higherIsBetter ? "higher is better" : "lower is better"]
            })
        }
        router.get("/api/indicators") { request, _ -> Response in
            let query = request.uri.queryParameters
            return try HTTPAPI.json(try service.store.latestIndicators(city: query.get("city"), domain: query.get("domain")))
        }
        router.get("/api/indicators/:city/:code") { request, context -> Response in
            guard let city = context.parameters.get("city"), let code = context.parameters.get("code") else {
                return HTTPAPI.error(.notFound, "use /api/indicators/{city}/{code}")
            }
            let query = request.uri.queryParameters
            let resolutionName = query.get("resolution") ?? "window"
            guard let resolution = Resolution(name: resolutionName) else {
                return HTTPAPI.error(.badRequest, "resolution must be window, hour or day")
            }
            var bounds: [Int64?] = []
            for name in ["from", "to"] {
                guard let text = query.get(name) else {
                    bounds.append(nil)
                    continue
                }
                guard let ms = Int64(text) else { return HTTPAPI.error(.badRequest, "\(name) must be a time in ms since 1970, got '\(text.prefix(40))'") }
                bounds.append(ms)
            }
            if let from = bounds[0], let to = bounds[1], from > to {
                return HTTPAPI.error(.badRequest, "from (\(from)) is after to (\(to))")
            }
            let rows = try service.store.indicatorSeries(city: city, code: code, resolution: resolution, from: bounds[0], to: bounds[1])
            if rows.isEmpty { return HTTPAPI.error(.notFound, "no values for \(code) in \(city) at resolution \(resolution.name)") }
            return try HTTPAPI.json(rows)
        }
        router.get("/api/alarms") { request, _ -> Response in
            let query = request.uri.queryParameters
            let state = query.get("state") ?? "active"
            guard state == "active" || state == "all" else { return HTTPAPI.error(.badRequest, "state must be active or all, got '\(state.prefix(40))'") }
            let kind = query.get("kind")
            if let kind, AlarmKind(name: kind) == nil {
                return HTTPAPI.error(.badRequest, "kind must be one of \(AlarmKind.allCases.map(\.name).joined(separator: ", ")), got '\(kind.prefix(40))'")
            }
            return try HTTPAPI.json(try service.store.alarms(activeOnly: state == "active", city: query.get("city"), kind: kind))
        }
        router.get("/") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: LiveView.page)))
        }
        let (interval, lifetime, maximum) = (limits.liveInterval, limits.liveStreamLifetime, limits.liveStreams)
        let live = LiveView.Shared(interval: interval / 2)
        router.get("/api/live") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try live.snapshot(service))))
        }
        let streams = Atomic(0)
        router.get("/api/live/stream") { _, _ -> Response in
            guard streams.add(1, ordering: .relaxed).newValue <= maximum else {
                streams.subtract(1, ordering: .relaxed)
                return HTTPAPI.error(.serviceUnavailable, "\(maximum) live streams are open already; try again later")
            }
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: .init { writer in
                defer { streams.subtract(1, ordering: .relaxed) }
                let end = ContinuousClock.now + lifetime
                try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
                while ContinuousClock.now < end, !Task.isCancelled, !Task.isShuttingDownGracefully {
                    var event = ByteBuffer(string: "data: ")
                    event.writeBytes(try live.snapshot(service))
                    event.writeString("\n\n")
                    try await writer.write(event)
                    try? await Task.sleep(for: interval)
                }
                try await writer.finish(nil)
            })
        }
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        bound = stream
        let timedOut = registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "smartcity", subsystem: "http", metricName: "request_timeouts", unitName: "total",
            helpText: "Connections closed because a request did not arrive whole in time"))
        let requestTimeout = HTTPAPI.amount(limits.requestTimeout)
        let connections = HTTPAPI.connectionCap(limits.connections, logger: logger)
        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [DeadlineInstaller(limit: requestTimeout) { timedOut.increment() }],
            idleTimeout: HTTPAPI.amount(limits.idleTimeout),
            httpDecoderConfiguration: .init(maxHeaderFieldSize: limits.headerBytes, maxHeaderListSize: limits.headersBytes,
                                            maxHeaderFieldCount: limits.headers))
        application = Application(
            router: router, server: .http1(configuration: http1),
            configuration: .init(address: .hostname(host, port: port), serverName: "smartcity-gateway",
                                 availableConnectionsDelegate: .maximum(connections, logger: logger)),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            },
            logger: logger)
    }

    static func amount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// Open files kept free for the rest of the gateway (broker connection, store, journal,
    /// checkpoints) however many HTTP clients connect.
    static let reservedFiles = 64

    /// At most `configured` connections, and no more than the open-file limit leaves beside
    /// the files the process holds and `reservedFiles`: clients beyond that wait in the
    /// kernel's backlog instead of running the process out of descriptors (EMFILE), which
    /// would fail the store and the broker connection too.
    static func connectionCap(_ configured: Int, logger: Logger) -> Int {
        let allowed = OpenFiles.limit()
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 32
        let room = allowed - open - reservedFiles
        guard room < configured else { return configured }
        let cap = max(1, room)
        logger.warning("HTTP: at most \(cap) connections, not \(configured): the process may open \(allowed) files and holds \(open), and keeps \(reservedFiles) for the broker and the store; raise the limit (ulimit -n \(open + reservedFiles + configured)) for more")
        return cap
    }

    /// The port the server listens on, once it runs (nil if it stopped before).
    public func boundPort() async -> Int? {
        for await port in bound { return port }
        return nil
    }

    /// Runs the server in a task of its own (without a service group) and returns the bound
    /// port (useful with port 0).
    public func start() async throws -> Int {
        let application = self.application
        task.withLock { $0 = Task { try await application.run() } }
        guard let port = await boundPort() else { throw GatewayError.state("the HTTP server did not start") }
        return port
    }

    /// Stops a server started by `start()`.
    public func stop() async {
        guard let running = task.withLock({ task in defer { task = nil }; return task }) else { return }
        running.cancel()
        _ = try? await running.value
    }

    /// Puts a `RequestDeadline` in front of the HTTP decoder of each connection (Hummingbird
    /// adds its extra handlers after the decoder, where the raw bytes are gone).
    private final class DeadlineInstaller: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = Never
        let limit: TimeAmount
        let onExpiry: @Sendable () -> Void

        init(limit: TimeAmount, onExpiry: @escaping @Sendable () -> Void) {
            self.limit = limit
            self.onExpiry = onExpiry
        }

        func handlerAdded(context: ChannelHandlerContext) {
            try? context.pipeline.syncOperations.addHandler(RequestDeadline(limit: limit, onExpiry: onExpiry), position: .first)
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        (try? json(["error": message], status: status)) ?? Response(status: status)
    }
}
