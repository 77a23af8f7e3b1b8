import ArgumentParser
import Gateway
import Logging

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Log lines go to standard output as `timestamp level label : message`; the back end is
/// chosen once, here, and each command picks its level (`--log-level`).
enum LogSetup {
    static func bootstrap() {
        LoggingSystem.bootstrap(StreamLogHandler.standardOutput)
    }

    static func logger(_ label: String, level: Logger.Level) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

extension Resolution: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}
