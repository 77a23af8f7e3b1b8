import CMosquitto

#if canImport(Glibc)
import Glibc
#endif

/// An MQTT failure with a message that says what went wrong and what to do about it.
public struct MQTTError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case invalidArgument
        case connectionRefused      // TCP refused: nothing listening
        case notAuthorised          // bad credentials or not allowed
        case protocolMismatch
        case identifierRejected
        case serverUnavailable
        case tls
        case timeout
        case notConnected
        case connectionLost
        case hostLookup
        case payloadTooLarge
        case rejected               // a PUBACK/SUBACK carrying a failure reason
        case outOfMemory
        case brokerProcess          // the embedded broker could not be started
        case takenOver              // closed again and again soon after connecting: probably a duplicate client id
        case other
    }

    public let kind: Kind
    /// libmosquitto's return code or errno, for diagnostics inside this module.
    let code: Int32
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.init(kind, message, code: 0)
    }

    init(_ kind: Kind, _ message: String, code: Int32) {
        self.kind = kind
        self.message = message
        self.code = code
    }

    public var description: String { message }

    /// The error itself when it is one of ours (continuations can only throw `any Error`).
    public static func from(_ error: any Error) -> MQTTError {
        error as? MQTTError ?? MQTTError(.other, "\(error)")
    }

    /// Maps a libmosquitto return code (MOSQ_ERR_*) to an error. `context` names the operation
    /// and peer, for example "connect to 127.0.0.1:1883".
    static func mosquitto(_ rc: Int32, _ context: String, errno savedErrno: Int32 = errno) -> MQTTError {
        let text = String(cString: mosquitto_strerror(rc))
        switch Int(rc) {
        case Int(MOSQ_ERR_NOMEM.rawValue):
            return MQTTError(.outOfMemory, "\(context): out of memory; lower the number of connections or in-flight messages", code: rc)
        case Int(MOSQ_ERR_PROTOCOL.rawValue), Int(MOSQ_ERR_MALFORMED_PACKET.rawValue), Int(MOSQ_ERR_DUPLICATE_PROPERTY.rawValue):
            return MQTTError(.protocolMismatch, "\(context): protocol error (\(text)); check that the peer is an MQTT broker and that the protocol version (ConnectionOptions.protocolVersion) matches it", code: rc)
        case Int(MOSQ_ERR_INVAL.rawValue):
            return MQTTError(.invalidArgument, "\(context): invalid argument (topic with + or #, QoS outside 0-2, empty client id with a persistent session, or a bad TLS file); check the values passed", code: rc)
        case Int(MOSQ_ERR_NO_CONN.rawValue):
            return MQTTError(.notConnected, "\(context): not connected; call connect first or wait for the reconnect", code: rc)
        case Int(MOSQ_ERR_CONN_REFUSED.rawValue):
            return MQTTError(.notAuthorised, "\(context): connection refused by the broker; check the user name and password and the broker's ACL", code: rc)
        case Int(MOSQ_ERR_CONN_LOST.rawValue), Int(MOSQ_ERR_KEEPALIVE.rawValue):
            return MQTTError(.connectionLost, "\(context): connection lost; the client reconnects if its reconnect policy allows, otherwise check the broker", code: rc)
        case Int(MOSQ_ERR_TLS.rawValue), Int(MOSQ_ERR_TLS_HANDSHAKE.rawValue), Int(MOSQ_ERR_OCSP.rawValue):
            return MQTTError(.tls, "\(context): TLS failed (\(text)); check the CA file (the CA that signed the broker certificate), the host name in the certificate, and the client certificate and key", code: rc)
        case Int(MOSQ_ERR_PAYLOAD_SIZE.rawValue), Int(MOSQ_ERR_OVERSIZE_PACKET.rawValue):
            return MQTTError(.payloadTooLarge, "\(context): payload too large for the broker; shrink the message or raise the broker's message_size_limit", code: rc)
        case Int(MOSQ_ERR_NOT_SUPPORTED.rawValue), Int(MOSQ_ERR_QOS_NOT_SUPPORTED.rawValue), Int(MOSQ_ERR_RETAIN_NOT_SUPPORTED.rawValue):
            return MQTTError(.rejected, "\(context): not supported by the broker (\(text)); use a lower QoS or no retain flag", code: rc)
        case Int(MOSQ_ERR_AUTH.rawValue):
            return MQTTError(.notAuthorised, "\(context): authentication failed; check the user name and password", code: rc)
        case Int(MOSQ_ERR_ACL_DENIED.rawValue):
            return MQTTError(.notAuthorised, "\(context): the broker's ACL denies this topic; grant it in the broker's acl_file", code: rc)
        case Int(MOSQ_ERR_ERRNO.rawValue):
            return errnoError(savedErrno, context)
        case Int(MOSQ_ERR_EAI.rawValue), Int(MOSQ_ERR_LOOKUP.rawValue):
            return MQTTError(.hostLookup, "\(context): host name lookup failed; check the broker's host name", code: rc)
        case Int(MOSQ_ERR_MALFORMED_UTF8.rawValue):
            return MQTTError(.invalidArgument, "\(context): topic or string is not valid UTF-8; fix the topic", code: rc)
        case Int(MOSQ_ERR_TIMEOUT.rawValue):
            return MQTTError(.timeout, "\(context): timed out; check that the broker is reachable", code: rc)
        case Int(MOSQ_ERR_ADMINISTRATIVE_ACTION.rawValue):
            return MQTTError(.connectionLost, "\(context): disconnected by the broker's administrator", code: rc)
        default:
            return MQTTError(.other, "\(context): \(text) (libmosquitto error \(rc))", code: rc)
        }
    }

    /// An operating-system error (`errno`) during `context` ("finding a free port"), with what to do.
    public static func system(_ number: Int32, _ context: String) -> MQTTError { errnoError(number, context) }

    static func errnoError(_ number: Int32, _ context: String) -> MQTTError {
        let text = String(cString: strerror(number))
        switch number {
        case ECONNREFUSED:
            return MQTTError(.connectionRefused, "\(context): connection refused; no broker listens there. Start one (mosquitto -p PORT) or connect to a running broker", code: number)
        case ETIMEDOUT, EHOSTUNREACH, ENETUNREACH:
            return MQTTError(.timeout, "\(context): broker unreachable (\(text)); check the host, port and firewall", code: number)
        case EMFILE, ENFILE:
            return MQTTError(.other, "\(context): too many open files; raise the limit with `ulimit -n` (each connection uses one)", code: number)
        case EPIPE, ECONNRESET, ECONNABORTED:
            return MQTTError(.connectionLost, "\(context): connection lost (\(text)); the client reconnects if its reconnect policy allows, otherwise check the broker", code: number)
        case EADDRNOTAVAIL:
            return MQTTError(.other, "\(context): out of local ports (\(text)); use fewer connections or more source addresses", code: number)
        default:
            return MQTTError(.other, "\(context): \(text) (errno \(number))", code: number)
        }
    }

    /// Maps a CONNACK result: MQTT 3.1.1 return codes 1-5 or MQTT 5 reason codes >= 0x80.
    static func connack(_ rc: Int32, _ context: String) -> MQTTError {
        switch rc {
        case 1, 0x84:
            return MQTTError(.protocolMismatch, "\(context): connection refused: unacceptable protocol version; try MQTT 3.1.1", code: rc)
        case 2, 0x85:
            return MQTTError(.identifierRejected, "\(context): connection refused: client identifier rejected; use a shorter id of letters and digits, unique per connection", code: rc)
        case 3, 0x88:
            return MQTTError(.serverUnavailable, "\(context): connection refused: server unavailable; retry later or use another broker", code: rc)
        case 4, 0x86:
            return MQTTError(.notAuthorised, "\(context): connection refused: bad user name or password; check them", code: rc)
        case 5, 0x87:
            return MQTTError(.notAuthorised, "\(context): connection refused: not authorised; check the user name and password and the broker's ACL", code: rc)
        case 0x89:
            return MQTTError(.serverUnavailable, "\(context): connection refused: server busy; retry later", code: rc)
        case 0x8A:
            return MQTTError(.notAuthorised, "\(context): connection refused: this client is banned by the broker", code: rc)
        case 0x8C:
            return MQTTError(.notAuthorised, "\(context): connection refused: bad authentication method", code: rc)
        case 0x95:
            return MQTTError(.payloadTooLarge, "\(context): connection refused: packet too large", code: rc)
        case 0x97, 0x9F:
            return MQTTError(.serverUnavailable, "\(context): connection refused: quota or connection rate exceeded; connect more slowly", code: rc)
        default:
            return MQTTError(.other, "\(context): connection refused: \(String(cString: mosquitto_reason_string(rc))) (reason \(rc))", code: rc)
        }
    }
}
