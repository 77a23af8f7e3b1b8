import FlyingFox
import FlyingSocks
import Foundation
import Telemetry

/// `/metrics` (Prometheus text), `/health` and the JSON API over the store.
///
/// - `GET /metrics`
/// - `GET /health` — 200 when the store and journal work, 503 otherwise
/// - `GET /api/indicators[?city=almaty&domain=environment]` — newest value per city, indicator, resolution
/// - `GET /api/indicators/{city}/{code}[?resolution=hour&from=ms&to=ms]` — one indicator's series
/// - `GET /api/definitions` — every indicator's code, name, unit, formula
public final class HTTPAPI: @unchecked Sendable {
    let server: HTTPServer
    let service: GatewayService
    private var task: Task<Void, any Error>?

    public init(service: GatewayService, host: String, port: Int) throws {
        self.service = service
        server = HTTPServer(address: try .inet(ip4: host, port: UInt16(port)), logger: .disabled)
    }

    /// Starts listening; returns the bound port.
    public func start() async throws -> Int {
        let service = self.service
        await server.appendRoute("GET /metrics") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: Data(Metrics.render(service).utf8))
        }
        await server.appendRoute("GET /health") { _ in
            let status = service.status()
            return try HTTPAPI.json(status, status: status.ok ? .ok : .serviceUnavailable)
        }
        await server.appendRoute("GET /api/definitions") { _ in
            try HTTPAPI.json(IndicatorCatalog.all.map {
                ["code": $0.code, "slug": $0.slug, "name": $0.name, "unit": $0.unit, "domain": $0.domain.rawValue,
                 "formula": $0.formula, "needs": $0.needs, "direction": $0.higherIsBetter ? "higher is better" : "lower is better"]
            })
        }
        await server.appendRoute("GET /api/indicators") { request in
            try HTTPAPI.json(try service.store.latestIndicators(city: request.query["city"], domain: request.query["domain"]))
        }
        await server.appendRoute("GET /api/indicators/:city/:code") { request in
            let parts = request.path.split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
            guard parts.count == 4 else { return HTTPAPI.error(.notFound, "use /api/indicators/{city}/{code}") }
            let resolutionName = request.query["resolution"] ?? "window"
            guard let resolution = Resolution(name: resolutionName) else {
                return HTTPAPI.error(.badRequest, "resolution must be window, hour or day")
            }
            let from = request.query["from"].flatMap { Int64($0) }
            let to = request.query["to"].flatMap { Int64($0) }
            let rows = try service.store.indicatorSeries(city: parts[2], code: parts[3], resolution: resolution, from: from, to: to)
            if rows.isEmpty { return HTTPAPI.error(.notFound, "no values for \(parts[3]) in \(parts[2]) at resolution \(resolution.name)") }
            return try HTTPAPI.json(rows)
        }
        let server = self.server
        task = Task { try await server.run() }
        try await server.waitUntilListening()
        let address = await server.listeningAddress
        switch address {
        case .ip4(let ip, port: let port)?: return ip.isEmpty ? 0 : Int(port)
        default: return 0
        }
    }

    public func stop() async {
        await server.stop(timeout: 1)
        task?.cancel()
    }

    static func json(_ value: some Encodable, status: HTTPStatusCode = .ok) throws -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return HTTPResponse(statusCode: status, headers: [.contentType: "application/json"], body: try encoder.encode(value))
    }

    static func error(_ status: HTTPStatusCode, _ message: String) -> HTTPResponse {
        (try? json(["error": message], status: status)) ?? HTTPResponse(statusCode: status)
    }
}

/// The Prometheus text exposition of the gateway's counters.
enum Metrics {
    static func render(_ service: GatewayService) -> String {
        let (c, open, devices) = service.counters()
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, Double)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name)\(labels) \(value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value))\n" }
        }
        metric("smartcity_gateway_messages_received_total", "counter", "Messages received (telemetry and status).", [("", Double(c.received))])
        metric("smartcity_gateway_messages_accepted_total", "counter", "Telemetry messages decoded, valid and counted once, by domain.",
               Domain.allCases.map { ("{domain=\"\($0.rawValue)\"}", Double(c.acceptedByDomain[$0])) })
        metric("smartcity_gateway_readings_total", "counter", "Attribute readings in accepted messages.", [("", Double(c.readings))])
        metric("smartcity_gateway_status_messages_total", "counter", "online/offline status messages.", [("", Double(c.statusMessages))])
        metric("smartcity_gateway_messages_invalid_total", "counter", "Rejected messages by reason (kept as dead letters).",
               RejectReason.allCases.map { ("{reason=\"\($0.rawValue)\"}", Double(c.invalid[$0])) })
        metric("smartcity_gateway_duplicates_total", "counter", "Messages seen before (same device and sequence number).", [("", Double(c.duplicates))])
        metric("smartcity_gateway_late_total", "counter", "Accepted messages that corrected an emitted window.", [("", Double(c.late))])
        metric("smartcity_gateway_too_late_total", "counter", "Messages older than the watermark, not aggregated.", [("", Double(c.tooLate))])
        metric("smartcity_gateway_windows_emitted_total", "counter", "Window aggregates emitted when their window closed.", [("", Double(c.windowsEmitted))])
        metric("smartcity_gateway_window_corrections_total", "counter", "Window aggregates emitted again after late data.", [("", Double(c.corrections))])
        metric("smartcity_gateway_indicators_emitted_total", "counter", "Indicator values computed.", [("", Double(c.indicatorsEmitted))])
        metric("smartcity_gateway_meter_resets_total", "counter", "Cumulative meters that restarted from zero.", [("", Double(c.meterResets))])
        metric("smartcity_gateway_meter_rollovers_total", "counter", "Cumulative meters that wrapped at their rollover.", [("", Double(c.meterRollovers))])
        metric("smartcity_gateway_ingest_lag_seconds", "gauge",
               "Mean of arrival minus the device's send time over accepted messages (meaningful when simulated time runs at real time).",
               [("", c.lagCount > 0 ? c.lagSumMs / Double(c.lagCount) / 1000 : 0)])
        metric("smartcity_gateway_open_windows", "gauge", "Windows held in memory (all resolutions).", [("", Double(open))])
        metric("smartcity_gateway_devices", "gauge", "Devices seen.", [("", Double(devices))])
        let latency = service.storeLatency
        metric("smartcity_gateway_store_write_seconds", "summary", "Store transaction times.",
               [("_sum", latency.totalSeconds), ("_count", Double(latency.count))])
        metric("smartcity_gateway_store_write_seconds_max", "gauge", "Longest store transaction.", [("", latency.maxSeconds)])
        let status = service.status()
        metric("smartcity_gateway_connected", "gauge", "1 while subscribed to the broker.", [("", status.connected ? 1 : 0)])
        metric("smartcity_gateway_journal_position_bytes", "gauge", "Bytes journaled so far.", [("", Double(status.journalPosition))])
        metric("smartcity_gateway_checkpoint_position_bytes", "gauge", "Journal position of the last checkpoint.", [("", Double(status.checkpointPosition))])
        return out
    }
}
