import Foundation
import Gateway
import MQTT
import ServiceLifecycle
import Simulator
import Synchronization

/// The simulated city as a Service of `run`'s group: it publishes the scenario, then waits
/// until the gateway has received everything sent (or nothing more arrives for 30 s); a
/// graceful shutdown (Ctrl-C, SIGTERM) stops the publishing first. Returning ends the group,
/// which then stops the gateway's ingest, flushes and publishes the last indicators.
final class CitySimulation: Service, @unchecked Sendable {
    struct Outcome {
        var run: Publisher.Outcome
        var publishSeconds: Double
    }

    let generator: Generator
    let publisher: Publisher
    /// The gateway, or the partitions that share the city.
    let gateways: [GatewayService]
    let progress: Double
    let scenario: Scenario
    /// What the publishing did and whether everything sent arrived, once it is over.
    let result = Mutex<(Outcome, Bool)?>(nil)

    init(generator: Generator, publisher: Publisher, gateways: [GatewayService], progress: Double, scenario: Scenario) {
        self.generator = generator
        self.publisher = publisher
        self.gateways = gateways
        self.progress = progress
        self.scenario = scenario
    }

    func run() async throws {
        let clock = ContinuousClock()
        let began = clock.now
        var line = ProgressReporter(every: progress, scenario: scenario)
        let (generator, publisher) = (self.generator, self.publisher)
        let stopper = Stopper(publisher: publisher)
        let outcome = try await withGracefulShutdownHandler {
            try await publisher.run { lag in line.tick(generator: generator, lag: lag) }
        } onGracefulShutdown: {
            print("run: interrupted; finishing with what was sent")
            stopper.publisher.requestStop()
        }
        await publisher.close()
        let published = (clock.now - began).seconds
        // With the broker gone nothing more arrives: no waiting for it.
        // What must arrive: every reading published, once; the copies the duplicate fault sent
        // count as duplicates at the gateway, as the broker's redeliveries do (statuses come
        // again after an outage, so they are not counted); readings the broker refused (an
        // ACL's MQTT 5 "Not authorized") never come.
        let readings = Int64(outcome.publishedReadings - outcome.readingsRefusedByBroker - generator.stats.faults[.duplicate, default: 0])
        var arrived = false
        if !outcome.brokerLost {
            // Statuses too (the devices' and the broker's last wills), so that what the gateway
            // received is all of what was sent, whatever the timing.
            arrived = await waitForArrivals(readings, count: \.readings) { await $0.waitUntilReadings($1) }
            if arrived { arrived = await waitForArrivals(Int64(outcome.statusesDelivered), count: \.statuses) { await $0.waitUntilStatuses($1) } }
        }
        result.withLock { $0 = (Outcome(run: outcome, publishSeconds: published), arrived) }
    }

    /// Everything sent must arrive; give up after a quiet spell (QoS 0 may lose messages).
    private func waitForArrivals(_ count: Int64, count tally: @escaping @Sendable (GatewayService) -> Int64,
                                 wait: @escaping @Sendable (GatewayService, Int64) async -> Void) async -> Bool {
        let gateways = self.gateways
        func received() -> Int64 { gateways.reduce(0) { $0 + $1.status().received } }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                // Woken when any gateway has taken a share of what is missing: of R messages
                // still to come, one of N gateways takes at least R/N, so one wakes with
                // R/2N; the rounds are logarithmic in the messages.
                while !Task.isCancelled {
                    let counts = gateways.map(tally)
                    let missing = count - counts.reduce(0, +)
                    if missing <= 0 { return true }
                    let step = max(1, missing / Int64(2 * gateways.count))
                    await withTaskGroup(of: Void.self) { any in
                        for (gateway, n) in zip(gateways, counts) { any.addTask { await wait(gateway, n + step) } }
                        await any.next()
                        any.cancelAll()
                    }
                }
                return false
            }
            group.addTask {
                var last = received()
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(30))
                    let now = received()
                    if now == last { return false }
                    last = now
                }
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}

/// Lets the shutdown handler ask the publisher to stop: `requestStop` only sets an atomic flag.
private struct Stopper: @unchecked Sendable {
    let publisher: Publisher
}
