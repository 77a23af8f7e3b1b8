import MQTT

/// A failure while running (not a usage error): printed as `Error: ...` without the usage text.
public struct RunFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }

    /// What to change on this command line for a broker error (the MQTT library's messages do
    /// not know the flags).
    public static func hint(_ error: MQTTError) -> String {
        switch error.kind {
        case .connectionRefused, .timeout, .hostLookup:
            " (--broker mqtt://host:port names the broker; without it the tool starts a private one)"
        case .notAuthorised:
            " (--username and --password-file, or SMARTCITY_MQTT_PASSWORD, give the user name and password; the scenario's mqtt.username and mqtt.password are the defaults)"
        case .tls:
            " (--ca-file names the CA that signed the broker's certificate, else the system's trusted ones are used; --cert and --key a client certificate)"
        case .protocolMismatch:
            " (the scenario's mqtt.protocol sets the version: \"3.1.1\" or \"5\")"
        default:
            ""
        }
    }
}
