import CMosquitto
import CPlatform
import Dispatch
import Synchronization
import Glibc

extension MQTTClient {
    // MARK: Subscribing

    /// Subscribes and waits for the SUBACK. Returns the QoS the broker granted. The client
    /// subscribes again by itself after a reconnect that did not resume the session.
    @discardableResult
    public func subscribe(_ filter: String, qos: QoS = .atLeastOnce) async throws(MQTTError) -> QoS {
        state.withLock { $0.acks.expect() }
        var mid: Int32 = 0
        let rc = queueing { mosquitto_subscribe(handle, &mid, filter, qos.rawValue) }
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            state.withLock { $0.acks.abandon() }
            throw MQTTError.mosquitto(rc, "subscribe to '\(filter)' via \(options.endpoint)")
        }
        requestWrite(urgent: true)
        let code = try await waitForAck(mid)
        guard let granted = QoS(rawValue: code) else {
            throw MQTTError(.rejected, "subscribe to '\(filter)': the broker refused it (code \(code)); check the filter and the broker's ACL", code: code)
        }
        state.withLock { $0.subscriptions[filter] = qos }
        return granted
    }

    public func unsubscribe(_ filter: String) async throws(MQTTError) {
        state.withLock { $0.acks.expect() }
        var mid: Int32 = 0
        let rc = queueing { mosquitto_unsubscribe(handle, &mid, filter) }
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            state.withLock { $0.acks.abandon() }
            throw MQTTError.mosquitto(rc, "unsubscribe from '\(filter)' via \(options.endpoint)")
        }
        requestWrite(urgent: true)
        _ = try await waitForAck(mid)
        state.withLock { _ = $0.subscriptions.removeValue(forKey: filter) }
    }

    func didReceive(_ raw: mosquitto_message) {
        if let rawHandler {
            let topic = raw.topic.map { UnsafeBufferPointer(start: UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self), count: strlen($0)) }
                ?? UnsafeBufferPointer(start: nil, count: 0)
            let payload = raw.payload.map { UnsafeBufferPointer(start: $0.assumingMemoryBound(to: UInt8.self), count: Int(raw.payloadlen)) }
                ?? UnsafeBufferPointer(start: nil, count: 0)
            rawHandler(topic, payload, raw.retain)
            return
        }
        let payload: [UInt8]
        if let bytes = raw.payload, raw.payloadlen > 0 {
            payload = [UInt8](UnsafeRawBufferPointer(start: bytes, count: Int(raw.payloadlen)))
        } else {
            payload = []
        }
        let message = MQTTMessage(
            topic: raw.topic.map { String(cString: $0) } ?? "",
            payload: payload, qos: QoS(rawValue: raw.qos) ?? .atMostOnce, retain: raw.retain)
        if let handler { handler(message) } else { messageSink.yield(message) }
    }
}
