import CMosquitto
import CPlatform
import Dispatch
import Synchronization
import Glibc

extension MQTTClient {
    // MARK: Connecting

    /// Connects and waits for the broker's CONNACK (at most `connectTimeout`).
    /// Returns whether the broker resumed a persistent session.
    @discardableResult
    public func connect() async throws(MQTTError) -> Bool {
        do {
            return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, any Error>) in
                let deadline = ConnectDeadline(self)
                let ok = state.withLock { state -> Bool in
                    guard state.phase == .idle || state.phase == .closed else { return false }
                    state.phase = .connecting
                    state.connectWaiter = continuation
                    state.connectDeadline = deadline
                    return true
                }
                guard ok else {
                    continuation.resume(throwing: MQTTError(.invalidArgument, "client '\(options.clientID)' is already connected or connecting"))
                    return
                }
                DispatchQueue.global().async { self.open(initial: true) }
                // The closure holds only the deadline, never the client itself.
                let timeout = MQTTError(.timeout, "connect to \(options.endpoint): no CONNACK within \(options.connectTimeout); check that a broker listens there and is not overloaded")
                DispatchQueue.global().asyncAfter(deadline: .now() + options.connectTimeout.seconds) {
                    deadline.client.withLock { $0 }?.failConnect(timeout)
                }
            }
        } catch {
            throw MQTTError.from(error)
        }
    }

    /// Opens the TCP (and TLS) connection and sends CONNECT; the CONNACK arrives on the loop.
    func open(initial: Bool) {
        let (rc, saved) = wire.withLock { _ -> (Int32, Int32) in
            errno = 0
            let rc = initial
                ? mosquitto_connect_bind_v5(handle, options.host, Int32(options.port), Int32(options.keepAlive), options.bindAddress, nil)
                : mosquitto_reconnect(handle)
            return (rc, errno)
        }
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            let error = MQTTError.mosquitto(rc, "connect to \(options.endpoint)", errno: saved)
            if initial { failConnect(error) } else { scheduleReconnect(after: error) }
            return
        }
        loop.send(.register(self))
    }

    /// Runs a libmosquitto call that queues a packet (PUBLISH, SUBSCRIBE, UNSUBSCRIBE) only
    /// while the broker has accepted the connection, and never while a reconnect on another
    /// thread rebuilds it: a packet queued between libmosquitto's clean-up and its new CONNECT
    /// would leave first, and the broker drops a connection whose first packet is not CONNECT
    /// (a "protocol error" in its log). Returns MOSQ_ERR_NO_CONN when not connected.
    func queueing(_ call: () -> Int32) -> Int32 {
        let notConnected = Int32(MOSQ_ERR_NO_CONN.rawValue)
        // Checked before the lock too, so a publisher never waits for a reconnect's connect.
        guard state.withLock({ $0.phase == .connected }) else { return notConnected }
        return wire.withLock { _ in
            state.withLock { $0.phase == .connected } ? call() : notConnected
        }
    }

    /// Called by the loop when a reconnect timer is due.
    func reopen() {
        let (go, held) = state.withLock { ($0.phase == .reconnecting, $0.held) }
        if go, held {
            loop.send(.reconnect(self, after: .milliseconds(200)))
        } else if go {
            DispatchQueue.global().async { self.open(initial: false) }
        }
    }

    /// Holding: drops the connection (as `dropConnection`) and does not come back until
    /// released, so nothing more arrives and nothing more is acknowledged; a persistent
    /// session keeps what is published meanwhile in the broker. Releasing lets the reconnect
    /// policy bring the connection back.
    public func hold(_ on: Bool) {
        let changed = state.withLock { state -> Bool in
            defer { state.held = on }
            return state.held != on
        }
        if on, changed { dropConnection() }
    }

    /// Whether `hold` keeps the client off the broker.
    public var isHeld: Bool { state.withLock { $0.held } }

    func failConnect(_ error: MQTTError) {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, any Error>? in
            guard state.phase == .connecting, let waiter = state.connectWaiter else { return nil }
            state.connectWaiter = nil
            state.connectDeadline?.release()
            state.connectDeadline = nil
            state.phase = .closed
            return waiter
        }
        guard let waiter else { return }
        closeOnLoop(done: nil)
        waiter.resume(throwing: error)
        let connected = state.withLock { state in
            defer { state.connectedWaiters.removeAll() }
            return state.connectedWaiters
        }
        for c in connected { c.resume(returning: false) }
    }

    func didConnect(rc: Int32, sessionPresent: Bool, maximumPacket: Int = .max) {
        if rc != 0 {
            let error = MQTTError.connack(rc, "connect to \(options.endpoint) as '\(options.clientID)'")
            failConnect(error)
            eventSink.yield(.disconnected(error))
            return
        }
        let (waiter, resubscribe, connected) = state.withLock { state -> (CheckedContinuation<Bool, any Error>?, [String: QoS], [CheckedContinuation<Bool, Never>]) in
            let waiter = state.connectWaiter
            let connected = state.connectedWaiters
            state.connectedWaiters.removeAll()
            state.connectWaiter = nil
            state.connectDeadline?.release()
            state.connectDeadline = nil
            let wasReconnect = state.everConnected
            // libmosquitto sends again what the resumed session had not seen acknowledged.
            if wasReconnect, sessionPresent { state.resent += state.inflight }
            state.phase = .connected
            state.maximumPacket = maximumPacket
            state.everConnected = true
            state.connectedAt = .now
            // Counted with the phase, so `waitUntilConnected(after:)` never sees one without the other.
            connectionCount.add(1, ordering: .relaxed)
            return (waiter, wasReconnect && !sessionPresent ? state.subscriptions : [:], connected)
        }
        for (filter, qos) in resubscribe {
            _ = mosquitto_subscribe(handle, nil, filter, qos.rawValue)
        }
        eventSink.yield(.connected(sessionPresent: sessionPresent))
        waiter?.resume(returning: sessionPresent)
        for c in connected { c.resume(returning: true) }
    }

    func didDisconnect(rc: Int32) {
        // A requested disconnect, or the close after a refused CONNACK, has reported itself already.
        let requested = state.withLock { $0.phase == .closing || $0.phase == .closed }
        guard !requested else { return }
        if let loss = noteLoss() {
            eventSink.yield(.disconnected(loss))
            return
        }
        eventSink.yield(.disconnected(MQTTError.mosquitto(rc == 0 ? Int32(MOSQ_ERR_CONN_LOST.rawValue) : rc, "connection to \(options.endpoint)")))
    }

    /// Counts the loss of an accepted connection once: a connection that lived at least
    /// `stableAfter` resets the backoff; a shorter one does not. Returns the error to report
    /// when the loss looks like another client using this client id: a broker closes the older
    /// of two connections with one id (mosquitto says why only in its log, even over MQTT 5),
    /// so the two close each other in turn.
    @discardableResult
    func noteLoss() -> MQTTError? {
        let stableAfter = options.reconnect.stableAfter
        let (shortLived, lived) = state.withLock { state -> (Int, Duration?) in
            guard let at = state.connectedAt else { return (0, nil) }
            state.connectedAt = nil
            let lived = ContinuousClock.now - at
            if lived >= stableAfter {
                state.attempt = 0
                state.shortLived = 0
            } else {
                state.shortLived += 1
            }
            if state.shortLived >= 2 { state.takeovers += 1 }
            return (state.shortLived, lived)
        }
        if let lived, shortLived >= 2 {
            return MQTTError(.takenOver, "connection to \(options.endpoint) as '\(options.clientID)': closed by the broker \(shortLived) times in a row, the last \(Int((lived.seconds * 1000).rounded())) ms after it was accepted; another client probably uses the client id '\(options.clientID)' (the broker closes the older connection); give each connection its own client id. Reconnecting ever more slowly", code: Int32(MOSQ_ERR_CONN_LOST.rawValue))
        }
        return nil
    }

    /// Publishes sent again after a reconnect that resumed the session (they were not
    /// acknowledged before the loss; the broker may have had them already).
    public var resent: Int { state.withLock { $0.resent } }

    /// Losses that looked like another client taking this client id over (see `noteLoss`).
    public var takeovers: Int { state.withLock { $0.takeovers } }

    /// Called by the loop when the socket failed.
    func connectionLost(_ rc: Int32) {
        let error = MQTTError.mosquitto(rc, "connection to \(options.endpoint)")
        let phase = state.withLock { $0.phase }
        switch phase {
        case .connecting where options.tls == nil && error.kind == .connectionLost:
            // The TCP connection was accepted, then closed before any CONNACK: what a TLS
            // listener does to plain MQTT.
            failConnect(MQTTError(.connectionLost, "connection to \(options.endpoint): the broker closed it before answering CONNECT; it probably expects TLS on this port (use mqtts://, with the CA that signed its certificate), else check its log", code: error.code))
        case .connecting:
            failConnect(error)
        case .connected, .reconnecting:
            scheduleReconnect(after: error)
        case .idle, .closing, .closed:
            break
        }
    }

    func scheduleReconnect(after error: MQTTError) {
        noteLoss()
        let policy = options.reconnect
        let attempt = state.withLock { state -> Int? in
            guard state.phase == .connected || state.phase == .reconnecting else { return nil }
            guard policy.enabled else {
                state.phase = .closed
                return nil
            }
            state.phase = .reconnecting
            state.attempt += 1
            return state.attempt
        }
        guard let attempt else {
            if state.withLock({ $0.phase == .closed }) { failPending(error) }
            return
        }
        let delay = policy.delay(attempt: attempt, unit: Double.random(in: 0..<1))
        eventSink.yield(.reconnecting(attempt: attempt, delay: delay))
        loop.send(.reconnect(self, after: delay))
    }
}
