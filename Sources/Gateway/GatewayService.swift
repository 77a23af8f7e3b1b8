import Foundation
import Synchronization
import Logging
import Metrics
@_spi(FastPath) import MQTT
import ServiceLifecycle
import Telemetry

/// The running gateway: MQTT ingest into the journal and the aggregator, periodic flushes and
/// checkpoints to the store, indicators published back. Its long-running parts are Services
/// (`services(broker:)`) that a `ServiceGroup` runs and shuts down in order.
///
/// Durability: every message is appended to the journal before its PUBACK leaves (the client
/// defers acknowledgements until the journal is in the kernel); a checkpoint stores the
/// aggregation state with the journal position it covers. A restart restores the last
/// checkpoint and replays the journal after it; the broker's persistent session redelivers
/// what was never acknowledged, and deduplication by device and sequence number drops what
/// was seen twice. So a SIGKILL at any moment loses no accepted reading and counts none twice.
///
/// ```swift
/// let gateway = try GatewayService(config: config)
/// let group = ServiceGroup(configuration: .init(services: gateway.services(broker: options),
///                                               gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
/// try await group.run()   // until SIGINT/SIGTERM: stop ingest, flush and checkpoint, publish the rest
/// ```
public final class GatewayService: @unchecked Sendable {
    public let config: GatewayConfig
    public let store: any TelemetryStore
    let journal: Journal
    let aggregator: Aggregator
    let logger: Logger
    let metrics: GatewayMetrics
    let lock = NSLock()
    /// One flush at a time (the flusher's and an explicit one): guards the retry batch, the
    /// checkpoint bookkeeping, the latency summary and the published-indicator table.
    private let flushLock = NSLock()
    private var client: MQTTClient?
    private var retryBatch = StoreBatch()
    var lastCheckpointPosition: UInt64 = 0
    private var lastCheckpointWall = Date()
    /// Messages the aggregation had taken at the last checkpoint: none since, none to write.
    private var checkpointedMessages: Int64 = -1
    /// Checkpoints written and skipped (nothing changed since the last), pages rewritten.
    public private(set) var checkpointsWritten = 0, checkpointsSkipped = 0
    private var lastFlushWall = Date()
    var lastStatusWall = Date()
    var lastStatusReceived: Int64 = 0
    var lastStoreError: String?
    var lastJournalError: String?
    private var published: [String: Int64] = [:]
    private var latency = LatencySummary()
    /// Indicator batches on their way to the publisher, in flush order.
    private var indicatorSink: AsyncStream<[(String, [UInt8])]>.Continuation?
    /// The group `start` runs (embedding without signals).
    private var group: ServiceGroup?
    private var groupTask: Task<Void, any Error>?
    /// Store transaction times so far.
    public var storeLatency: LatencySummary { flushLock.withLock { latency } }
    /// Whether the subscription's connection is up (followed through the client's events).
    public var connected: Bool { connectedFlag.load(ordering: .relaxed) }
    /// The broker connection the last live message came on (`MQTTClient.connections`).
    private var connectionSeen = 0
    /// Duplicates that at-least-once delivery made across a lost broker connection (see
    /// `Aggregator.redeliveries`), since the gateway started.
    public var redeliveries: Int64 { lock.withLock { aggregator.redeliveries } }
    private let connectedFlag = Atomic(false)
    var lastMessageMs: Int64 = 0
    /// Called on the network thread with every payload received (set before the services run).
    public var onReceived: (@Sendable (UnsafeBufferPointer<UInt8>) -> Void)?
    public private(set) var replayed = 0
    /// Indicator definitions by code, for the published messages.
    let definitions: [String: IndicatorDefinition]
    /// A partition's name across restarts (kept in its journal directory); empty otherwise.
    let instance: String
    /// The city-wide merge of the partitions' windows (on the first partition).
    let merger: IndicatorMerger?
    /// Indicator values that merge wrote so far, and the merge's last failure (under the flush lock).
    public private(set) var mergedIndicators: Int64 = 0
    private var lastMergeError: String?

    /// Opens the store (SQLite at `config.store` unless another is given) and the journal,
    /// restores the last checkpoint and replays the journal. Counters and gauges go to
    /// `metrics` (the process's metrics back end unless another is given).
    public init(config: GatewayConfig, store: (any TelemetryStore)? = nil, logger: Logger = Logger(label: "smartcity.gateway"),
                metrics: any MetricsFactory = MetricsSystem.factory) throws {
        self.config = config
        self.logger = logger
        self.metrics = GatewayMetrics(factory: metrics)
        self.store = try store ?? SQLiteStore(path: config.store)
        let shared: (any SharedStore)?
        if let partition = config.partition {
            if let problem = config.partitionProblem { throw GatewayError.partition(problem) }
            guard let store = self.store as? any SharedStore else {
                throw GatewayError.partition("partition \(partition) needs a store every instance shares: --store postgres://user@host:port/database")
            }
            shared = store
            journal = try Journal(directory: config.journalPath, exclusive: true)
            instance = try InstanceToken.load(directory: config.journalPath)
        } else {
            shared = nil
            journal = try Journal(directory: config.journalPath)
            instance = ""
        }
        aggregator = try Aggregator(config: config)
        if let partition = config.partition, let shared {
            // Before any reading its cities' clocks are at the beginning: the merge waits for it.
            try shared.claim(PartitionReport(partition: partition, instance: instance, clientID: config.clientID,
                                             clocks: aggregator.partitionClocks().clocks), lease: config.partitionLease)
        }
        try self.store.define(aggregator.indicators)
        definitions = Dictionary(uniqueKeysWithValues: aggregator.indicators.map { ($0.code, $0) })
        // The first partition merges the city-wide indicators.
        if let partition = config.partition, partition.index == 1, let shared {
            merger = IndicatorMerger(store: shared, config: config, partitions: partition.count, definitions: aggregator.indicators)
        } else {
            merger = nil
        }
        if let checkpoint = try self.store.latestCheckpoint() {
            do { try aggregator.restore(checkpoint.state) } catch {
                throw GatewayError.state("\(config.store): the last checkpoint cannot be read (\(error)); move the store and its journal aside to start afresh")
            }
            lastCheckpointPosition = checkpoint.position
            checkpointedMessages = aggregator.messagesTaken
        }
        var count = 0
        try journal.replay(from: lastCheckpointPosition) { position, topic, payload, arrival in
            aggregator.ingest(topic: topic, payload: payload, position: position, arrivalMs: arrival)
            count += 1
        }
        replayed = count
        if count > 0 { logger.info("replayed \(count) journaled messages after the checkpoint at \(lastCheckpointPosition)") }
        try flush(checkpoint: count > 0)
    }

    // MARK: services

    /// The gateway's long-running parts for a `ServiceGroup`, in start order. The group shuts
    /// them down in reverse: ingest stops taking messages, the flusher writes the last batch, a
    /// checkpoint and the open windows, then the indicator publisher sends what is left.
    public func services(broker: ConnectionOptions) -> [any Service] {
        var parts: [any Service] = []
        if config.publishIndicators {
            let (stream, continuation) = AsyncStream.makeStream(of: [(String, [UInt8])].self)
            lock.withLock { indicatorSink = continuation }
            parts.append(IndicatorPublisher(gateway: self, broker: broker, batches: stream))
        }
        parts.append(Flusher(gateway: self))
        parts.append(Ingest(gateway: self, broker: broker))
        return parts
    }

    /// Connects and runs the services in a group of their own, without signal handling (for
    /// embedding: `run`, benchmarks, tests). `stop()` shuts them down.
    public func start(broker: ConnectionOptions) async throws {
        let services = self.services(broker: broker)
        try await connect(broker: broker)
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: logger))
        self.group = group
        groupTask = Task { try await group.run() }
    }

    /// Stops taking messages, flushes, writes a checkpoint and the open windows (provisional)
    /// and publishes the last indicators.
    public func stop() async {
        guard let group else {
            do { try flush(checkpoint: true, provisional: true) } catch { logger.error("final flush failed: \(error)") }
            return
        }
        await group.triggerGracefulShutdown()
        do { try await groupTask?.value } catch { logger.error("stopped with an error: \(error)") }
        self.group = nil
    }

    /// How the gateway comes back to its broker: at least every 5 s once the broker is back
    /// (everything sent meanwhile waits in the broker's queue for the gateway's session).
    public static let reconnectPolicy = ReconnectPolicy(initialDelay: .milliseconds(100), maximumDelay: .seconds(5))

    /// Connects to the broker with a persistent session and subscribes (once).
    public func connect(broker: ConnectionOptions) async throws {
        guard client == nil else { return }
        var options = broker
        options.cleanSession = false
        options.writesOnLoop = true
        options.tcpNoDelay = true
        if options.clientID.isEmpty { options.clientID = config.clientID }
        let client = try MQTTClient(options, onRawMessage: { [unowned self] topic, payload, retained in
            self.receive(topic: topic, payload: payload, retained: retained, live: true)
        }, beforeWrite: { [unowned self] in
            self.lock.lock()
            defer { self.lock.unlock() }
            do {
                try self.journal.flush()
                self.lastJournalError = nil
            } catch {
                // Without the journal on disk no acknowledgement may go out: drop the
                // connection; the broker keeps the messages and redelivers them.
                self.lastJournalError = "\(error)"
                self.client?.dropConnection()
            }
        })
        self.client = client
        try await client.connect()
        let filters = config.subscriptions
        for filter in filters { _ = try await client.subscribe(filter, qos: .atLeastOnce) }
        connectedFlag.store(true, ordering: .relaxed)
        logger.info("subscribed to \(filters.joined(separator: ", ")) as '\(options.clientID)' (persistent session)")
        // The loss and return of the broker, in the log and in `connected`; the loop ends with
        // the client's events (at disconnect).
        let events = client.events
        Task { [weak self, logger] in
            var lostAt: ContinuousClock.Instant?
            for await event in events {
                switch event {
                case .disconnected(let error?):
                    self?.connectedFlag.store(false, ordering: .relaxed)
                    if lostAt == nil { lostAt = .now }
                    logger.warning("lost the broker: \(error)")
                case .disconnected(nil):
                    self?.connectedFlag.store(false, ordering: .relaxed)
                case .reconnecting(let attempt, let delay):
                    if attempt == 1 || attempt % 10 == 0 { logger.notice("reconnecting to the broker (attempt \(attempt), next in \(delay))") }
                case .connected(let sessionPresent):
                    self?.connectedFlag.store(true, ordering: .relaxed)
                    if let since = lostAt {
                        logger.notice("the broker is back after \((ContinuousClock.now - since).components.seconds) s (session \(sessionPresent ? "kept" : "lost: messages sent meanwhile are gone"))")
                        lostAt = nil
                    }
                }
            }
        }
    }

    func disconnect() async {
        guard let client else { return }
        await client.disconnect()
        connectedFlag.store(false, ordering: .relaxed)
    }

    /// The flusher's cycle: a flush when one is due (with a checkpoint when that is due too),
    /// and a status line when that is due; each on its own interval.
    func periodicFlush() {
        if config.statusInterval > 0, Date().timeIntervalSince(lastStatusWall) >= config.statusInterval {
            logger.info("\(statusLine())")
        }
        guard Date().timeIntervalSince(lastFlushWall) >= config.flushInterval else { return }
        lastFlushWall = Date()
        let checkpointDue = Date().timeIntervalSince(lastCheckpointWall) >= config.checkpointInterval
        do { try flush(checkpoint: checkpointDue) } catch {
            let first = lock.withLock {
                defer { lastStoreError = "\(error)" }
                return lastStoreError == nil
            }
            if first { logger.error("\(error)") }
        }
    }

    /// The flusher's last act: the final batch, a checkpoint and the open windows; then the
    /// indicator stream ends so the publisher can drain it.
    func finalFlush() {
        do { try flush(checkpoint: true, provisional: true) } catch { logger.error("final flush failed: \(error)") }
        lock.withLock { indicatorSink }?.finish()
        logger.info("\(statusLine())")
    }

    private func receive(topic: UnsafeBufferPointer<UInt8>, payload: UnsafeBufferPointer<UInt8>, retained: Bool = false, arrivalMs: Int64? = nil,
                         live: Bool = false) {
        let wall = Int64(Date().timeIntervalSince1970 * 1000)
        let now = arrivalMs ?? wall
        lock.lock()
        if live, let connection = client?.connections, connection != connectionSeen {
            if connectionSeen > 0 { aggregator.connectionLost() }
            connectionSeen = connection
        }
        // Journaled: what the aggregation may need again after a crash. Not a payload over the
        // limit (refused unread; its dead letter keeps the first max-payload bytes), nor a
        // retained status (the broker hands it over again with every subscription).
        let oversize = payload.count > config.maxPayload
        let retainedStatus = retained && topic.count > 7 && equals(UnsafeBufferPointer(rebasing: topic[(topic.count - 7)...]), "/status")
        let position = oversize || retainedStatus ? journal.end : journal.append(topic: topic, payload: payload, arrivalMs: now)
        aggregator.ingest(topic: topic, payload: payload, position: position, arrivalMs: now, retained: retained)
        lastMessageMs = wall
        if !waiters.isEmpty { resumeWaiters() }
        lock.unlock()
        onReceived?(payload)
    }

    var waiters: [(id: UInt64, count: Int64, tally: Tally, continuation: CheckedContinuation<Void, Never>)] = []
    var nextWaiter: UInt64 = 0

    public func receive(topic: String, payload: [UInt8], arrivalMs: Int64? = nil) {
        var t = topic
        t.withUTF8 { tb in payload.withUnsafeBufferPointer { receive(topic: tb, payload: $0, arrivalMs: arrivalMs.flatMap { $0 > 0 ? $0 : nil }) } }
    }

    /// Writes what the aggregator emitted (and, with `checkpoint`, its whole state) to the store
    /// in one transaction. A failed write keeps the batch for the next attempt.
    public func flush(checkpoint: Bool, provisional: Bool = false) throws {
        flushLock.lock()
        defer { flushLock.unlock() }
        lock.lock()
        aggregator.flushCorrections()
        var batch = retryBatch
        batch.add(aggregator.drain())
        // Nothing taken since the last checkpoint: the state is the one stored.
        let taken = aggregator.messagesTaken
        let requested = checkpoint
        let checkpoint = requested && taken != checkpointedMessages
        if checkpoint {
            do { try journal.flush() } catch {
                lock.unlock()
                retryBatch = batch
                throw error
            }
            batch.checkpoint = Checkpoint(position: journal.end, createdAtMs: Int64(Date().timeIntervalSince1970 * 1000),
                                          accepted: aggregator.counters.accepted, state: aggregator.snapshot())
        }
        if provisional {
            // After the checkpoint: the provisional rows are output, not state.
            aggregator.emitOpenWindows()
            batch.add(aggregator.drain())
        }
        if let partition = config.partition {
            // Every window before these clocks is in this batch or an earlier one.
            let (clocks, devices) = aggregator.partitionClocks()
            batch.source = partition.description
            batch.report = PartitionReport(partition: partition, instance: instance, clientID: config.clientID,
                                           clocks: clocks, devices: devices, stopped: provisional)
        }
        lock.unlock()
        let started = ContinuousClock.now
        do {
            try store.write(batch)
        } catch {
            batch.checkpoint = nil
            retryBatch = batch
            // No more acknowledgements while the store fails: the broker keeps what is
            // published for the persistent session, the journal what was acknowledged.
            if let client = lock.withLock({ client }), !client.isHeld {
                client.hold(true)
                logger.warning("the store fails: the broker connection is held until a write succeeds; the broker keeps the messages meanwhile")
            }
            throw error
        }
        if let client = lock.withLock({ client }), client.isHeld {
            client.hold(false)
            logger.notice("the store is back: taking messages again")
        }
        let took = ContinuousClock.now - started
        latency.add(took)
        metrics.storeWrite(took)
        retryBatch = StoreBatch()
        lock.withLock { lastStoreError = nil }
        if let c = batch.checkpoint {
            lock.lock()
            try? journal.release(before: lastCheckpointPosition)
            lastCheckpointPosition = c.position
            checkpointedMessages = taken
            checkpointsWritten += 1
            lock.unlock()
        }
        if requested {
            if batch.checkpoint == nil { checkpointsSkipped += 1 }
            lastCheckpointWall = Date()
        }
        var merged: [IndicatorValue] = []
        if let merger {
            do {
                merged = try merger.step(final: false)
                mergedIndicators += Int64(merged.count)
                lastMergeError = nil
            } catch {
                // Once per kind of failure, not with every flush.
                if lastMergeError != "\(error)" { logger.error("merging the partitions' windows: \(error)") }
                lastMergeError = "\(error)"
            }
        }
        queueForPublishing(batch.indicators + merged, alarms: batch.alarms)
        updateMetrics(latency: latency)
    }

    /// Queues the newest value of each indicator for its retained topic, and each alarm raised
    /// or cleared for its device and kind's retained topic (under the flush lock, so batches
    /// leave in flush order).
    private func queueForPublishing(_ values: [IndicatorValue], alarms: [Alarm] = []) {
        guard let sink = lock.withLock({ indicatorSink }), !values.isEmpty || !alarms.isEmpty else { return }
        var messages: [(String, [UInt8])] = alarms.map { ($0.topic, $0.message) }
        for v in values {
            guard let d = definitions[v.code] else { continue }
            let topic = TopicScheme.indicator(city: v.city, slug: d.slug, resolution: v.resolution == .base ? nil : v.resolution.name)
            if let newest = published[topic], newest > v.start { continue }
            published[topic] = v.start
            messages.append((topic, Array(IndicatorMessage(v, d).json.utf8)))
        }
        if !messages.isEmpty { sink.yield(messages) }
    }

    /// Brings the counters and gauges up to date (after each flush and before a scrape).
    public func updateMetrics() { updateMetrics(latency: storeLatency) }

    private func updateMetrics(latency: LatencySummary) {
        let (c, open, devices) = counters()
        metrics.update(counters: c, openWindows: open, devices: devices, status: status(), storeLatency: latency,
                       activeAlarms: lock.withLock { aggregator.activeAlarms })
    }

}
