import MQTT

extension MQTTSettings {
    /// Puts these settings' user name, password (the URL's win) and TLS on a connection to
    /// `broker`.
    public func authenticate(_ options: inout ConnectionOptions, to broker: BrokerURL) {
        options.username = broker.username ?? username
        options.password = broker.password ?? password
        options.tls = tls(for: broker)
    }

    /// The TLS settings for a connection to `broker`: for mqtts://, or when a CA or client
    /// certificate is given; nil for plain MQTT.
    public func tls(for broker: BrokerURL) -> TLSOptions? {
        guard broker.secure || caFile != nil || certificateFile != nil else { return nil }
        return TLSOptions(caFile: caFile, useSystemCertificates: caFile == nil, certificateFile: certificateFile, keyFile: keyFile,
                          insecureSkipHostnameCheck: insecure)
    }
}
