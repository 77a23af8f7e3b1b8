import MQTT
import Synchronization

/// Watches a run's connections once a second: when every one has been down for the outage
/// limit, or a stop was requested and the grace for acknowledgements passed, it stops the run
/// and gives every client up, so no publish or drain waits for a broker that is gone.
final class Watchdog: Sendable {
    let clients: [MQTTClient]
    let outageLimit: Duration
    let stopGrace: Duration
    nonisolated(unsafe) let stop: Publisher
    let report: (@Sendable (String) -> Void)?
    let gaveUp = Atomic(false)

    init(clients: [MQTTClient], outageLimit: Duration, stopGrace: Duration, stop: Publisher, report: (@Sendable (String) -> Void)?) {
        self.clients = clients
        self.outageLimit = outageLimit
        self.stopGrace = stopGrace
        self.stop = stop
        self.report = report
    }

    func watch() async {
        let clock = ContinuousClock()
        var downSince: ContinuousClock.Instant?
        var stopSeen: ContinuousClock.Instant?
        var takeoversTold = false
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            if Task.isCancelled { return }
            let now = clock.now
            if !takeoversTold, let taken = clients.first(where: { $0.takeovers > 0 }) {
                takeoversTold = true
                report?("the broker keeps closing connections right after accepting them (e.g. '\(taken.options.clientID)'): another client probably uses the same client ids; give each simulator its own --client-prefix (mqtt.client-prefix)")
            }
            let anyConnected = clients.contains { $0.isConnected }
            if !anyConnected {
                if downSince == nil {
                    downSince = now
                    report?("lost the broker (no connection is up); waiting up to \(outageLimit) for it to come back")
                }
            } else if let since = downSince {
                report?("the broker is back after \(Int((now - since).components.seconds)) s")
                downSince = nil
            }
            if stop.isStopRequested, stopSeen == nil { stopSeen = now }
            let outage = downSince.map { now - $0 >= outageLimit } ?? false
            // After a stop: the grace for acknowledgements, doubled while the broker is up.
            let stopped = stopSeen.map { now - $0 >= (anyConnected ? stopGrace * 2 : stopGrace) } ?? false
            if outage || stopped {
                if outage { report?("gave the broker up after \(outageLimit) without a connection; finishing with what was sent") }
                gaveUp.store(outage, ordering: .relaxed)
                stop.requestStop()
                for client in clients { client.giveUp(outage ? "the broker was unreachable for \(outageLimit)" : "the run was stopped") }
                return
            }
        }
    }
}
