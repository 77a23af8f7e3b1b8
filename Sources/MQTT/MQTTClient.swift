import CMosquitto
import CPlatform
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An MQTT client over libmosquitto.
///
/// ```swift
/// let client = try MQTTClient(ConnectionOptions(port: 1883, clientID: "alm-tf-0042"))
/// try await client.connect()
/// try await client.subscribe("city/#", qos: .atLeastOnce)
/// try await client.publish("city/almaty/mobility/d1/alm-tf-0042/attrs", payload: bytes, qos: .atLeastOnce)
/// for await message in client.messages { ... }
/// await client.disconnect()
/// ```
///
/// Messages arrive either in `messages` or, when a handler is given, in the handler, called on
/// the network thread (the fast path: no buffering, no task hop). At QoS 1 and 2, `publish`
/// waits while `inflightWindow` messages are unacknowledged: that is the backpressure. A lost
/// connection is re-established by the `reconnect` policy; `events` tells what happened.
public final class MQTTClient: @unchecked Sendable {
    public typealias MessageHandler = @Sendable (MQTTMessage) -> Void
    /// Called on the network thread with the topic and payload bytes, valid only during the
    /// call: no copy, no allocation.
    @_spi(FastPath) public typealias RawMessageHandler = @Sendable (_ topic: UnsafeBufferPointer<UInt8>, _ payload: UnsafeBufferPointer<UInt8>, _ retained: Bool) -> Void

    enum Phase { case idle, connecting, connected, reconnecting, closing, closed }

    struct State {
        var phase = Phase.idle
        var connectWaiter: CheckedContinuation<Bool, any Error>?
        var connectDeadline: ConnectDeadline?
        var everConnected = false
        var attempt = 0
        /// When the broker last accepted the connection (nil once its loss was counted).
        var connectedAt: ContinuousClock.Instant?
        /// Kept off the broker by `hold`: reconnecting waits until it is released.
        var held = false
        /// Losses in a row, each sooner than `stableAfter` after the connection was accepted.
        var shortLived = 0
        /// Messages unacknowledged when a session was resumed, which are sent again.
        var resent = 0
        /// Losses that look like another client taking the client id over: the second and
        /// later short-lived loss in a row.
        var takeovers = 0
        var inflight = 0
        var windowWaiters: [CheckedContinuation<Void, any Error>] = []
        var windowHead = 0
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
        /// Publishes done with: acknowledged by the broker (QoS 1/2), written or dropped (QoS 0),
        /// counted from the start; and callers of `waitUntilSettled`, by the count they wait for.
        var settled = 0
        var settleWaiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
        /// Callers of `waitUntilConnected`; and whether the caller gave the connection up.
        var connectedWaiters: [CheckedContinuation<Bool, Never>] = []
        var gaveUp = false
        /// PUBACKs (MQTT 5) with a failure reason code, by code: publishes the broker refused.
        var refusals: [Int32: Int] = [:]
        /// Message ids of `marked` publishes not yet acknowledged, and how many of those the
        /// broker refused.
        var marked: Set<Int32> = []
        var markedRefusals = 0
        var acks = AckTable()
        var subscriptions: [String: QoS] = [:]
        /// QoS 0 PUBLISH packets encoded for the loop to write (`directWrites`), and how many.
        var pending: [UInt8] = []
        var pendingMessages = 0
        /// The broker's maximum packet size (MQTT 5 CONNACK); larger packets go to libmosquitto,
        /// which refuses them.
        var maximumPacket = Int.max
    }

    public let options: ConnectionOptions
    /// How many times the broker accepted this client's connection (CONNACK), counted on the
    /// network thread before the new connection's first message is handed over.
    public var connections: Int { connectionCount.load(ordering: .relaxed) }
    let connectionCount = Atomic(0)
    public let messages: AsyncStream<MQTTMessage>
    public let events: AsyncStream<MQTTEvent>

    let handle: OpaquePointer
    // Owned by the loop thread.
    var registeredFD: Int32 = -1
    var watchingWrite = false
    /// Packets a client with writes on the loop lets wait for a held flush; the next one has
    /// them written at once (in one pass).
    static let writeBurst = 64
    /// Whether libmosquitto's wake-up byte per publish is left out (its write end is closed).
    let quietWakeups: Bool
    /// Whether writes wait for the loop thread (`writesOnLoop` or TLS).
    let writesOnLoop: Bool
    /// Set when a write command is queued for the loop and not yet carried out.
    let writeRequested = Atomic(false)
    /// Packets queued for the loop to write since its last pass.
    let queuedWrites = Atomic(0)
    /// Whether QoS 0 publishes bypass libmosquitto's queue (plain TCP, writes on the loop; see
    /// `PublishPacket`).
    let directWrites: Bool
    /// Pending bytes the loop has taken and not yet fully written (loop thread only).
    var outgoing = Outgoing()
    /// How often the socket was full with pending bytes left to write (loop thread only).
    var stalledWrites = 0

    let loop: NetworkLoop
    let ownsLoop: Bool
    let state = Mutex(State())
    /// Held by a (re)connect while libmosquitto rebuilds the connection, and by each call that
    /// queues a packet on it (see `queueing`).
    let wire = Mutex(())
    let handler: MessageHandler?
    let rawHandler: RawMessageHandler?
    /// Called on the network thread before each write to the socket: with
    /// `ConnectionOptions.writesOnLoop`, no acknowledgement leaves before it returned.
    let beforeWrite: (@Sendable () -> Void)?
    let messageSink: AsyncStream<MQTTMessage>.Continuation
    let eventSink: AsyncStream<MQTTEvent>.Continuation
    let window: Int

    /// - Parameters:
    ///   - loop: the network loop to run on; nil gives the client a loop of its own.
    ///   - onMessage: called on the network thread for every message; `messages` stays empty then.
    public convenience init(_ options: ConnectionOptions, loop: NetworkLoop? = nil, onMessage: MessageHandler? = nil) throws(MQTTError) {
        try self.init(options, loop: loop, onMessage: onMessage, onRawMessage: nil, beforeWrite: nil)
    }

    /// The receiving fast path, for a consumer that persists what it receives:
    ///   - onRawMessage: called on the network thread with the bytes in place of a copy;
    ///   - beforeWrite: called on the network thread before each socket write; with
    ///     `writesOnLoop` set, PUBACKs of received messages go out only after it returns.
    @_spi(FastPath) public convenience init(_ options: ConnectionOptions, loop: NetworkLoop? = nil, onRawMessage: @escaping RawMessageHandler,
                                           beforeWrite: (@Sendable () -> Void)? = nil) throws(MQTTError) {
        try self.init(options, loop: loop, onMessage: nil, onRawMessage: onRawMessage, beforeWrite: beforeWrite)
    }

    init(_ options: ConnectionOptions, loop: NetworkLoop?, onMessage: MessageHandler?,
         onRawMessage: RawMessageHandler?, beforeWrite: (@Sendable () -> Void)?) throws(MQTTError) {
        MosquittoLibrary.ensureInitialised()
        guard options.cleanSession || !options.clientID.isEmpty else {
            throw MQTTError(.invalidArgument, "a persistent session (clean session off) needs a client id; set one")
        }
        guard let handle = mosquitto_new(options.clientID.isEmpty ? nil : options.clientID, options.cleanSession, nil) else {
            throw MQTTError(.outOfMemory, "cannot create MQTT client '\(options.clientID)': out of memory")
        }
        self.handle = handle
        // This client never sleeps in mosquitto_loop(), so libmosquitto's per-publish wake-up
        // byte is a wasted system call: its write end is closed where the layout is known.
        quietWakeups = MosquittoLibrary.knownLayout && mosquitto_socket(handle) == -1
            && csys_mosquitto_quiet_wakeup_pair(UnsafeMutableRawPointer(handle)) == 1
        self.options = options
        self.handler = onMessage
        self.rawHandler = onRawMessage
        self.beforeWrite = beforeWrite
        self.window = max(1, options.inflightWindow)
        self.writesOnLoop = options.writesOnLoop || options.tls != nil
        self.directWrites = options.writesOnLoop && options.tls == nil
        if let loop {
            self.loop = loop
            ownsLoop = false
        } else {
            do {
                self.loop = try NetworkLoop(name: "mqtt-\(options.clientID)")
            } catch {
                mosquitto_destroy(handle)
                throw error
            }
            ownsLoop = true
        }
        (messages, messageSink) = AsyncStream.makeStream(of: MQTTMessage.self, bufferingPolicy: .unbounded)
        (events, eventSink) = AsyncStream.makeStream(of: MQTTEvent.self, bufferingPolicy: .bufferingNewest(1024))
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        // Every property is set by now, so a throw runs deinit, which destroys the handle and
        // stops an own loop: doing it here as well would free them twice.
        try configure()
        installCallbacks()
    }

    deinit {
        mosquitto_destroy(handle)
        if ownsLoop { loop.shutdown() }
        messageSink.finish()
        eventSink.finish()
    }

    func configure() throws(MQTTError) {
        let who = "client '\(options.clientID)'"
        func check(_ rc: Int32, _ what: String) throws(MQTTError) {
            if rc != MOSQ_ERR_SUCCESS.rawValue { throw MQTTError.mosquitto(rc, "\(who): \(what)") }
        }
        let version = options.protocolVersion == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311
        try check(mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, Int32(version)), "protocol version")
        if options.protocolVersion == .v5 {
            try check(mosquitto_int_option(handle, MOSQ_OPT_SEND_MAXIMUM, Int32(min(window, 65535))), "send maximum")
        } else {
            // Above MQTT's 65,535 the library gets no limit of its own; ours still applies.
            try check(mosquitto_max_inflight_messages_set(handle, window > 65535 ? 0 : UInt32(window)), "in-flight window")
        }
        if options.username != nil || options.password != nil {
            try check(mosquitto_username_pw_set(handle, options.username, options.password), "username/password")
        }
        if options.tcpNoDelay {
            try check(mosquitto_int_option(handle, MOSQ_OPT_TCP_NODELAY, 1), "TCP_NODELAY")
        }
        if writesOnLoop {
            // Writes wait for the loop thread instead of leaving from the caller's: acknowledgements
            // go out only after `beforeWrite` has run, and a TLS session is never written by one
            // thread while the loop reads it on another (OpenSSL sessions are not thread-safe).
            try check(mosquitto_threaded_set(handle, true), "deferred writes")
        }
        if let will = options.will {
            let rc = will.payload.withUnsafeBytes { bytes in
                mosquitto_will_set(handle, will.topic, Int32(bytes.count), bytes.baseAddress, will.qos.rawValue, will.retain)
            }
            try check(rc, "last will on '\(will.topic)' (no + or # allowed in its topic)")
        }
        if let tls = options.tls {
            if tls.useSystemCertificates {
                try check(mosquitto_int_option(handle, MOSQ_OPT_TLS_USE_OS_CERTS, 1), "TLS system certificates")
            }
            if tls.caFile != nil || tls.certificateFile != nil {
                let rc = mosquitto_tls_set(handle, tls.caFile, nil, tls.certificateFile, tls.keyFile, nil)
                if rc != MOSQ_ERR_SUCCESS.rawValue {
                    throw MQTTError(.tls, "\(who): TLS files not usable (CA '\(tls.caFile ?? "-")', certificate '\(tls.certificateFile ?? "-")', key '\(tls.keyFile ?? "-")'); check that they exist, are PEM, and that certificate and key come as a pair", code: rc)
                }
            }
            try check(mosquitto_tls_opts_set(handle, 1, tls.version, nil), "TLS version '\(tls.version ?? "")' (use tlsv1.2 or tlsv1.3)")
            if tls.insecureSkipHostnameCheck {
                try check(mosquitto_tls_insecure_set(handle, true), "TLS insecure")
            }
        }
    }

    func installCallbacks() {
        mosquitto_connect_v5_callback_set(handle) { _, obj, rc, flags, properties in
            var limit: UInt32 = 0
            let found = mosquitto_property_read_int32(properties, Int32(MQTT_PROP_MAXIMUM_PACKET_SIZE.rawValue), &limit, false) != nil
            MQTTClient.from(obj).didConnect(rc: rc, sessionPresent: flags & 1 != 0, maximumPacket: found && limit > 0 ? Int(limit) : .max)
        }
        mosquitto_disconnect_v5_callback_set(handle) { _, obj, rc, _ in
            MQTTClient.from(obj).didDisconnect(rc: rc)
        }
        mosquitto_publish_v5_callback_set(handle) { _, obj, mid, reason, _ in
            MQTTClient.from(obj).didPublish(mid: mid, reason: reason)
        }
        mosquitto_subscribe_v5_callback_set(handle) { _, obj, mid, count, granted, _ in
            let code = count > 0 && granted != nil ? granted![0] : 0x80
            MQTTClient.from(obj).didAcknowledge(mid: mid, code: code)
        }
        mosquitto_unsubscribe_v5_callback_set(handle) { _, obj, mid, _ in
            MQTTClient.from(obj).didAcknowledge(mid: mid, code: 0)
        }
        mosquitto_message_v5_callback_set(handle) { _, obj, message, _ in
            guard let message else { return }
            MQTTClient.from(obj).didReceive(message.pointee)
        }
    }

    static func from(_ obj: UnsafeMutableRawPointer?) -> MQTTClient {
        Unmanaged<MQTTClient>.fromOpaque(obj!).takeUnretainedValue()
    }

    /// Sends DISCONNECT (so no last will is published), stops reconnecting and finishes the
    /// `messages` and `events` streams (after a last `.disconnected` event).
    public func disconnect() async {
        let wasOpen = state.withLock { state -> Bool in
            let open = state.phase != .idle && state.phase != .closed
            state.phase = .closing
            return open
        }
        if wasOpen {
            await withCheckedContinuation { closeOnLoop(done: $0) }
        } else {
            loop.send(.unregister(self))
        }
        state.withLock { $0.phase = .closed }
        failPending(MQTTError(.notConnected, "client '\(options.clientID)' disconnected before the broker acknowledged"))
        failConnect(MQTTError(.notConnected, "client '\(options.clientID)' disconnected while connecting"))
        eventSink.yield(.disconnected(nil))
        finishStreams()
    }

    /// Sends DISCONNECT and leaves the loop, on the loop thread; once the loop has stopped no
    /// read can race, so it is done here.
    func closeOnLoop(done: CheckedContinuation<Void, Never>?) {
        guard !loop.send(.disconnect(self, done: done)) else { return }
        _ = mosquitto_disconnect(handle)
        done?.resume()
    }

    /// Closes the socket without DISCONNECT, as a device that loses power or network does: the
    /// broker publishes the last will, and the client reconnects if its policy says so.
    /// Done on the loop thread, after the writes queued before it.
    public func dropConnection() {
        guard !loop.send(.drop(self)) else { return }
        shutDownSocket()
    }

    /// Shuts the socket down both ways; the next read sees the end of the stream and reports
    /// the connection lost.
    func shutDownSocket() {
        let fd = mosquitto_socket(handle)
        if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// Finishes the `messages` and `events` streams.
    func finishStreams() {
        messageSink.finish()
        eventSink.finish()
    }

    func failPending(_ error: MQTTError) {
        let (acks, windowWaiters, drains, connected) = state.withLock { state in
            let acks = state.acks.failAll()
            state.marked.removeAll()
            let waiters = Array(state.windowWaiters[state.windowHead...])
            state.windowWaiters.removeAll()
            state.windowHead = 0
            state.inflight = 0
            let drains = state.drainWaiters
            state.drainWaiters.removeAll()
            let connected = state.connectedWaiters
            state.connectedWaiters.removeAll()
            let settling = state.settleWaiters.map(\.continuation)
            state.settleWaiters.removeAll()
            return (acks, waiters, drains + settling, connected)
        }
        for ack in acks { ack.resume(throwing: error) }
        for waiter in windowWaiters { waiter.resume(throwing: error) }
        for drain in drains { drain.resume() }
        for c in connected { c.resume(returning: false) }
    }
}

/// What the connect timeout holds: the client until the connect ends, then nothing, so a
/// connected client is not kept alive (with its sockets) until the timeout fires. (A weak
/// reference would do the same but make every retain of the client take the slow path.)
final class ConnectDeadline: Sendable {
    let client: Mutex<MQTTClient?>

    init(_ client: MQTTClient) { self.client = Mutex(client) }

    func release() { client.withLock { $0 = nil } }
}
