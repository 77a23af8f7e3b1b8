import ServiceLifecycle

/// Writes what the aggregator produced to the store every flush interval, with a checkpoint
/// every checkpoint interval; at shutdown the last batch, a checkpoint and the open windows.
struct Flusher: Service {
    let gateway: GatewayService

    func run() async throws {
        let interval = Duration.milliseconds(Int64(max(0.01, gateway.config.flushInterval) * 1000))
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
