import ServiceLifecycle

/// Writes what the aggregator produced to the store every flush interval, with a checkpoint
/// every checkpoint interval, and logs a status line every status interval; at shutdown the
/// last batch, a checkpoint and the open windows.
struct Flusher: Service {
    let gateway: GatewayService

    func run() async throws {
        let config = gateway.config
        // Wake for whichever comes first, the flush or the status line.
        let seconds = min(config.flushInterval, config.statusInterval > 0 ? config.statusInterval : .infinity)
        let interval = Duration.milliseconds(Int64(max(0.01, seconds) * 1000))
        // The sleeps end early on shutdown; the final flush runs outside that scope.
        _ = await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { break }
                gateway.periodicFlush()
            }
        }
        gateway.finalFlush()
    }
}
