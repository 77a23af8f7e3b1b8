import ArgumentParser
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
struct DirectRun {
    struct Outcome {
        var store: any TelemetryStore
        var counters: IngestCounters
        var seconds: Double
        var interrupted: Bool
    }

    let generator: Generator
    let config: GatewayConfig
    /// The finest resolution whose windows and indicator values are stored.
    let keep: Resolution
    let progress: Double
    let scenario: Scenario

    /// Messages between two writes of what the aggregation emitted.
    static let batch = 1 << 18

    func run() throws -> Outcome {
        let store = try SQLiteStore(path: config.store)
        let aggregator = Aggregator(config: config)
        let stop = Interruption()
        defer { stop.cancel() }
        let clock = ContinuousClock()
        let began = clock.now
        var line = ProgressReporter(every: progress, scenario: scenario)
        var pending = 0
        var interrupted = false
        while generator.next() {
            let message = generator.message
            message.topic.withUnsafeBufferPointer { topic in
                message.payload.withUnsafeBufferPointer { payload in _ = aggregator.ingest(topic: topic, payload: payload) }
            }
            pending += 1
            if pending == Self.batch {
                pending = 0
                aggregator.flushCorrections()
                try write(aggregator.drain(), to: store)
                line.tick(generator: generator, lag: nil)
                if stop.requested {
                    print("run: interrupted; finishing with what was simulated")
                    interrupted = true
                    break
                }
            }
        }
        aggregator.flushCorrections()
        try write(aggregator.drain(), to: store)
        aggregator.emitOpenWindows()
        try write(aggregator.drain(), to: store)
        return Outcome(store: store, counters: aggregator.counters, seconds: (clock.now - began).seconds, interrupted: interrupted)
    }

    private func write(_ output: AggregatorOutput, to store: any TelemetryStore) throws {
        var batch = StoreBatch()
        batch.windows = output.windows.filter { $0.resolution.rawValue >= keep.rawValue }
        batch.indicators = output.indicators.filter { $0.resolution.rawValue >= keep.rawValue }
        batch.deadLetters = output.deadLetters
        guard !batch.isEmpty else { return }
        try store.write(batch)
    }
}

/// SIGINT and SIGTERM set a flag the direct run checks between batches.
private final class Interruption {
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

extension Resolution: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}
