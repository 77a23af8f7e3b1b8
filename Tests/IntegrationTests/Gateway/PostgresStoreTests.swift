import EmbeddedBroker
import Foundation
@testable import Gateway
import Logging
import MQTT
import PostgresStore
import Simulator
import Telemetry
import Testing
import TestSupport

extension Integration {
    /// The PostgreSQL store against a real server the test starts: the same rows and upsert
    /// rules as SQLite, a clear error when the server is not there, and nothing lost or counted
    /// twice when it goes away in the middle of a run.
    @Suite(.serialized) struct PostgresStoreTests {
        func directory() throws -> String {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smartcity-pgtest-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            return dir
        }

        func record(revision: Int32, closed: Bool, count: Int64) -> WindowRecord {
            var p = WindowPartial()
            for i in 0..<count { p.add(Double(i), at: 1_768_158_000_000 + i * 1000) }
            return WindowRecord(city: "almaty", domain: .environment, district: "north", attribute: "AirQualityObserved.pm25", resolution: .base,
                                start: 1_768_158_000_000, end: 1_768_158_900_000, partial: p, revision: revision, closed: closed)
        }

        @Test func rowsOnlyMoveToAHigherRevisionAndABatchTwiceChangesNothing() throws {
            let server = try PostgresServer()
            defer { server.stop() }
            let dir = try directory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let store = try PostgresStore(url: server.url, local: dir + "/checkpoints.sqlite")
            var batch = StoreBatch()
            batch.windows = [record(revision: 2, closed: false, count: 5)]
            batch.indicators = [IndicatorValue(city: "almaty", code: "ISO37120:8.1", resolution: .base, start: 1_768_158_000_000,
                                               end: 1_768_158_900_000, value: 42.5, revision: 2, closed: false)]
            batch.alarms = [Alarm(city: "almaty", domain: "environment", district: "north", device: "alm-aq-000001", kind: "stuck",
                                  severity: "major", raised: 1_768_158_000_000, cleared: 1_768_158_600_000, value: 3)]
            batch.deadLetters = [DeadLetter(position: 7, topic: "city/x", reason: .badTopic, detail: "d", payload: [0, 1, 2])]
            batch.checkpoint = Checkpoint(position: 99, createdAtMs: 1, accepted: 5, state: Array(repeating: 7, count: 10_000))
            try store.write(batch)
            try store.write(batch)
            #expect(try store.windows(city: "almaty", resolution: .base).map(\.partial.count) == [5])
            // An older revision does not replace a newer one; a newer one does.
            var older = StoreBatch()
            older.windows = [record(revision: 1, closed: true, count: 9)]
            older.alarms = [Alarm(city: "almaty", domain: "environment", district: "north", device: "alm-aq-000001", kind: "stuck",
                                  severity: "major", raised: 1_768_158_000_000, cleared: nil, value: 3)]
            try store.write(older)
            let kept = try #require(try store.windows(city: nil, resolution: nil).first)
            #expect(kept.revision == 2 && kept.partial.count == 5 && !kept.closed)
            #expect(try store.alarms(activeOnly: false, city: nil, kind: nil).map(\.cleared) == [1_768_158_600_000], "a replayed raise does not undo the clearing")
            var newer = StoreBatch()
            newer.windows = [record(revision: 3, closed: true, count: 11)]
            try store.write(newer)
            let replaced = try #require(try store.windows(city: "almaty", resolution: .base).first)
            #expect(replaced.revision == 3 && replaced.partial.count == 11 && replaced.closed)
            #expect(replaced.partial.min == 0 && replaced.partial.max == 10 && replaced.partial.lastValue == 10)
            #expect(try store.indicatorSeries(city: "almaty", code: "ISO37120_8_1", resolution: .base, from: nil, to: nil).map(\.value) == [42.5])
            // The checkpoint is the instance's own, in its local file.
            #expect(try store.latestCheckpoint()?.position == 99 && store.local?.latestCheckpoint()?.state.count == 10_000)
        }

        @Test func anUnreachableServerFailsAtOnceNamingItsAddress() async throws {
            let port = try EmbeddedBroker.freeLoopbackPort()
            let dir = try directory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try "journal: \(dir)/journal\n".write(toFile: dir + "/gateway.yaml", atomically: true, encoding: .utf8)
            let began = ContinuousClock.now
            let gateway = try ChildProcess(["gateway", "replay", "/dev/null", "--store", "postgres://postgres@127.0.0.1:\(port)/city",
                                            "--config", dir + "/gateway.yaml"])
            #expect(await gateway.waitForExit() != 0)
            #expect(!FileManager.default.fileExists(atPath: dir + "/journal.checkpoints.sqlite"), "nothing is left of a store that could not be opened")
            #expect(ContinuousClock.now - began < .seconds(8))
            #expect(gateway.output.contains("127.0.0.1:\(port)/city"), "\(gateway.output)")
        }

        /// A day of the test city in PostgreSQL and in SQLite: the same windows, indicators and
        /// index; then the server goes away while the gateway runs, and comes back.
        @Test func aRunStoresTheSameInPostgresAsInSQLiteAndSurvivesTheServerGoingAway() async throws {
            let server = try PostgresServer()
            defer { server.stop() }
            let dir = try directory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try gatewayScenarioYAML(duration: "1d").write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
            for (out, store) in [("pg", [ "--store", server.url]), ("lite", [])] {
                let run = try ChildProcess(["run", dir + "/s.yaml", "--direct", "--out", dir + "/" + out, "--progress", "0"] + store)
                #expect(await run.waitForExit() == 0, "\(run.output)")
            }
            func table(_ out: String) throws -> [[String]] {
                try String(contentsOfFile: dir + "/\(out)/indicators.csv", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            }
            let pg = try table("pg"), lite = try table("lite")
            #expect(pg.first == lite.first && pg.count == lite.count && pg.count == 2)
            for (a, b) in zip(pg[1].dropFirst(2), lite[1].dropFirst(2)) {
                let x = Double(a) ?? .nan, y = Double(b) ?? .nan
                #expect(abs(x - y) <= 1e-9 * max(1, abs(y)), "\(a) vs \(b)")
            }
            #expect(try String(contentsOfFile: dir + "/pg/index.csv", encoding: .utf8) == String(contentsOfFile: dir + "/lite/index.csv", encoding: .utf8))

            // The gateway service on the server: the server dies mid-stream; the writes fail
            // and wait; it comes back and every window arrives once.
            let s = try gatewayScenario(duration: "6h")
            var config = gatewayConfig(s)
            config.store = server.url
            config.journal = dir + "/service.journal"
            config.httpPort = nil
            config.statusInterval = 0
            config.checkpointInterval = 0.1
            try PostgresStore.empty(url: server.url)
            let service = try GatewayService(config: config, store: try PostgresStore(url: server.url, local: config.journalPath + ".checkpoints.sqlite"),
                                             logger: Logger(label: "test"))
            let messages = simulated(s)
            let half = messages.count / 2
            for m in messages[..<half] { service.receive(topic: m.topicString, payload: m.payload) }
            try service.flush(checkpoint: true)
            try server.kill()
            for m in messages[half...] { service.receive(topic: m.topicString, payload: m.payload) }
            #expect { try service.flush(checkpoint: true) } throws: { "\($0)".contains("127.0.0.1:\(server.port)") }
            try server.start()
            try service.flush(checkpoint: true, provisional: true)
            let stored = try service.store.windows(city: nil, resolution: nil)
            // Against the same messages aggregated without a store.
            let (plain, records, _) = try aggregated(messages, gatewayConfig(s))
            let expected = finalWindows(records)
            let got = finalWindows(stored)
            #expect(got.count == expected.count && got.count > 100)
            for (key, w) in expected {
                #expect(got[key]?.partial.count == w.partial.count && got[key]?.partial.sum == w.partial.sum, "\(key)")
            }
            #expect(service.counters().0.accepted == plain.counters.accepted)
        }
    
        /// The store goes away while the gateway takes messages from the broker: it stops
        /// acknowledging (the connection is held, the broker keeps what is published), and
        /// when the store is back it takes the rest; every reading counted once.
        @Test func aStoreThatGoesAwayStopsTheAcknowledgementsUntilItIsBack() async throws {
            let server = try PostgresServer()
            defer { server.stop() }
            let dir = try directory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let s = try gatewayScenario(duration: "12h")
            let messages = simulated(s, status: false)
            let broker = try await EmbeddedBroker.start()
            defer { broker.stop() }
            var config = gatewayConfig(s)
            config.store = server.url
            config.journal = dir + "/journal"
            config.httpPort = nil
            config.statusInterval = 0
            config.publishIndicators = false
            config.flushInterval = 0.05
            config.checkpointInterval = 0.5
            config.clientID = "held-gateway"
            try PostgresStore.empty(url: server.url)
            let service = try GatewayService(config: config, store: try PostgresStore(url: server.url, local: config.journalPath + ".checkpoints.sqlite"),
                                             logger: Logger(label: "test"))
            var options = ConnectionOptions(url: broker.url, clientID: config.clientID)
            options.reconnect = GatewayService.reconnectPolicy
            try await service.start(broker: options)
            let device = try MQTTClient(ConnectionOptions(host: broker.host, port: broker.port, clientID: "devices"))
            try await device.connect()
            func publish(_ part: ArraySlice<SimMessage>) async throws {
                for (i, m) in part.enumerated() {
                    try await device.publish(m.topicString, payload: m.payload, qos: .atLeastOnce, awaitDelivery: i == part.count - 1)
                }
            }
            let half = messages.count / 2
            try await publish(messages[..<half])
            await service.waitUntilAccepted(Int64(half))
            try server.kill()
            // A few more close windows: their flush fails and the connection is held.
            try await publish(messages[half..<(half + 300)])
            let deadline = ContinuousClock.now + .seconds(20)
            while service.connected, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(!service.connected, "held while the store is away")
            let taken = service.status().received
            // The rest goes to the broker, which keeps it for the held session.
            try await publish(messages[(half + 300)...])
            #expect(service.status().received == taken && taken < Int64(messages.count), "nothing taken while held")
            #expect(service.status().storeError?.contains("127.0.0.1:\(server.port)") == true)
            try server.start()
            await service.waitUntilAccepted(Int64(messages.count))
            await service.stop()
            await device.disconnect()
            let (plain, records, _) = try aggregated(messages, gatewayConfig(s))
            let stored = finalWindows(try service.store.windows(city: nil, resolution: nil))
            let expected = finalWindows(records)
            #expect(stored.count == expected.count)
            for (key, w) in expected {
                #expect(stored[key]?.partial.count == w.partial.count && abs((stored[key]?.partial.sum ?? .nan) - w.partial.sum) <= 1e-9 * max(1, abs(w.partial.sum)), "\(key)")
            }
            #expect(service.counters().0.accepted == plain.counters.accepted, "every reading once")
        }
    }
}
