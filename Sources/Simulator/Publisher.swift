import Foundation
@_spi(FastPath) import MQTT
import Synchronization
import Telemetry

/// Publishes a generator's messages to a broker, through one connection per device or one per
/// concentrator (district gateway, lighting cabinet), all on one network loop.
///
/// At a finite speed the scheduler is open-loop: each message is due at
/// `start + (send time - simulated start) / speed` on the wall clock and is handed to its
/// connection then, whether or not the broker has caught up; how far the scheduler falls
/// behind is reported as lag. A load profile (`load:`) makes the due times follow its stages
/// instead, and keeps the devices outside its active share quiet. At `--speed max` it is
/// closed-loop: each connection has at most the scenario's in-flight window unacknowledged,
/// and publishing waits for the broker.
public final class Publisher {
    private let stopRequested = Atomic(false)

    /// Called on the publishing task with each telemetry payload handed to the broker.
    public var onPublished: ((UnsafeBufferPointer<UInt8>, Domain) -> Void)?

    /// Ends `run` after the message being published (from any thread, e.g. a signal handler).
    public func requestStop() { stopRequested.store(true, ordering: .relaxed) }

    /// How long every connection may be down before the run gives the broker up and ends, as
    /// interrupted; and how long, once a stop was requested, to wait for acknowledgements.
    public var outageLimit: Duration = .seconds(60)
    public var stopGrace: Duration = .seconds(5)
    /// Told when the broker is lost, comes back, or is given up (one line each).
    public var onBrokerEvent: (@Sendable (String) -> Void)?
    public struct Outcome: Sendable {
        public var published = 0
        /// Publishes refused because the device's connection was down (reconnect storms).
        public var refused = 0
        /// Readings held while their connection was down and sent once it was back.
        public var held = 0
        /// Telemetry messages among `published` (the rest are statuses).
        public var publishedReadings = 0
        /// Publishes the broker acknowledged with a failure (MQTT 5 PUBACK reason codes, e.g. an
        /// ACL's "Not authorized"), by reason: published, but not delivered.
        public var refusedByBroker: [String: Int] = [:]
        /// Publishes the connections sent again after a reconnect that resumed their session:
        /// at most this many copies reach the gateway, on top of the duplicate fault's.
        public var resent = 0
        /// Readings among `refusedByBroker` (the rest are statuses).
        public var readingsRefusedByBroker = 0
        /// Connections a fault cut, each with a last will the broker publishes for it.
        public var wills = 0
        /// Status messages a subscriber gets: those published and not refused, and the wills.
        public var statusesDelivered: Int {
            published - publishedReadings - (refusedByBroker.values.reduce(0, +) - readingsRefusedByBroker) + wills
        }
        /// Connections the broker closed again and again right after accepting them (see
        /// `MQTTClient.takeovers`): another client probably uses the same client ids.
        public var takenOver = 0
        /// Readings of devices the load profile kept quiet (outside its active share), not sent.
        public var leftOut = 0
        public var maximumLag = 0.0
        public var unacknowledged = 0
        /// True when `requestStop()` ended the run before the scenario's end.
        public var interrupted = false
        /// True when every connection stayed down longer than `outageLimit` and the run gave
        /// the broker up.
        public var brokerLost = false
    }

    /// Most messages in one write pass of the network loop: about 32 per connection, at most
    /// 262,144 (some 100 MB queued); a pass also ends after `mqtt.coalesce` simulated seconds.
    var batch: Int { min(262_144, max(16_384, 32 * clients.count)) }

    let generator: Generator
    let scenario: Scenario
    let loop: NetworkLoop
    /// One client per connection, and for each fleet the connection of each device.
    private(set) var clients: [MQTTClient] = []
    private var connectionOf: [[Int32]] = []
    /// Whether each fleet connects device by device (a lost link is the device's own).
    private let perDevice: [Bool]
    private let qos: QoS

    public init(generator: Generator, broker: BrokerURL) throws(SimulationError) {
        self.generator = generator
        scenario = generator.scenario
        qos = QoS(level: scenario.mqtt.qos) ?? .atLeastOnce
        perDevice = generator.fleets.map { $0.connection.connection == .device }
        do { loop = try NetworkLoop(name: "sim-mqtt") } catch { throw SimulationError("cannot start the network loop: \(error)") }
        let settings = scenario.mqtt
        let openLoop: Bool = { if case .factor = scenario.speed { return true } else { return scenario.load != nil } }()
        var groups: [String: Int32] = [:]
        var plans: [(id: String, will: Will)] = []
        for fleet in generator.fleets {
            var map = [Int32](repeating: -1, count: fleet.count)
            for index in fleet.order.map(Int.init) {
                // The connection's id; its will topic is worked out once per new connection.
                let id: String
                var concentrator: (name: String, district: Int)?
                switch fleet.connection.connection {
                case .device:
                    id = "\(settings.clientPrefix)-\(fleet.deviceID(index))"
                case .concentrator:
                    let (district, group) = fleet.concentrator(of: index)
                    let name = FleetRunner.concentratorName(city: fleet.city.city, code: fleet.code, district: fleet.city.city.districts[district].id, group: group)
                    id = "\(settings.clientPrefix)-\(name)"
                    concentrator = (name, district)
                }
                if let existing = groups[id] {
                    map[index] = existing
                    continue
                }
                let willTopic: String
                if let concentrator {
                    willTopic = fleet.statusTopic(concentrator: concentrator.name, district: concentrator.district)
                } else {
                    var topic: [UInt8] = []
                    fleet.writeTopic(index, status: true, into: &topic)
                    willTopic = String(decoding: topic, as: UTF8.self)
                }
                let number = Int32(plans.count)
                groups[id] = number
                plans.append((id, Will(topic: willTopic, payload: FleetRunner.offline, qos: .atLeastOnce, retain: true)))
                map[index] = number
            }
            connectionOf.append(map)
        }
        // Each connection holds two descriptors (its socket and libmosquitto's wake-up pair);
        // the limit is raised as far as the process may.
        let needed = Publisher.descriptorsPerConnection * plans.count + 64
        let limit = OpenFiles.limit(atLeast: needed)
        if needed > limit {
            let fit = max(0, (limit - 64) / Publisher.descriptorsPerConnection)
            throw SimulationError("the scenario needs \(plans.count) MQTT connections, \(needed) open files with the ones the process needs, but this process may open only \(limit) (\(fit) connections fit); raise the limit (ulimit -n \(needed + 192), as root or in /etc/security/limits.conf; the kernel allows at most \(OpenFiles.kernelMaximum) a process) or use 'connection: concentrator' for the large fleets")
        }
        // One local address has so many ephemeral ports towards one broker: a larger fleet
        // leaves from several (the scenario's, or loopback addresses for a local broker).
        let perAddress = settings.connectionsPerAddress ?? max(1000, OpenFiles.ephemeralPorts - 1000)
        var sources = settings.sourceAddresses
        if sources.isEmpty, plans.count > perAddress, Publisher.isLoopback(broker.host) {
            sources = (0..<((plans.count + perAddress - 1) / perAddress)).map { "127.0.0.\($0 + 1)" }
        }
        if plans.count > perAddress * max(1, sources.count) {
            throw SimulationError("the scenario needs \(plans.count) MQTT connections, but one local address has about \(perAddress) ports towards the broker and \(max(1, sources.count)) address(es) give \(perAddress * max(1, sources.count)); list \((plans.count + perAddress - 1) / perAddress) local addresses in mqtt.source-addresses or use 'connection: concentrator' for the large fleets")
        }
        sourceAddresses = sources
        for (number, plan) in plans.enumerated() {
            var options = ConnectionOptions(url: broker, clientID: plan.id)
            if !sources.isEmpty { options.bindAddress = sources[number / perAddress] }
            settings.authenticate(&options, to: broker)
            options.keepAlive = settings.keepAlive
            options.protocolVersion = settings.protocolVersion == "5" ? .v5 : .v311
            options.will = plan.will
            options.inflightWindow = openLoop ? 1 << 20 : settings.inflight
            // Publishes queue and leave in passes of the network loop (see `run`).
            options.writesOnLoop = true
            options.reconnect = ReconnectPolicy(initialDelay: .milliseconds(200), maximumDelay: .seconds(10))
            // At QoS 1 and 2 a session the broker keeps: after a lost connection both sides send
            // again what was not acknowledged (MQTT 3.1.1, 4.4), so nothing in flight is lost.
            options.cleanSession = qos == .atMostOnce
            do { clients.append(try MQTTClient(options, loop: loop)) } catch {
                throw SimulationError("cannot create the MQTT client '\(plan.id)': \(error)")
            }
        }
    }

    /// Open files per MQTT connection: the socket and libmosquitto's socket pair for waking
    /// its loop.
    public static let descriptorsPerConnection = 2

    /// The local addresses the connections leave from, in order (empty: the system's choice).
    public private(set) var sourceAddresses: [String] = []

    static func isLoopback(_ host: String) -> Bool { host == "localhost" || host.hasPrefix("127.") }

    /// The soft limit on open files (raised to the hard limit first).
    public static func fileLimit() -> Int { OpenFiles.limit() }

    public var connectionCount: Int { clients.count }

    /// The connection (0 ..< connectionCount) that carries a device's messages.
    public func connection(fleet: Int, device: Int) -> Int { Int(connectionOf[fleet][device]) }

    /// Connects every client: at most `mqtt.handshakes` handshakes at a time, and new ones at
    /// no more than `mqtt.connect-rate` a second (evenly spaced). Returns how long it took.
    @discardableResult
    public func connect() async throws(SimulationError) -> Duration {
        let clock = ContinuousClock()
        let began = clock.now
        let window = scenario.mqtt.handshakes
        let spacing = scenario.mqtt.connectRate.map { Duration.seconds(1 / $0) }
        var connected = 0
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (started, client) in clients.enumerated() {
                    if started >= window {
                        try await group.next()
                        connected += 1
                    }
                    if let spacing { try await Task.sleep(until: began + spacing * started, clock: clock) }
                    group.addTask { try await client.connect() }
                }
                while try await group.next() != nil { connected += 1 }
            }
        } catch {
            throw SimulationError("connecting the simulated devices failed after \(connected) of \(clients.count) connections: \(MQTTError.from(error)); check the broker URL, credentials and TLS settings, and the broker's connection limit (max_connections)")
        }
        return clock.now - began
    }

    /// Publishes every message of the generator. `progress` is called now and then with the
    /// current scheduler lag in seconds (nil at --speed max).
    public func run(progress: (Double?) -> Void) async throws(SimulationError) -> Outcome {
        var outcome = Outcome()
        var schedule = OpenLoopSchedule()
        let startMs = scenario.start * 1000
        let speed: Double? = { if case .factor(let x) = scenario.speed { return x } else { return nil } }()
        let load = scenario.load
        var count = 0
        var topic: [UInt8] = []
        topic.reserveCapacity(128)
        // Messages queue on their connections and the network loop writes them in passes of
        // `mqtt.coalesce` simulated seconds (at most `batch` messages; and before any wait):
        // several messages per connection per pass share a TCP segment, and generating
        // overlaps writing. With coalesce 0 every message is written as it is published.
        let batch = self.batch
        let span = scenario.mqtt.coalesce * 1000
        var batchStart = 0
        var batchTime = Int64.min / 2
        if span > 0 { loop.holdWakes() }
        defer { loop.releaseWakes() }
        // Connections a fault cut: the device is back when the generator says (it holds its
        // readings until then), so the next message waits for the connection to come back.
        var cut = [Bool](repeating: false, count: clients.count)
        var cutAt = [Int](repeating: 0, count: clients.count)
        var barrier = StepBarrier(maximumDrift: scenario.mqtt.maxDrift * 1000, connections: clients.count)
        let watchdog = Watchdog(clients: clients, outageLimit: outageLimit, stopGrace: stopGrace, stop: self, report: onBrokerEvent)
        let watching = Task { await watchdog.watch() }
        defer { watching.cancel() }
        while true {
            if stopRequested.load(ordering: .relaxed) {
                outcome.interrupted = true
                break
            }
            guard generator.next() else { break }
            // Open loop: the wall time the message is due, by the load profile or the speed.
            var due: Duration?
            if let load {
                // The profile also says whether the message's device publishes now.
                let simulated = Double(generator.message.sendTime - startMs) / 1000
                let wall = load.wallOffset(simulated: simulated)
                if generator.message.kind == .telemetry {
                    let share = load.activeShare(simulated: simulated, wall: wall)
                    if share < 1, mix64(UInt64(generator.message.fleet) << 40 ^ UInt64(generator.message.device) ^ 0x6163_7469_7665).unitInterval >= share {
                        outcome.leftOut += 1
                        continue
                    }
                }
                due = .milliseconds(Int64(wall * 1000))
            } else if let speed {
                due = .milliseconds(Int64(Double(generator.message.sendTime - startMs) / speed))
            }
            if let due { await schedule.wait(until: due) { loop.flush() } }
            if let target = barrier.enter(generator.message.sendTime) {
                let waiting = barrier.unsettled(target)
                if !waiting.isEmpty {
                    loop.flush()
                    for (c, n) in waiting {
                        if clients[c].settled < n { await clients[c].waitUntilSettled(n) }
                        barrier.seen(c, settled: n)
                    }
                }
            }
            let fleet = generator.message.fleet
            let connection = Int(connectionOf[fleet][generator.message.device])
            let client = clients[connection]
            count += 1
            if count & 0x3FF == 0 { progress(speed == nil && load == nil ? nil : schedule.lag) }
            if span > 0, count - batchStart >= batch || generator.message.sendTime - batchTime >= span {
                loop.flush()
                batchStart = count
                batchTime = generator.message.sendTime
            }
            if generator.message.abrupt, perDevice[fleet] {
                // The device loses its link: the broker publishes its will. What it sent before
                // leaves first (the drop queues behind the flushed writes).
                loop.flush()
                cutAt[connection] = client.connections
                client.dropConnection()
                outcome.wills += 1
                cut[connection] = true
                continue
            }
            topic.removeAll(keepingCapacity: true)
            topic.append(contentsOf: generator.message.topic)
            topic.append(0)
            // A device keeps its reading while its connection is down and sends it when the
            // broker is back (bounded by the outage limit, after which the client is given up).
            // One whose link a fault cut is back at the simulated time the fault says; its
            // connection comes back in wall time, which is waited for, so what arrives does
            // not depend on how fast the machine reconnects.
            var attempts = 0
            if cut[connection] {
                loop.flush()
                _ = await client.waitUntilConnected(after: cutAt[connection])
            }
            while true {
                do {
                    // Statuses are marked, so the broker's refusals of readings are told apart.
                    try await client.publish(terminatedTopic: topic, payload: generator.message.payload, qos: qos,
                                             retain: generator.message.retain, marked: generator.message.kind != .telemetry)
                    outcome.published += 1
                    barrier.hand(connection)
                    if generator.message.kind == .telemetry { outcome.publishedReadings += 1 }
                    cut[connection] = false
                    if let onPublished, generator.message.kind == .telemetry {
                        let domain = generator.message.domain
                        generator.message.payload.withUnsafeBufferPointer { onPublished($0, domain) }
                    }
                } catch where error.kind == .notConnected || error.kind == .connectionLost {
                    attempts += 1
                    if attempts < 4 {
                        loop.flush()
                        if await client.waitUntilConnected() {
                            if !cut[connection] { outcome.held += 1 }
                            continue
                        }
                    }
                    outcome.refused += 1
                } catch {
                    throw SimulationError("publishing \(generator.message.topicString) failed: \(error)")
                }
                break
            }
        }
        progress(speed == nil && load == nil ? nil : schedule.lag)
        outcome.maximumLag = schedule.maximumLag
        loop.releaseWakes()
        // The watchdog gives every client up when the broker stays away, so this ends.
        for client in clients { await client.drain() }
        outcome.unacknowledged = clients.reduce(0) { $0 + $1.inflight }
        for client in clients {
            let refusals = client.refusals
            outcome.refusedByBroker.merge(refusals, uniquingKeysWith: +)
            outcome.readingsRefusedByBroker += refusals.values.reduce(0, +) - client.markedRefusals
            outcome.takenOver += client.takeovers
            outcome.resent += client.resent
        }
        outcome.brokerLost = watchdog.gaveUp.load(ordering: .relaxed)
        if outcome.brokerLost { outcome.interrupted = true }
        return outcome
    }

    var isStopRequested: Bool { stopRequested.load(ordering: .relaxed) }

    /// Disconnects every client cleanly (no last wills) and stops the network loop.
    public func close() async {
        for client in clients {
            await client.disconnect()
        }
        loop.shutdown()
    }
}
