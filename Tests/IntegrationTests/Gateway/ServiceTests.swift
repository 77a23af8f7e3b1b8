import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
@testable import Gateway
import Logging
import MQTT
import EmbeddedBroker
import Prometheus
import Simulator
import Telemetry
import Testing
import TestSupport

extension Integration {
@Suite(.serialized, .timeLimit(.minutes(3))) struct ServiceTests {
    /// Simulated devices publish through a real broker into the gateway: the store, /metrics,
    /// the JSON API and the retained indicator topics all show the result.
    /// With two stuck stations among them, whose alarms reach the store, the API, the metrics and
    /// their retained topics.
    @Test func telemetryThroughTheBrokerReachesStoreMetricsAPIAndIndicatorTopics() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-svc-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let broker = try await EmbeddedBroker.start()
        defer { broker.stop() }
        let scenario = try gatewayScenario(duration: "6h", faults: "  - {kind: stuck, family: environment, share: 0.5, start: 1h, duration: 2h}\n")
        let expected = simulated(scenario).filter { $0.kind == .telemetry }.count

        var config = gatewayConfig(scenario)
        config.store = directory + "/gateway.sqlite"
        config.statusInterval = 0
        config.flushInterval = 0.1
        config.clientID = "gateway-service-test"
        let registry = PrometheusCollectorRegistry()
        let service = try GatewayService(config: config, logger: Logger(label: "test"), metrics: PrometheusMetricsFactory(registry: registry))
        let api = HTTPAPI(service: service, registry: registry, host: "127.0.0.1", port: 0)
        let port = try await api.start()
        #expect(port > 0)
        try await service.start(broker: ConnectionOptions(url: broker.url, clientID: config.clientID))

        let publisher = try Publisher(generator: Generator(scenario: scenario), broker: broker.url)
        try await publisher.connect()
        _ = try await publisher.run { _ in }
        await publisher.close()
        await service.waitUntilAccepted(Int64(expected))
        #expect(service.status().accepted == Int64(expected))
        try service.flush(checkpoint: true)

        let metrics = try await get(port, "/metrics")
        #expect(metrics.contains("smartcity_gateway_messages_received_total "))
        #expect(metrics.contains("smartcity_gateway_messages_accepted_total{domain=\"environment\"} "))
        #expect(metrics.contains("smartcity_gateway_messages_invalid_total{reason=\"malformed-json\"} 0"))
        let accepted = metrics.split(separator: "\n").filter { $0.hasPrefix("smartcity_gateway_messages_accepted_total{") }
            .compactMap { Int($0.split(separator: " ").last ?? "") }.reduce(0, +)
        #expect(accepted == expected)
        let health = try await get(port, "/health")
        #expect(health.contains("\"ok\":true"))

        let latest = try JSONDecoder().decode([IndicatorRow].self, from: Data(try await get(port, "/api/indicators?city=almaty&domain=environment").utf8))
        #expect(latest.contains { $0.code == "ISO37120:8.1" && $0.resolution == "hour" && $0.value > 0 })
        #expect(latest.allSatisfy { $0.domain == "environment" })
        let series = try JSONDecoder().decode([IndicatorRow].self, from: Data(try await get(port, "/api/indicators/almaty/ISO37120_8_1?resolution=hour").utf8))
        #expect(series.count >= 5, "six simulated hours, the last still open")
        #expect(series.map(\.start) == series.map(\.start).sorted())
        let stored = try service.store.indicatorSeries(city: "almaty", code: "ISO37120:8.1", resolution: .hour, from: nil, to: nil)
        #expect(series == stored)

        // Retained indicator messages for a late subscriber.
        let received = Inbox()
        let subscriber = try MQTTClient(ConnectionOptions(host: broker.host, port: broker.port, clientID: "indicator-reader")) { received.add($0) }
        try await subscriber.connect()
        _ = try await subscriber.subscribe("city/almaty/indicators/#", qos: .atLeastOnce)
        let message = try await received.first { $0.topic == "city/almaty/indicators/ISO37120_8_1/hour" }
        #expect(message.retain)
        let body = try JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any]
        #expect(body?["code"] as? String == "ISO37120:8.1")
        #expect(body?["unit"] as? String == "ug/m3")
        #expect((body?["value"] as? Double ?? 0) > 0)

        // The stuck stations' alarms: stored, served, counted, and on their retained topics.
        let alarms = try JSONDecoder().decode([Alarm].self, from: Data(try await get(port, "/api/alarms?state=all&kind=stuck").utf8))
        #expect(!alarms.isEmpty && alarms.allSatisfy { $0.domain == "environment" && $0.cleared != nil }, "\(alarms)")
        #expect(metrics.contains("smartcity_gateway_alarms_active{kind=\"stuck\"} 0"), "cleared when the fault ended")
        _ = try await subscriber.subscribe("city/almaty/alarms/#", qos: .atLeastOnce)
        let alarm = try await received.first { $0.topic == alarms[0].topic }
        #expect(alarm.retain)
        let state = try JSONSerialization.jsonObject(with: Data(alarm.payload)) as? [String: Any]
        #expect(state?["state"] as? String == "cleared" && state?["kind"] as? String == "stuck" && state?["device"] as? String == alarms[0].device)
        await subscriber.disconnect()

        await service.stop()
        await api.stop()
    }
}
}

func get(_ port: Int, _ path: String) async throws -> String {
    let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)\(path)")!)
    return String(decoding: data, as: UTF8.self)
}

final class Inbox: @unchecked Sendable {
    private let lock = NSCondition()
    private var messages: [MQTTMessage] = []

    func add(_ m: MQTTMessage) {
        lock.lock()
        messages.append(m)
        lock.broadcast()
        lock.unlock()
    }

    func first(timeout: Double = 30, _ match: @escaping @Sendable (MQTTMessage) -> Bool) async throws -> MQTTMessage {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { [self] in
                let deadline = Date().addingTimeInterval(timeout)
                lock.lock()
                defer { lock.unlock() }
                while true {
                    if let m = messages.first(where: match) { continuation.resume(returning: m); return }
                    if !lock.wait(until: deadline) { continuation.resume(throwing: TestFailure("no matching message in \(timeout) s")); return }
                }
            }
        }
    }
}

extension Integration.ServiceTests {
    /// Two things the gateway no longer counts or keeps: the retained statuses the broker sends
    /// on every subscription are not received messages (a restart does not inflate `received`),
    /// and a payload over max-payload is refused without being journaled.
    @Test func retainedStatusesAreNotReceivedAndOversizePayloadsAreNotJournaled() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-ret-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let broker = try await EmbeddedBroker.start()
        defer { broker.stop() }
        let device = try MQTTClient(ConnectionOptions(host: broker.host, port: broker.port, clientID: "devices"))
        try await device.connect()
        for n in 1...3 {
            try await device.publish("city/almaty/environment/north/alm-aq-00000\(n)/status", payload: Array("online".utf8),
                                     qos: .atLeastOnce, retain: true, awaitDelivery: true)
        }
        var config = openGatewayConfig()
        config.store = directory + "/gateway.sqlite"
        config.statusInterval = 0
        config.httpPort = nil
        config.maxPayload = 4096
        config.clientID = "gateway-retained-test"
        func reading(_ seq: Int) -> [UInt8] {
            Array(#"[{"bn":"urn:ngsi-ld:AirQualityObserved:alm-aq-000001:","bt":1768158000,"n":"pm25","u":"ug/m3","v":12},{"n":"seq","v":\#(seq)},{"n":"sent","u":"s","v":1768158000}]"#.utf8)
        }
        let topic = "city/almaty/environment/north/alm-aq-000001/attrs"
        for round in 1...2 {
            // The second round is a restart on the same store: the broker sends the statuses again.
            let service = try GatewayService(config: config, logger: Logger(label: "test"))
            try await service.start(broker: ConnectionOptions(url: broker.url, clientID: config.clientID))
            if round == 1 {
                try await device.publish(topic, payload: Array(repeating: UInt8(ascii: " "), count: 1 << 20), qos: .atLeastOnce)
            }
            try await device.publish(topic, payload: reading(round), qos: .atLeastOnce)
            // Messages of one connection arrive in order: once this one is in, so are those before it.
            await service.waitUntilAccepted(Int64(round))
            let (counters, _, _) = service.counters()
            #expect(counters.received == Int64(round + 1), "round \(round): one oversize and \(round) readings, no status")
            #expect(counters.retainedStatuses == Int64(3 * round))
            #expect(counters.invalid[.tooLarge] == 1)
            await service.stop()
        }
        let journal = try FileManager.default.contentsOfDirectory(atPath: directory + "/gateway.sqlite.journal")
        let bytes = try journal.reduce(0) { $0 + ((try FileManager.default.attributesOfItem(atPath: directory + "/gateway.sqlite.journal/" + $1)[.size] as? Int) ?? 0) }
        #expect(bytes < 64 * 1024, "the 1 MB payload was not journaled: \(bytes) bytes")
        await device.disconnect()
    }
}

/// Log lines of a test's logger as a stream, to await the one that tells an event.
struct StreamLogHandler: LogHandler {
    let sink: AsyncStream<String>.Continuation
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        sink.yield("\(level) \(message)")
    }
}

extension Integration.ServiceTests {
    /// The broker restarts under the gateway: the loss and the return are logged, and
    /// `connected` (in /health and the metrics) is true again after the return.
    @Test func theLossAndReturnOfTheBrokerAreLoggedAndFollowed() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-loss-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let broker = try await EmbeddedBroker.start(.init(persistence: true))
        defer { broker.stop() }
        var config = openGatewayConfig()
        config.store = directory + "/gateway.sqlite"
        config.statusInterval = 0
        config.httpPort = nil
        config.publishIndicators = false
        config.clientID = "gateway-loss-test"
        let (lines, sink) = AsyncStream.makeStream(of: String.self)
        let service = try GatewayService(config: config, logger: Logger(label: "test") { _ in StreamLogHandler(sink: sink) })
        var options = ConnectionOptions(url: broker.url, clientID: config.clientID)
        options.reconnect = ReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(400))
        try await service.start(broker: options)
        #expect(service.status().connected)
        try await broker.restart()
        var seen: [String] = []
        for await line in lines {
            seen.append(line)
            if line.contains("the broker is back") { break }
        }
        #expect(seen.contains { $0.hasPrefix("warning lost the broker") }, "\(seen)")
        #expect(seen.contains { $0.contains("the broker is back after") && $0.contains("session kept") }, "\(seen)")
        #expect(service.status().connected)
        await service.stop()
    }
}
