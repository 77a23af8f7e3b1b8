import CMosquitto
import CPlatform
import Dispatch
import Synchronization
import Glibc

extension MQTTClient {
    // MARK: Publishing

    /// Publishes a message. At QoS 1/2 this waits while the in-flight window is full; with
    /// `awaitDelivery` it also waits for the broker's PUBACK (QoS 1) or PUBCOMP (QoS 2), or
    /// for the write to the socket at QoS 0. Returns the message id.
    @discardableResult
    public func publish(_ topic: String, payload: [UInt8], qos: QoS = .atMostOnce, retain: Bool = false,
                        awaitDelivery: Bool = false) async throws(MQTTError) -> Int32 {
        var bytes = Array(topic.utf8)
        bytes.append(0)
        return try await publish(terminatedTopic: bytes, payload: payload, qos: qos, retain: retain, awaitDelivery: awaitDelivery)
    }

    /// `publish` with the topic as UTF-8 bytes ending in a 0 byte, for callers that build topics
    /// as bytes and publish many messages a second. A `marked` publish at QoS 1/2 that the
    /// broker refuses counts in `markedRefusals` too (exactly so with `writesOnLoop`: the
    /// mark is set before the packet can leave), so a caller can tell two kinds apart.
    @discardableResult
    @_spi(FastPath) public func publish(terminatedTopic topic: [UInt8], payload: [UInt8], qos: QoS = .atMostOnce, retain: Bool = false,
                        awaitDelivery: Bool = false, marked: Bool = false) async throws(MQTTError) -> Int32 {
        precondition(topic.last == 0, "terminatedTopic must end with a 0 byte")
        if directWrites, qos == .atMostOnce, !awaitDelivery, try await publishDirect(topic, payload, retain: retain) {
            return 0
        }
        try await acquireSlot()
        if awaitDelivery { state.withLock { $0.acks.expect() } }
        var mid: Int32 = 0
        let rc = topic.withUnsafeBufferPointer { name in
            payload.withUnsafeBytes { bytes in
                name.baseAddress!.withMemoryRebound(to: CChar.self, capacity: name.count) { cName in
                    queueing { mosquitto_publish(handle, &mid, cName, Int32(bytes.count), bytes.baseAddress, qos.rawValue, retain) }
                }
            }
        }
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            releaseSlots(1, settled: false)
            if awaitDelivery { state.withLock { $0.acks.abandon() } }
            throw MQTTError.mosquitto(rc, "publish to '\(String(decoding: topic.dropLast(), as: UTF8.self))' via \(options.endpoint)")
        }
        if marked, qos != .atMostOnce { state.withLock { _ = $0.marked.insert(mid) } }
        requestWrite(urgent: awaitDelivery)
        if awaitDelivery {
            let code = try await waitForAck(mid)
            if code >= 0x80 {
                throw MQTTError(.rejected, "publish to '\(String(decoding: topic.dropLast(), as: UTF8.self))': the broker refused it (\(String(cString: mosquitto_reason_string(code)))); check its ACL and limits", code: code)
            }
        }
        return mid
    }

    /// Encodes a QoS 0 publish into the bytes the loop writes next (see `PublishPacket`).
    /// Returns false, with nothing queued, for a topic or size that libmosquitto is to refuse
    /// with its own error.
    func publishDirect(_ topic: [UInt8], _ payload: [UInt8], retain: Bool) async throws(MQTTError) -> Bool {
        let length = topic.count - 1
        let valid = length > 0 && topic.withUnsafeBufferPointer { bytes in
            PublishPacket.isPlainTopic(UnsafeBufferPointer(rebasing: bytes.dropLast()))
                || bytes.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) { name in
                    mosquitto_validate_utf8(name, Int32(length)) == MOSQ_ERR_SUCCESS.rawValue
                        && mosquitto_pub_topic_check2(name, length) == MOSQ_ERR_SUCCESS.rawValue
                }
        }
        let v5 = options.protocolVersion == .v5
        guard valid, let size = PublishPacket.size(topic: length, payload: payload.count, v5: v5) else { return false }
        enum Outcome { case queued(Int), notConnected, tooLarge, windowFull }
        var holdsSlot = false
        while true {
            let outcome = topic.withUnsafeBufferPointer { name in
                payload.withUnsafeBytes { body in
                    state.withLock { state -> Outcome in
                        guard state.phase == .connected else { return .notConnected }
                        guard size <= state.maximumPacket else { return .tooLarge }
                        if !holdsSlot {
                            guard state.inflight < window else { return .windowFull }
                            state.inflight += 1
                        }
                        PublishPacket.append(to: &state.pending, topic: UnsafeBufferPointer(rebasing: name.dropLast()),
                                             payload: body, retain: retain, v5: v5)
                        state.pendingMessages += 1
                        return .queued(state.pendingMessages)
                    }
                }
            }
            switch outcome {
            case .queued(let count):
                askLoopToWrite(queued: count)
                return true
            case .windowFull:
                try await acquireSlot()
                holdsSlot = true
            case .notConnected:
                if holdsSlot { releaseSlots(1, settled: false) }
                throw MQTTError.mosquitto(Int32(MOSQ_ERR_NO_CONN.rawValue), "publish to '\(String(decoding: topic.dropLast(), as: UTF8.self))' via \(options.endpoint)")
            case .tooLarge:
                if holdsSlot { releaseSlots(1, settled: false) }
                return false
            }
        }
    }

    /// Gets what libmosquitto queued onto the wire. Without `writesOnLoop` it wrote what the
    /// socket took at once and the loop watches for room for the rest; with it, the loop is
    /// asked to write (once, however many messages were queued meanwhile). A packet whose
    /// answer the caller waits for is `urgent`: it does not wait for a held flush.
    func requestWrite(urgent: Bool = false) {
        if writesOnLoop {
            askLoopToWrite(queued: queuedWrites.add(1, ordering: .relaxed).newValue, urgent: urgent)
        } else if mosquitto_want_write(handle) {
            loop.send(.watch(self))
        }
    }

    /// Asks the loop, once per pass, to write this client's queued packets (`queued` of them).
    func askLoopToWrite(queued: Int, urgent: Bool = false) {
        if !writeRequested.exchange(true, ordering: .acquiringAndReleasing) {
            loop.send(.write(self), urgent: urgent)
        } else if urgent || queued == MQTTClient.writeBurst {
            // Enough for a full pass of its own, or awaited: no need to wait for the loop's flush.
            loop.send(.write(self), urgent: true)
        }
    }

    /// Waits until every message published so far has been acknowledged (QoS 1/2) or written (QoS 0).
    public func drain() async {
        loop.flush()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.inflight == 0 { return true }
                state.drainWaiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// `drain`, for at most `limit`: past it (a broker that is gone) the messages still in
    /// flight are given up (`giveUp`). True when everything was acknowledged in time.
    public func drain(within limit: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.drain(); return true }
            group.addTask {
                try? await Task.sleep(for: limit)
                return false
            }
            let drained = await group.next() ?? false
            if !drained { giveUp("the broker did not acknowledge within \(limit)") }
            group.cancelAll()
            return drained
        }
    }

    /// Stops waiting for the broker: publishers waiting for room in the in-flight window and
    /// `drain` return at once (the waiting publishes fail with `connectionLost`), and what was
    /// in flight no longer counts. For a caller that gives up on a broker that is gone.
    public func giveUp(_ reason: String) {
        state.withLock { $0.gaveUp = true }
        failPending(MQTTError(.connectionLost, "client '\(options.clientID)': \(reason)"))
    }

    /// Waits until the connection is up: true at once when it is, true when a (re)connect
    /// succeeds; false when it cannot come back (closed, no reconnect policy, given up).
    public func waitUntilConnected() async -> Bool { await waitUntilConnected(after: -1) }

    /// `waitUntilConnected` for a connection newer than the one the broker accepted as
    /// `connections` number `count`: after `dropConnection`, the next one (the drop is done on
    /// the loop thread, so the old connection may still be up when this is called).
    public func waitUntilConnected(after count: Int) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let now = state.withLock { state -> Bool? in
                switch state.phase {
                case .connected where connectionCount.load(ordering: .relaxed) > count: return true
                case .connected:
                    guard !state.gaveUp else { return false }
                    state.connectedWaiters.append(continuation)
                    return nil
                case .connecting, .reconnecting:
                    guard !state.gaveUp else { return false }
                    state.connectedWaiters.append(continuation)
                    return nil
                case .idle, .closing, .closed: return false
                }
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    /// Whether the client is connected to the broker now.
    public var isConnected: Bool { state.withLock { $0.phase == .connected } }

    /// Messages handed to the broker connection but not yet acknowledged or written.
    public var inflight: Int { state.withLock { $0.inflight } }

    func acquireSlot() async throws(MQTTError) {
        let fast = state.withLock { state -> Bool in
            guard state.inflight < window else { return false }
            state.inflight += 1
            return true
        }
        if fast { return }
        // Held writes would never be acknowledged or written: let this client's out first.
        if writesOnLoop { loop.send(.write(self), urgent: true) }
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let now = state.withLock { state -> Bool in
                    if state.inflight < window {
                        state.inflight += 1
                        return true
                    }
                    state.windowWaiters.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } catch {
            throw MQTTError.from(error)
        }
    }

    /// Frees `count` slots of the in-flight window: each goes to a waiting publisher, if any.
    /// `settled`: the slots' messages are done with (acknowledged, written or dropped), not
    /// refused before they were queued.
    func releaseSlots(_ count: Int, settled: Bool = true) {
        let (next, drains) = state.withLock { state -> ([CheckedContinuation<Void, any Error>], [CheckedContinuation<Void, Never>]) in
            let handed = min(count, state.windowWaiters.count - state.windowHead)
            let next = handed == 0 ? [] : Array(state.windowWaiters[state.windowHead ..< state.windowHead + handed])
            state.windowHead += handed
            state.inflight = max(0, state.inflight - (count - handed))
            if state.windowHead > 64, state.windowHead * 2 > state.windowWaiters.count {
                state.windowWaiters.removeFirst(state.windowHead)
                state.windowHead = 0
            }
            var woken: [CheckedContinuation<Void, Never>] = []
            if settled {
                state.settled += count
                if !state.settleWaiters.isEmpty {
                    let total = state.settled
                    woken = state.settleWaiters.filter { $0.count <= total }.map(\.continuation)
                    state.settleWaiters.removeAll { $0.count <= total }
                }
            }
            guard state.inflight == 0, !state.drainWaiters.isEmpty else { return (next, woken) }
            defer { state.drainWaiters.removeAll() }
            return (next, state.drainWaiters + woken)
        }
        for waiter in next { waiter.resume() }
        for drain in drains { drain.resume() }
    }

    /// Publishes done with so far (see `waitUntilSettled`).
    public var settled: Int { state.withLock { $0.settled } }

    /// Waits until `count` publishes of this client are done with: acknowledged by the broker
    /// at QoS 1 and 2 (so the broker has queued them for its subscribers), written to the socket
    /// or dropped at QoS 0. Returns at once when the client was given up or closed.
    public func waitUntilSettled(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.settled >= count || state.gaveUp || state.phase == .closed { return true }
                state.settleWaiters.append((count, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    func didPublish(mid: Int32, reason: Int32) {
        // MQTT 5: a PUBACK may carry a failure (>= 0x80, e.g. 0x87 not authorized): the
        // broker took the packet but not the message.
        state.withLock { state in
            let marked = !state.marked.isEmpty && state.marked.remove(mid) != nil
            if reason >= 0x80 {
                state.refusals[reason, default: 0] += 1
                if marked { state.markedRefusals += 1 }
            }
        }
        releaseSlots(1)
        didAcknowledge(mid: mid, code: reason)
    }

    /// Publishes the broker acknowledged with a failure reason (MQTT 5), by reason
    /// ("Not authorized", "Quota exceeded", ...): taken off the wire, not delivered.
    public var refusals: [String: Int] {
        let codes = state.withLock { $0.refusals }
        return Dictionary(codes.map { (String(cString: mosquitto_reason_string($0.key)), $0.value) }, uniquingKeysWith: +)
    }

    /// Refusals (see `refusals`) of publishes made with `marked`.
    public var markedRefusals: Int { state.withLock { $0.markedRefusals } }

    func didAcknowledge(mid: Int32, code: Int32) {
        let waiter = state.withLock { $0.acks.complete(mid, code: code) }
        waiter?.resume(returning: code)
    }

    func waitForAck(_ mid: Int32) async throws(MQTTError) -> Int32 {
        do {
            return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
                if let code = state.withLock({ $0.acks.wait(for: mid, continuation) }) {
                    continuation.resume(returning: code)
                }
            }
        } catch {
            throw MQTTError.from(error)
        }
    }
}
