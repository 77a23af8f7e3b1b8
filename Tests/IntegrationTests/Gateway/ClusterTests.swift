import EmbeddedBroker
import Foundation
@testable import Gateway
import PostgresStore
import Simulator
import Telemetry
import Testing
import TestSupport

/// The three-node NATS cluster of `Scripts/nats-cluster.sh` (JetStream, the MQTT gateway on
/// every node, routes between them on loopback), its servers children of the test.
final class NATSCluster {
    let directory: String
    let mqttPorts: [Int]
    private var servers: [ChildProcess] = []

    init(directory: String) async throws {
        guard let server = ["/usr/sbin/nats-server", "/usr/bin/nats-server"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw TestFailure("nats-server is not installed; `make test` installs Debian's nats-server package")
        }
        self.directory = directory
        let ports = try (0..<9).map { _ in try EmbeddedBroker.freeLoopbackPort() }
        guard Set(ports).count == 9 else { throw TestFailure("no nine distinct free ports: \(ports)") }
        mqttPorts = Array(ports[0..<3])
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../Scripts/nats-cluster.sh").standardized
        let writer = try ChildProcess(executable: URL(fileURLWithPath: "/bin/sh"), arguments: [script.path, directory, "--write"], environment: [
            "MQTT_PORTS": ports[0..<3].map(String.init).joined(separator: " "),
            "CLIENT_PORTS": ports[3..<6].map(String.init).joined(separator: " "),
            "ROUTE_PORTS": ports[6..<9].map(String.init).joined(separator: " "),
        ])
        guard await writer.waitForExit() == 0 else { throw TestFailure("\(script.path) failed: \(writer.output)") }
        do {
            for n in 1...3 { servers.append(try ChildProcess(executable: URL(fileURLWithPath: server), arguments: ["-c", "\(directory)/n\(n).conf"])) }
            for s in servers { _ = try await s.waitForLine(timeout: 30) { $0.contains("Listening for MQTT clients") } }
            // JetStream answers once the three have elected a leader of its metadata.
            _ = try await servers[0].waitForLine(timeout: 30) { $0.contains("metadata leader") }
        } catch {
            stop()
            throw error
        }
    }

    func url(_ node: Int) -> String { "mqtt://127.0.0.1:\(mqttPorts[node])" }

    func stop() {
        for s in servers { s.signal(SIGTERM) }
        for s in servers { s.process.waitUntilExit() }
        servers = []
    }
}

extension Integration {
    @Suite(.serialized, .timeLimit(.minutes(5))) struct ClusterTests {
        /// Two simulator shards publish to two nodes of a NATS cluster, two gateway partitions
        /// subscribe on two others (their own node each); merged in the shared store, the
        /// windows and indicators are those of one aggregator over every message.
        @Test func shardsAndPartitionsOnANATSClusterGiveTheSingleNodeResult() async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smartcity-nats-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let server = try PostgresServer()
            defer { server.stop() }
            let cluster = try await NATSCluster(directory: dir + "/nats")
            defer { cluster.stop() }
            let yaml = partitionScenarioYAML(duration: "1d")
            try yaml.write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
            // Two shards' clocks run apart at full speed: the skew allowed covers the run.
            try "max-skew: 7d\nlateness: 3d\n".write(toFile: dir + "/gateway.yaml", atomically: true, encoding: .utf8)
            let s = try Scenario(yaml: yaml, file: dir + "/s.yaml")
            let facts = s.cities[0].facts
            let messages = simulated(s)
            let expected = (1...2).map { k in messages.filter { $0.kind == .telemetry && PartitionTests.owner($0.topicString, facts, of: 2) == k }.count }
            try PostgresStore.empty(url: server.url)

            // Partition k on node k; the first creates the cluster's MQTT streams before the second connects.
            var gateways: [ChildProcess] = []
            for k in 1...2 {
                let gateway = try ChildProcess(["gateway", "serve", "--broker", cluster.url(k - 1), "--store", server.url, "--scenario", dir + "/s.yaml",
                                                "--config", dir + "/gateway.yaml", "--partition", "\(k)/2", "--journal", dir + "/journal-\(k)",
                                                "--no-http", "--no-publish", "--status-interval", "0.1"])
                _ = try await gateway.waitForLine { $0.contains("subscribed to") }
                gateways.append(gateway)
            }
            // Shard 0 publishes to node 1, shard 1 to node 3.
            let shards = try [(0, 0), (1, 2)].map { shard, node in
                try ChildProcess(["simulate", dir + "/s.yaml", "--shard", "\(shard)/2", "--broker", cluster.url(node), "--client-prefix", "s\(shard)-"])
            }
            for shard in shards { #expect(await shard.waitForExit() == 0, "\(shard.output)") }
            for (k, gateway) in gateways.enumerated() {
                _ = try await gateway.waitForLine(timeout: 60) { statusValue($0, "accepted") == expected[k] }
                gateway.signal(SIGTERM)
            }
            for gateway in gateways {
                #expect(await gateway.waitForExit() == 0)
                let last = gateway.output.split(separator: "\n").last { $0.contains(" accepted ") }.map(String.init) ?? ""
                #expect(statusValue(last, "invalid") == 0 && statusValue(last, "dup") == 0, "nothing refused or doubled: \(last)")
            }
            let merge = try ChildProcess(["gateway", "merge", "--partitions", "2", "--store", server.url, "--scenario", dir + "/s.yaml",
                                          "--config", dir + "/gateway.yaml"])
            #expect(await merge.waitForExit() == 0, "\(merge.output)")

            let (reference, windows, values) = try aggregated(messages, gatewayConfig(s, lateness: 3 * 86_400))
            #expect(reference.counters.accepted == Int64(expected.reduce(0, +)))
            let store = try PostgresStore(url: server.url, local: nil, definitions: [])
            let w = PartitionTests.windowMismatches(try store.windows(city: nil, resolution: nil), windows)
            #expect(w.isEmpty, "\(w.prefix(5))")
            let v = try PartitionTests.indicatorMismatches(store, values, codes: reference.indicators.map(\.code))
            #expect(v.isEmpty, "\(v.prefix(5))")
        }
    }
}
