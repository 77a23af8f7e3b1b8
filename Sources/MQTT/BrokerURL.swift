import Foundation

/// A broker address as users write it: `mqtt://host:1883`, `mqtts://user:pass@host:8883`,
/// or plain `host:port`.
public struct BrokerURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var secure: Bool
    public var username: String?
    public var password: String?

    public init(host: String, port: Int, secure: Bool = false, username: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.secure = secure
        self.username = username
        self.password = password
    }

    public init(parsing text: String) throws(MQTTError) {
        var rest = Substring(text)
        secure = false
        if let range = rest.range(of: "://") {
            let scheme = rest[..<range.lowerBound].lowercased()
            switch scheme {
            case "mqtt", "tcp": secure = false
            case "mqtts", "ssl", "tls": secure = true
            default:
                throw MQTTError(.invalidArgument, "broker URL '\(text)': unknown scheme '\(scheme)'; use mqtt:// or mqtts://")
            }
            rest = rest[range.upperBound...]
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                username = String(credentials[..<colon])
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                username = String(credentials)
            }
        }
        let defaultPort = secure ? 8883 : 1883
        if rest.hasPrefix("[") , let close = rest.firstIndex(of: "]") {
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            port = after.hasPrefix(":") ? Int(after.dropFirst()) ?? -1 : defaultPort
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            port = Int(rest[rest.index(after: colon)...]) ?? -1
        } else {
            host = String(rest)
            port = defaultPort
        }
        guard !host.isEmpty else {
            throw MQTTError(.invalidArgument, "broker URL '\(text)' has no host; write it like mqtt://127.0.0.1:1883")
        }
        guard (1...65535).contains(port) else {
            throw MQTTError(.invalidArgument, "broker URL '\(text)' has no valid port; write it like mqtt://\(host):1883")
        }
    }

    public var description: String { "\(secure ? "mqtts" : "mqtt")://\(host):\(port)" }
}
