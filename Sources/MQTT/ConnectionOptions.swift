/// MQTT protocol revision spoken on the wire.
public enum ProtocolVersion: String, Sendable, Codable {
    case v311 = "3.1.1"
    case v5 = "5"
}

/// The message the broker publishes for a client whose connection dies without DISCONNECT.
public struct Will: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: QoS
    public var retain: Bool

    public init(topic: String, payload: [UInt8], qos: QoS = .atLeastOnce, retain: Bool = true) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}

/// Transport security for a connection.
public struct TLSOptions: Sendable, Equatable {
    /// PEM file with the certificate authorities trusted to sign the broker's certificate.
    public var caFile: String?
    /// Trust the operating system's certificate store (when no `caFile` is given, or as well).
    public var useSystemCertificates: Bool
    /// Client certificate and key (PEM), for brokers that require them.
    public var certificateFile: String?
    public var keyFile: String?
    /// "tlsv1.2" or "tlsv1.3"; nil lets libmosquitto choose.
    public var version: String?
    /// Skip the broker host name check. Only for testing against certificates with a wrong name.
    public var insecureSkipHostnameCheck: Bool

    public init(
        caFile: String? = nil, useSystemCertificates: Bool = false, certificateFile: String? = nil,
        keyFile: String? = nil, version: String? = nil, insecureSkipHostnameCheck: Bool = false
    ) {
        self.caFile = caFile
        self.useSystemCertificates = useSystemCertificates
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.version = version
        self.insecureSkipHostnameCheck = insecureSkipHostnameCheck
    }
}

/// How a connection that was lost is re-established: capped exponential backoff with jitter.
public struct ReconnectPolicy: Sendable, Equatable {
    public var enabled: Bool
    public var initialDelay: Duration
    public var maximumDelay: Duration
    /// Share of each delay drawn at random (0 = none, 0.2 = +/-20 %), so that a fleet that lost
    /// its broker at once does not come back at once.
    public var jitter: Double
    /// A connection lost sooner than this after the broker accepted it does not reset the
    /// backoff: a connection the broker keeps closing (another client with the same client id,
    /// a broker that drops it at once) is retried ever more slowly, not in a storm.
    public var stableAfter: Duration

    public init(enabled: Bool = true, initialDelay: Duration = .milliseconds(100),
                maximumDelay: Duration = .seconds(30), jitter: Double = 0.2, stableAfter: Duration = .seconds(10)) {
        self.enabled = enabled
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.jitter = jitter
        self.stableAfter = stableAfter
    }

    public static let never = ReconnectPolicy(enabled: false)

    /// Delay before reconnect attempt `attempt` (1-based), with `unit` a uniform draw in [0, 1).
    public func delay(attempt: Int, unit: Double) -> Duration {
        let base = initialDelay.seconds * pow2(attempt - 1)
        let capped = min(base, maximumDelay.seconds)
        let jittered = capped * (1 + jitter * (2 * unit - 1))
        return .nanoseconds(Int64(max(0, jittered) * 1e9))
    }

    private func pow2(_ n: Int) -> Double {
        n >= 62 ? Double.greatestFiniteMagnitude : Double(UInt64(1) << UInt64(max(0, n)))
    }
}

extension Duration {
    /// The duration in seconds as a floating-point number.
    public var seconds: Double {
        let (s, attos) = components
        return Double(s) + Double(attos) * 1e-18
    }
}

/// Everything needed to open one MQTT connection.
public struct ConnectionOptions: Sendable {
    public var host: String
    public var port: Int
    public var clientID: String
    /// false keeps the broker-side session (subscriptions, queued QoS 1/2 messages) across
    /// disconnects: MQTT 3.1.1 clean session / MQTT 5 clean start.
    public var cleanSession: Bool
    public var keepAlive: Int
    public var username: String?
    public var password: String?
    public var tls: TLSOptions?
    public var protocolVersion: ProtocolVersion
    public var will: Will?
    /// At QoS 1 and 2, the number of messages sent but not yet acknowledged before
    /// `publish` waits: the client's backpressure window.
    public var inflightWindow: Int
    public var reconnect: ReconnectPolicy
    /// How long `connect` waits for the broker's CONNACK.
    public var connectTimeout: Duration
    /// Write to the socket only on the network loop thread (libmosquitto's deferred writes):
    /// acknowledgements of received messages leave only after the client's `beforeWrite` hook
    /// ran (for a receiver that must persist a message before the broker forgets it), and a
    /// burst of publishes made while the loop holds its wakes (`NetworkLoop.holdWakes`) leaves
    /// together, so many messages share a TCP segment. TLS clients always write on the loop.
    /// Without TLS, QoS 0 publishes are then encoded by the client and a pass writes them in
    /// one system call (`PublishPacket`).
    @_spi(FastPath) public var writesOnLoop = false
    /// Disable Nagle's algorithm: small packets (acknowledgements) leave at once instead of
    /// waiting for the previous one to be acknowledged.
    public var tcpNoDelay = false
    /// The local address the connection leaves from (nil: the system picks). One address has
    /// some 28,000 ephemeral ports towards one broker; more connections need more addresses.
    public var bindAddress: String?

    public init(
        host: String = "127.0.0.1", port: Int = 1883, clientID: String,
        cleanSession: Bool = true, keepAlive: Int = 60, username: String? = nil,
        password: String? = nil, tls: TLSOptions? = nil, protocolVersion: ProtocolVersion = .v311,
        will: Will? = nil, inflightWindow: Int = 100, reconnect: ReconnectPolicy = ReconnectPolicy(),
        connectTimeout: Duration = .seconds(10)
    ) {
        self.host = host
        self.port = port
        self.clientID = clientID
        self.cleanSession = cleanSession
        self.keepAlive = keepAlive
        self.username = username
        self.password = password
        self.tls = tls
        self.protocolVersion = protocolVersion
        self.will = will
        self.inflightWindow = inflightWindow
        self.reconnect = reconnect
        self.connectTimeout = connectTimeout
    }

    /// Options for `url` (`mqtt://[user:pass@]host[:port]`, `mqtts://...`, or `host:port`).
    public init(url: BrokerURL, clientID: String) {
        self.init(host: url.host, port: url.port, clientID: clientID,
                  username: url.username, password: url.password,
                  tls: url.secure ? TLSOptions(useSystemCertificates: true) : nil)
    }

    var endpoint: String { "\(host):\(port)" }
}
