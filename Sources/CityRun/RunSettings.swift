import Gateway
import Logging
import Simulator

/// How a run carries the simulator's messages to the gateway: the only part of the main job
/// that differs between its paths.
public enum RunTransport: Sendable, Equatable {
    /// In process, straight into the gateway's byte-level ingest; `storeWindows` is the finest
    /// resolution stored (a year of base windows is a large store).
    case direct(storeWindows: Resolution)
    /// Through a broker (nil: the scenario's, else a private embedded mosquitto) into
    /// `gateways` gateway instances that split the city by district (more than one needs a
    /// shared PostgreSQL store).
    case broker(url: String?, gateways: Int)
    /// From a message file that `simulate --output` wrote (jsonl), in file order, each message
    /// arriving at its send time, into the byte-level ingest of `.direct`.
    case recording(file: String, storeWindows: Resolution)

    /// No broker: the messages go into the ingest in process.
    var isDirect: Bool { if case .broker = self { return false } else { return true } }

    /// The message file of a `.recording`.
    var recordingFile: String? { if case .recording(let file, _) = self { file } else { nil } }

    /// The path's name in the summary and the report.
    var name: String {
        switch self {
        case .direct: "direct"
        case .broker: "broker"
        case .recording(let file, _): "recording \(file)"
        }
    }
}

/// Everything a run takes besides its scenario.
public struct RunSettings: Sendable {
    /// The scenario's file, as named in the report.
    public var scenarioFile: String
    public var transport: RunTransport
    /// Output directory: indicators.csv, index.csv, summary.json, report.html, labels.csv and,
    /// through a broker, latency.csv and latency.json.
    public var out = "out"
    /// The gateway's store: nil for `out/gateway.sqlite`, or a postgres:// URL (emptied first).
    public var store: String?
    /// The smart-city index definition (pillars, indicators, goalposts, SDG stages).
    public var indexDefinition = "Config/index/smart-city.yaml"
    /// Allowed lateness of the gateway's windows, s.
    public var lateness: Int64 = 3600
    /// Seconds between progress lines (0: none).
    public var progress = 5.0
    public var logLevel: Logger.Level = .notice
    /// Through a broker: how long it may be unreachable before the run gives it up, s.
    public var brokerOutage = 60.0
    /// Through a broker: the live view, API and /metrics on this port while the run goes on.
    public var httpPort: Int?
    /// Through a broker: the interval of the delivery time series, s, and one message in how
    /// many is timed.
    public var latencyInterval = 1.0
    public var latencySample = 1
    /// Where the run's lines go (progress, broker events, what was written).
    public var say: @Sendable (String) -> Void = { print($0) }

    public init(scenarioFile: String, transport: RunTransport) {
        self.scenarioFile = scenarioFile
        self.transport = transport
    }

    /// What is wrong with these settings for `scenario`, before anything starts.
    func check(_ scenario: Scenario) throws(RunFailure) {
        if let problem = scenario.latenessProblem(lateness, throughBroker: !transport.isDirect) {
            throw RunFailure("--lateness \(lateness) s: \(problem)")
        }
        guard brokerOutage > 0 else { throw RunFailure("--broker-outage must be longer than 0 s") }
        guard latencyInterval >= 0.01, latencyInterval <= 86_400 else {
            throw RunFailure("--latency-interval: \(latencyInterval) s must be between 10 ms and a day, e.g. 1s or 1m")
        }
        guard latencySample >= 1 else { throw RunFailure("--latency-sample: \(latencySample) must be 1 (every message) or more") }
        switch transport {
        case .direct, .recording:
            if httpPort != nil { throw RunFailure("--http-port serves the live view of a run through a broker; leave out --direct, --recording or --http-port") }
        case .broker(_, let gateways):
            guard (1...64).contains(gateways) else { throw RunFailure("--gateways \(gateways): give 1 to 64 instances") }
            if gateways > 1, httpPort != nil { throw RunFailure("--http-port serves one gateway's live view; leave it out with --gateways") }
        }
    }
}
