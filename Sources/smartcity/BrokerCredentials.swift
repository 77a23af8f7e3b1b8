import ArgumentParser
import Foundation
import MQTT
import Simulator

/// How to authenticate to the broker, for every command that connects: a CA, a client
/// certificate, a user name and a password read from a file or the environment (never from the
/// command line, where `ps` shows it). The scenario's `mqtt` settings are the defaults.
struct BrokerCredentials: ParsableArguments {
    @Option(help: "PEM file of the CA that signed the broker's certificate (mqtts://).")
    var caFile: String?

    @Option(help: "Client certificate (PEM), for brokers that require one; with --key.")
    var cert: String?

    @Option(help: "Key of the client certificate (PEM).")
    var key: String?

    @Option(help: "MQTT user name.")
    var username: String?

    @Option(help: "File whose first line is the MQTT password (or set SMARTCITY_MQTT_PASSWORD).")
    var passwordFile: String?

    func validate() throws {
        if (cert == nil) != (key == nil) { throw ValidationError("--cert and --key go together: a client certificate needs its key") }
        for (flag, path) in [("--ca-file", caFile), ("--cert", cert), ("--key", key), ("--password-file", passwordFile)] {
            if let path, !FileManager.default.isReadableFile(atPath: path) {
                throw ValidationError("\(flag) \(path): no such readable file")
            }
        }
    }

    /// The password: from --password-file, else SMARTCITY_MQTT_PASSWORD, else nil.
    func password() throws -> String? {
        if let passwordFile {
            let text = try String(contentsOfFile: passwordFile, encoding: .utf8)
            return String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
        }
        return ProcessInfo.processInfo.environment["SMARTCITY_MQTT_PASSWORD"]
    }

    /// Puts the options over the scenario's MQTT settings (for the simulated devices).
    func apply(to settings: inout MQTTSettings) throws {
        if let caFile { settings.caFile = caFile }
        if let cert { settings.certificateFile = cert }
        if let key { settings.keyFile = key }
        if let username { settings.username = username }
        if let password = try password() { settings.password = password }
    }

    /// Puts the options on a connection that has no scenario settings under them (the gateway).
    func apply(to options: inout ConnectionOptions, url: BrokerURL) throws {
        var settings = MQTTSettings()
        try apply(to: &settings)
        settings.authenticate(&options, to: url)
    }
}
