import CPlatform
import Dispatch
import Foundation
import Gateway
import MQTT
import Simulator
import Synchronization
import Telemetry

/// `run --direct`: the simulator's messages go straight into the gateway's byte-level ingest,
/// with no broker and no journal, and what the aggregation emits is written to the store in
/// batches. The same validation, deduplication, windows and indicators as the broker path;
/// what it leaves out is the network (and its losses), so a simulated year takes minutes.
public struct DirectRun {
    public struct Outcome {
        public var store: any TelemetryStore
        public var counters: IngestCounters
        public var seconds: Double
        public var interrupted: Bool
        /// Heap in use (bytes) at every tenth of the simulated period, from the start.
        public var heap: [(fraction: Double, bytes: Int)] = []
        public var messages = 0
    }

    let generator: Generator
    let config: GatewayConfig
    /// The finest resolution whose windows and indicator values are stored.
    let keep: Resolution
    let progress: Double
    let scenario: Scenario
    /// A message file of `simulate --output` to ingest instead of the generator's messages
    /// (the generator still runs, for the ground truth and what it would have sent).
    let recording: String?

    public init(generator: Generator, config: GatewayConfig, keep: Resolution, progress: Double, scenario: Scenario, recording: String? = nil) {
        self.generator = generator
        self.config = config
        self.keep = keep
        self.progress = progress
        self.scenario = scenario
        self.recording = recording
    }

    /// Messages between two writes of what the aggregation emitted.
    static let batch = 1 << 18

    public func run() throws -> Outcome {
        let store = try config.openStore()
        let aggregator = try Aggregator(config: config)
        try store.define(aggregator.indicators)
        let stop = Interruption()
        defer { stop.cancel() }
        let clock = ContinuousClock()
        let began = clock.now
        // Two cores: the simulator fills batches of messages on its own thread while this one
        // ingests the previous batch; batches go round between the two (three in flight).
        let full = BatchQueue(), empty = BatchQueue()
        for _ in 0..<3 { empty.put(MessageBatch()) }
        let producer = Producer(generator: generator, progress: progress, scenario: scenario, stop: stop,
                                reader: try recording.map { try MessageFile.Reader(path: $0) })
        Thread.detachNewThread { producer.run(full: full, empty: empty) }
        var pending = 0, messages = 0
        var heap: [(fraction: Double, bytes: Int)] = [(0, Int(csys_heap_bytes()))]
        while let batch = full.take() {
            // Arrival in simulated time: the send time, as if the network took no time.
            batch.forEach { topic, payload, sent in _ = aggregator.ingest(topic: topic, payload: payload, arrivalMs: sent) }
            pending += batch.count
            messages += batch.count
            let fraction = Double(batch.simulatedTime - scenario.start) / Double(max(1, scenario.duration))
            if fraction >= (heap.last?.fraction ?? 0) + 0.1 { heap.append((fraction, Int(csys_heap_bytes()))) }
            empty.put(batch)
            if pending >= Self.batch {
                pending = 0
                aggregator.flushCorrections()
                try write(aggregator.drain(), to: store)
            }
        }
        if let failure = producer.failure { throw failure }
        if producer.interrupted { print("run: interrupted; finishing with what was simulated") }
        aggregator.flushCorrections()
        try write(aggregator.drain(), to: store)
        aggregator.emitOpenWindows()
        try write(aggregator.drain(), to: store)
        heap.append((1, Int(csys_heap_bytes())))
        return Outcome(store: store, counters: aggregator.counters, seconds: (clock.now - began).seconds, interrupted: producer.interrupted,
                       heap: heap, messages: messages)
    }

    private func write(_ output: AggregatorOutput, to store: any TelemetryStore) throws {
        var batch = StoreBatch()
        batch.windows = output.windows.filter { $0.resolution.rawValue >= keep.rawValue }
        batch.indicators = output.indicators.filter { $0.resolution.rawValue >= keep.rawValue }
        batch.deadLetters = output.deadLetters
        batch.alarms = output.alarms
        guard !batch.isEmpty else { return }
        try store.write(batch)
    }
}

/// Messages of the simulator laid end to end: topic and payload bytes of each, in order.
final class MessageBatch: @unchecked Sendable {
    static let capacity = 8192
    private(set) var bytes: [UInt8] = []
    /// Simulated time (s) of the newest message in the batch.
    private(set) var simulatedTime: Int64 = 0
    /// End of each message's topic and of its payload in `bytes`, and its send time (ms).
    private var ends: [(topic: Int, payload: Int, sent: Int64)] = []

    init() {
        bytes.reserveCapacity(Self.capacity * 256)
        ends.reserveCapacity(Self.capacity)
    }

    var count: Int { ends.count }
    var isFull: Bool { ends.count >= Self.capacity }

    func append(_ message: SimMessage) {
        bytes.append(contentsOf: message.topic)
        let topic = bytes.count
        bytes.append(contentsOf: message.payload)
        ends.append((topic, bytes.count, message.sendTime))
        simulatedTime = max(simulatedTime, message.eventTime)
    }

    /// A recorded message: its send time stands for its simulated time.
    func append(topic: String, payload: [UInt8], sent: Int64) {
        bytes.append(contentsOf: topic.utf8)
        let end = bytes.count
        bytes.append(contentsOf: payload)
        ends.append((end, bytes.count, sent))
        simulatedTime = max(simulatedTime, sent / 1000)
    }

    func clear() {
        bytes.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        simulatedTime = 0
    }

    func forEach(_ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>, Int64) -> Void) {
        bytes.withUnsafeBufferPointer { all in
            var start = 0
            for (topic, payload, sent) in ends {
                body(UnsafeBufferPointer(rebasing: all[start..<topic]), UnsafeBufferPointer(rebasing: all[topic..<payload]), sent)
                start = payload
            }
        }
    }
}

/// A blocking hand-over of batches between the simulator's thread and the ingest; `nil` from
/// `take` once the producer closed it and nothing is left.
final class BatchQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [MessageBatch] = []
    private var closed = false

    func put(_ batch: MessageBatch) {
        condition.lock()
        items.append(batch)
        condition.signal()
        condition.unlock()
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    func take() -> MessageBatch? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !closed { condition.wait() }
        return items.isEmpty ? nil : items.removeFirst()
    }
}

/// The simulator's side of the direct run: fills batches until the scenario ends or a stop is
/// requested, printing progress.
private final class Producer: @unchecked Sendable {
    let generator: Generator
    let progress: Double
    let scenario: Scenario
    let stop: Interruption
    private(set) var interrupted = false
    /// Why reading a recording stopped short (a line that is no message).
    private(set) var failure: (any Error)?
    /// The recording to read, if the messages come from a file.
    let reader: MessageFile.Reader?

    init(generator: Generator, progress: Double, scenario: Scenario, stop: Interruption, reader: MessageFile.Reader?) {
        self.generator = generator
        self.progress = progress
        self.scenario = scenario
        self.stop = stop
        self.reader = reader
    }

    func run(full: BatchQueue, empty: BatchQueue) {
        if let reader { return run(reading: reader, full: full, empty: empty) }
        var line = ProgressReporter(every: progress, scenario: scenario)
        while let batch = empty.take() {
            batch.clear()
            while !batch.isFull, generator.next() { batch.append(generator.message) }
            let done = !batch.isFull
            full.put(batch)
            line.tick(generator: generator, lag: nil)
            if stop.requested {
                interrupted = true
                break
            }
            if done { break }
        }
        full.close()
    }

    /// Fills batches from a recording until it ends, then runs the generator to the end of the
    /// scenario without handing on its messages (the ground truth and its counts).
    private func run(reading reader: MessageFile.Reader, full: BatchQueue, empty: BatchQueue) {
        defer { full.close() }
        var line = ProgressReporter(every: progress, scenario: scenario)
        var more = true
        while more, let batch = empty.take() {
            batch.clear()
            do {
                while !batch.isFull, let (topic, payload, sent) = try reader.next() { batch.append(topic: topic, payload: payload, sent: sent) }
            } catch {
                failure = error
                more = false
            }
            if !batch.isFull { more = false }
            full.put(batch)
            line.tick(messages: reader.count, simulatedTime: batch.simulatedTime)
            if stop.requested {
                interrupted = true
                return
            }
        }
        // A recording that is not one ends the run with its error: nothing left to count.
        guard failure == nil else { return }
        while !stop.requested, generator.next() {}
        interrupted = stop.requested
    }
}

/// SIGINT and SIGTERM set a flag the direct run checks between batches.
final class Interruption: @unchecked Sendable {
    private static let flag = Atomic<Bool>(false)
    private let sources: [any DispatchSourceSignal]

    init() {
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            sources.append(source)
        }
        self.sources = sources
        for source in sources {
            source.setEventHandler { Interruption.flag.store(true, ordering: .relaxed) }
            source.resume()
        }
    }

    var requested: Bool { Interruption.flag.load(ordering: .relaxed) }

    func cancel() {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
