import CMosquitto
import CPlatform
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One thread that drives the sockets of many MQTT clients with epoll and libmosquitto's
/// `mosquitto_loop_read`, `mosquitto_loop_write` and `mosquitto_loop_misc`, instead of one
/// thread per client. A client made without a loop gets a private one; a fleet of clients
/// shares one:
///
/// ```swift
/// let loop = try NetworkLoop()
/// let devices = try (0..<2000).map { try MQTTClient(ConnectionOptions(port: port, clientID: "dev-\($0)"), loop: loop) }
/// ```
public final class NetworkLoop: @unchecked Sendable {
    enum Command {
        case register(MQTTClient)
        case unregister(MQTTClient)
        /// Sends DISCONNECT and closes the connection on the loop thread (so no other thread
        /// touches the socket, or its TLS session, while the loop reads it), then resumes `done`.
        case disconnect(MQTTClient, done: CheckedContinuation<Void, Never>?)
        case watch(MQTTClient)
        /// Writes what the client (with writes on the loop) has queued.
        case write(MQTTClient)
        /// Shuts the connection down without DISCONNECT (the broker publishes the last will).
        case drop(MQTTClient)
        case reconnect(MQTTClient, after: Duration)
        /// Resumes once the commands queued before it (held writes aside) are carried out.
        case barrier(CheckedContinuation<Void, Never>)
    }

    private struct Inbox {
        var commands: [Command] = []
        var stopping = false
        var wakePending = false
        /// Write commands wait in `heldWrites` until `flush` (`holdWakes`).
        var held = false
        var heldWrites: [Command] = []
    }

    private let epfd: Int32
    private let wakeFD: Int32
    private let inbox = Mutex(Inbox())
    private let stopped = DispatchSemaphore(value: 0)
    /// The loop's own thread, once it runs.
    private let loopThread = Mutex<pthread_t?>(nil)
    /// Set when the loop thread has left its loop.
    let finished = Atomic(false)
    private let name: String

    // Owned by the loop thread only.
    private var clients: [Int32: MQTTClient] = [:]
    private var timers: [(due: ContinuousClock.Instant, client: MQTTClient)] = []
    /// How often keep-alive and retry housekeeping runs for every connection.
    private let housekeeping = Duration.milliseconds(500)

    public init(name: String = "mqtt-loop") throws(MQTTError) {
        MosquittoLibrary.ensureInitialised()
        self.name = name
        epfd = csys_epoll_create()
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard epfd >= 0, wakeFD >= 0 else {
            throw MQTTError.errnoError(errno, "network loop")
        }
        _ = csys_epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFD, EPOLLIN.rawValue, UInt64(UInt32(bitPattern: wakeFD)))
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    deinit {
        close(epfd)
        close(wakeFD)
    }

    /// Stops the loop thread and waits for it. Clients still on it are left as they are.
    /// Called on the loop thread itself (a handler, or the last reference to a client that
    /// owns its loop going away there), it only asks: the loop stops after its current pass.
    public func shutdown() {
        let first = inbox.withLock { inbox -> Bool in
            defer { inbox.stopping = true }
            return !inbox.stopping
        }
        guard first else { return }
        wake()
        if let thread = loopThread.withLock({ $0 }), pthread_equal(thread, pthread_self()) != 0 { return }
        stopped.wait()
    }

    /// Holds write requests back from the loop thread until `flush()`, so that a burst of
    /// publishes from one thread leaves in one pass: many messages per connection, in a few
    /// TCP segments instead of one each, while the publishing thread makes no socket calls.
    /// Only clients with `ConnectionOptions.writesOnLoop` are held; one waiting for room in its
    /// in-flight window, or for the answer to a packet, has its own writes done at once, and
    /// draining flushes.
    @_spi(FastPath) public func holdWakes() {
        inbox.withLock { $0.held = true }
    }

    /// Hands the held write requests to the loop thread and wakes it.
    @_spi(FastPath) public func flush() {
        let needsWake = inbox.withLock { inbox -> Bool in
            inbox.commands.append(contentsOf: inbox.heldWrites)
            inbox.heldWrites.removeAll(keepingCapacity: true)
            guard !inbox.commands.isEmpty, !inbox.wakePending, !inbox.stopping else { return false }
            inbox.wakePending = true
            return true
        }
        if needsWake { wake() }
    }

    /// Ends `holdWakes` and flushes.
    @_spi(FastPath) public func releaseWakes() {
        inbox.withLock { $0.held = false }
        flush()
    }

    /// Queues a command for the loop thread; false (and nothing queued) once the loop stops.
    /// A write request waits for `flush()` while the loop holds wakes, unless `urgent`.
    @discardableResult
    func send(_ command: Command, urgent: Bool = false) -> Bool {
        let deferrable: Bool = { if !urgent, case .write = command { return true } else { return false } }()
        let (accepted, needsWake) = inbox.withLock { inbox -> (Bool, Bool) in
            guard !inbox.stopping else { return (false, false) }
            if deferrable, inbox.held {
                inbox.heldWrites.append(command)
                return (true, false)
            }
            inbox.commands.append(command)
            guard !inbox.wakePending else { return (true, false) }
            inbox.wakePending = true
            return (true, true)
        }
        if needsWake { wake() }
        return accepted
    }

    /// Returns once the loop has carried out every request made before the call, held writes
    /// aside (at once if the loop has stopped).
    public func settle() async {
        await withCheckedContinuation { continuation in
            if !send(.barrier(continuation)) { continuation.resume() }
        }
    }

    private func wake() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    private func run() {
        loopThread.withLock { $0 = pthread_self() }
        var events = [UInt32](repeating: 0, count: 256)
        var datas = [UInt64](repeating: 0, count: 256)
        let clock = ContinuousClock()
        var nextHousekeeping = clock.now + housekeeping
        while true {
            let now = clock.now
            var until = nextHousekeeping
            for timer in timers where timer.due < until { until = timer.due }
            let timeoutMs = max(0, Int32(((until - now).seconds * 1000).rounded(.up)))
            let n = csys_epoll_wait(epfd, &events, &datas, 256, timeoutMs)
            if n > 0 {
                for i in 0..<Int(n) {
                    let fd = Int32(truncatingIfNeeded: datas[i])
                    if fd == wakeFD {
                        var value: UInt64 = 0
                        _ = read(wakeFD, &value, 8)
                        continue
                    }
                    guard let client = clients[fd] else { continue }
                    service(client, fd: fd, events: events[i])
                }
            }
            let (commands, stopping) = inbox.withLock { inbox in
                defer {
                    inbox.commands.removeAll(keepingCapacity: true)
                    inbox.wakePending = false
                }
                return (inbox.commands, inbox.stopping)
            }
            for command in commands { apply(command, now: clock.now) }
            if stopping { break }
            let after = clock.now
            if after >= nextHousekeeping {
                nextHousekeeping = after + housekeeping
                for (fd, client) in clients {
                    let rc = mosquitto_loop_misc(client.handle)
                    if rc != MOSQ_ERR_SUCCESS.rawValue || mosquitto_socket(client.handle) != fd {
                        lost(client, fd: fd, rc: rc == 0 ? Int32(MOSQ_ERR_CONN_LOST.rawValue) : rc)
                    } else {
                        updateInterest(client, fd: fd)
                    }
                }
            }
            if !timers.isEmpty {
                var due: [MQTTClient] = []
                timers.removeAll { timer in
                    if timer.due <= after { due.append(timer.client); return true }
                    return false
                }
                for client in due { client.reopen() }
            }
        }
        finished.store(true, ordering: .releasing)
        stopped.signal()
    }

    private func service(_ client: MQTTClient, fd: Int32, events: UInt32) {
        var rc = MOSQ_ERR_SUCCESS.rawValue
        if events & (EPOLLIN.rawValue | EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 {
            rc = mosquitto_loop_read(client.handle, 1)
        }
        if rc == MOSQ_ERR_SUCCESS.rawValue, events & EPOLLOUT.rawValue != 0 {
            rc = writeOut(client, fd: fd)
        }
        if rc != MOSQ_ERR_SUCCESS.rawValue || mosquitto_socket(client.handle) != fd {
            lost(client, fd: fd, rc: rc == 0 ? Int32(MOSQ_ERR_CONN_LOST.rawValue) : rc)
        } else {
            updateInterest(client, fd: fd)
        }
    }

    /// Writes, in this order, the rest of the client's part-written pending bytes, libmosquitto's
    /// queue, and the QoS 0 packets published since (`PublishPacket`), each only once the one
    /// before is fully written, so the two never interleave on the wire.
    private func writeOut(_ client: MQTTClient, fd: Int32) -> Int32 {
        let ok = Int32(MOSQ_ERR_SUCCESS.rawValue)
        if !client.outgoing.isEmpty {
            let rc = client.writeOutgoing(fd)
            guard rc == ok, client.outgoing.isEmpty else { return rc }
        }
        if mosquitto_want_write(client.handle) {
            client.beforeWrite?()
            let rc = mosquitto_loop_write(client.handle, 1)
            guard rc == ok, !mosquitto_want_write(client.handle) else { return rc }
        }
        guard client.directWrites, client.takePending() else { return ok }
        return client.writeOutgoing(fd)
    }

    /// Writes out the client's pending bytes, waiting for room up to `within`; false if some
    /// are still unwritten (or the connection failed) by then.
    private func finishWrites(_ client: MQTTClient, fd: Int32, within: Duration) -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + within
        while true {
            guard writeOut(client, fd: fd) == MOSQ_ERR_SUCCESS.rawValue else { return false }
            if client.outgoing.isEmpty, !client.hasPending { return true }
            let left = deadline - clock.now
            guard left > .zero else { return false }
            var ready = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&ready, 1, Int32(max(1, left.seconds * 1000)))
        }
    }

    private func setCork(_ fd: Int32, _ on: Bool) {
        var value: Int32 = on ? 1 : 0
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_CORK, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    private func updateInterest(_ client: MQTTClient, fd: Int32) {
        // With writes on the loop, packets queued since the last pass have a write request of
        // their own (perhaps held): watching for room would write them early, one by one.
        let want = (mosquitto_want_write(client.handle) || !client.outgoing.isEmpty)
            && !(client.writesOnLoop && client.writeRequested.load(ordering: .acquiring))
        if want != client.watchingWrite {
            client.watchingWrite = want
            let mask = EPOLLIN.rawValue | (want ? EPOLLOUT.rawValue : 0)
            _ = csys_epoll_ctl(epfd, EPOLL_CTL_MOD, fd, mask, UInt64(UInt32(bitPattern: fd)))
        }
    }

    private func lost(_ client: MQTTClient, fd: Int32, rc: Int32) {
        forget(client, fd: fd)
        client.discardPending()
        client.connectionLost(rc)
    }

    /// Takes the client off the loop: no more events or reconnect timers for it.
    private func leave(_ client: MQTTClient) {
        timers.removeAll { $0.client === client }
        if client.registeredFD >= 0 { forget(client, fd: client.registeredFD) }
    }

    private func forget(_ client: MQTTClient, fd: Int32) {
        guard clients[fd] === client else { return }
        clients[fd] = nil
        client.registeredFD = -1
        _ = csys_epoll_ctl(epfd, EPOLL_CTL_DEL, fd, 0, 0)
    }

    private func apply(_ command: Command, now: ContinuousClock.Instant) {
        switch command {
        case .register(let client):
            let fd = mosquitto_socket(client.handle)
            guard fd >= 0 else {
                client.connectionLost(Int32(MOSQ_ERR_NO_CONN.rawValue))
                return
            }
            if client.registeredFD >= 0, client.registeredFD != fd { forget(client, fd: client.registeredFD) }
            // A new connection: nothing published for the old one may precede its CONNECT.
            client.discardPending()
            if let other = clients[fd], other !== client { other.registeredFD = -1 }
            clients[fd] = client
            client.registeredFD = fd
            let want = mosquitto_want_write(client.handle)
            client.watchingWrite = want
            let mask = EPOLLIN.rawValue | (want ? EPOLLOUT.rawValue : 0)
            if csys_epoll_ctl(epfd, EPOLL_CTL_ADD, fd, mask, UInt64(UInt32(bitPattern: fd))) != 0 {
                _ = csys_epoll_ctl(epfd, EPOLL_CTL_MOD, fd, mask, UInt64(UInt32(bitPattern: fd)))
            }
        case .unregister(let client):
            leave(client)
        case .disconnect(let client, let done):
            // What was published before leaves first, waiting a little for room if need be.
            let finished = client.registeredFD < 0 || finishWrites(client, fd: client.registeredFD, within: .seconds(2))
            leave(client)
            client.discardPending()
            if finished {
                _ = mosquitto_disconnect(client.handle)
                // With deferred writes the DISCONNECT is only queued: write it out now.
                _ = mosquitto_loop_write(client.handle, 1)
            } else {
                // A packet is part-written: a DISCONNECT after it would be garbage. The
                // connection ends without one (the broker publishes the last will).
                client.shutDownSocket()
                _ = mosquitto_disconnect(client.handle)
            }
            done?.resume()
        case .watch(let client):
            if client.registeredFD >= 0 { updateInterest(client, fd: client.registeredFD) }
        case .write(let client):
            // Cleared first: a publish queued after this point asks again.
            _ = client.writeRequested.exchange(false, ordering: .acquiringAndReleasing)
            let queued = client.queuedWrites.exchange(0, ordering: .relaxed)
            // Not connected yet: what is queued leaves once the connection is registered.
            let fd = client.registeredFD
            guard fd >= 0 else { break }
            // Several packets from libmosquitto's queue leave corked: in as few TCP segments as
            // their bytes need, where each would otherwise go out in its own (a connection with
            // little traffic has nothing in flight for Nagle's algorithm to wait for). QoS 0
            // packets published directly leave in one write anyway and are not counted.
            let cork = queued > 1
            if cork { setCork(fd, true) }
            service(client, fd: fd, events: EPOLLOUT.rawValue)
            if cork, client.registeredFD == fd { setCork(fd, false) }
        case .drop(let client):
            client.shutDownSocket()
        case .reconnect(let client, let delay):
            timers.append((now + delay, client))
        case .barrier(let continuation):
            continuation.resume()
        }
    }
}

/// libmosquitto's process-wide set-up, done once.
enum MosquittoLibrary {
    private static let initialised: Bool = {
        mosquitto_lib_init()
        signal(SIGPIPE, SIG_IGN)
        return true
    }()

    static func ensureInitialised() {
        _ = initialised
    }

    /// Whether the client struct's layout is the one `csys_mosquitto_quiet_wakeup_pair` knows
    /// (libmosquitto 2.0; the function checks the descriptors it finds there as well).
    static let knownLayout: Bool = {
        var major: Int32 = 0, minor: Int32 = 0, revision: Int32 = 0
        _ = mosquitto_lib_version(&major, &minor, &revision)
        return major == 2 && minor == 0
    }()
}
