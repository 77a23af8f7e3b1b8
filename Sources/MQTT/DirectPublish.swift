import CMosquitto
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// QoS 0 publishing without libmosquitto's packet queue, for plain TCP connections with
/// writes on the loop (`ConnectionOptions.writesOnLoop`): the PUBLISH packet is encoded into
/// the client's pending bytes under the lock that counts it in flight, and the network loop
/// writes all of a connection's pending bytes in one system call per pass. libmosquitto's
/// queue costs an allocation, three locks and a `write` per packet, and a corked pass two more
/// system calls; at the rates of a simulated city those system calls were most of the
/// publisher's time.
///
/// The two byte streams never interleave: the loop starts libmosquitto's queue (CONNECT,
/// PINGREQ, QoS 1/2 packets, acknowledgements) only when no pending bytes are part-written, and
/// pending bytes only when libmosquitto has nothing queued (see `NetworkLoop.writeOut`).
/// libmosquitto writes only when the loop asks it to, as writes on the loop set it threaded.
enum PublishPacket {
    /// The size of the PUBLISH packet (QoS 0) for a topic and payload of these lengths, or nil
    /// when it exceeds MQTT's largest remaining length.
    static func size(topic: Int, payload: Int, v5: Bool) -> Int? {
        let remaining = 2 + topic + (v5 ? 1 : 0) + payload
        guard topic <= 65_535, remaining <= 268_435_455 else { return nil }
        return 1 + lengthBytes(remaining) + remaining
    }

    /// Whether a topic is printable ASCII without wildcards, as generated topics are: valid
    /// for publishing without libmosquitto's UTF-8 and topic checks (which see the rest).
    static func isPlainTopic(_ topic: UnsafeBufferPointer<UInt8>) -> Bool {
        var ok = true
        for byte in topic { ok = ok && byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "+") && byte != UInt8(ascii: "#") }
        return ok
    }

    static func lengthBytes(_ remaining: Int) -> Int {
        remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4
    }

    /// Appends a QoS 0 PUBLISH packet: fixed header, remaining length, topic, (MQTT 5: an empty
    /// property list), payload.
    static func append(to bytes: inout [UInt8], topic: UnsafeBufferPointer<UInt8>, payload: UnsafeRawBufferPointer,
                       retain: Bool, v5: Bool) {
        var remaining = 2 + topic.count + (v5 ? 1 : 0) + payload.count
        bytes.append(retain ? 0x31 : 0x30)
        repeat {
            let low = UInt8(remaining & 0x7F)
            remaining >>= 7
            bytes.append(remaining > 0 ? low | 0x80 : low)
        } while remaining > 0
        bytes.append(UInt8(topic.count >> 8))
        bytes.append(UInt8(topic.count & 0xFF))
        bytes.append(contentsOf: topic)
        if v5 { bytes.append(0) }
        bytes.append(contentsOf: payload)
    }
}

extension MQTTClient {
    /// The bytes the loop writes for this client, taken from `State.pending` (loop thread only).
    struct Outgoing {
        var bytes: [UInt8] = []
        var written = 0
        var messages = 0
        var isEmpty: Bool { written == bytes.count }
    }

    /// Writes what is left of `outgoing` to `fd` without blocking. Returns libmosquitto's error
    /// code: success also when the socket is full (the rest waits for room).
    /// Once all of it is written, its messages leave the in-flight count.
    func writeOutgoing(_ fd: Int32) -> Int32 {
        while !outgoing.isEmpty {
            let n = outgoing.bytes.withUnsafeBytes { all in
                write(fd, all.baseAddress! + outgoing.written, all.count - outgoing.written)
            }
            if n > 0 {
                outgoing.written += n
            } else if n < 0, errno == EINTR {
                continue
            } else if n < 0, errno == EAGAIN || errno == EWOULDBLOCK {
                stalledWrites += 1
                return Int32(MOSQ_ERR_SUCCESS.rawValue)
            } else {
                return Int32(MOSQ_ERR_CONN_LOST.rawValue)
            }
        }
        let done = outgoing.messages
        outgoing.messages = 0
        outgoing.written = 0
        // A busy connection keeps its buffer; a quiet one (most of a per-device fleet) frees it.
        if outgoing.bytes.capacity > 4096 { outgoing.bytes.removeAll(keepingCapacity: true) } else { outgoing.bytes = [] }
        if done > 0 { releaseSlots(done) }
        return Int32(MOSQ_ERR_SUCCESS.rawValue)
    }

    /// Moves the bytes published since the last call into `outgoing` (which must be empty).
    /// Returns whether there were any.
    func takePending() -> Bool {
        precondition(outgoing.isEmpty)
        // The emptied buffer goes back for the next publishes: moved, not shared, so that
        // appending to it copies nothing.
        var buffer: [UInt8] = []
        swap(&buffer, &outgoing.bytes)
        let messages = state.withLock { state -> Int in
            guard state.pendingMessages > 0 else { return 0 }
            swap(&buffer, &state.pending)
            defer { state.pendingMessages = 0 }
            return state.pendingMessages
        }
        outgoing = Outgoing(bytes: buffer, written: 0, messages: messages)
        return messages > 0
    }

    /// Whether QoS 0 packets are published and not yet taken by the loop.
    var hasPending: Bool { state.withLock { $0.pendingMessages > 0 } }

    /// Drops the bytes not yet written (the connection is gone or starts anew: they must not
    /// reach the next socket before its CONNECT); their messages leave the in-flight count.
    func discardPending() {
        let dropped = outgoing.messages + state.withLock { state -> Int in
            defer {
                state.pending.removeAll()
                state.pendingMessages = 0
            }
            return state.pendingMessages
        }
        outgoing = Outgoing()
        if dropped > 0 { releaseSlots(dropped) }
    }
}
