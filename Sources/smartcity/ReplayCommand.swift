import ArgumentParser
import CityRun
import EmbeddedBroker
import Foundation
@_spi(FastPath) import MQTT
import Simulator
import Telemetry

/// `smartcity replay`: publishes a recorded message file through a broker, keeping its time
/// gaps (scaled by the speed) and each device's order.
struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish a recorded message file (simulate --output JSON Lines, or a CSV long table as export readings writes it) to a broker, keeping its time gaps scaled by --speed.")

    @Argument(help: "Message file: .jsonl (topic, payload and send time per line) or .csv (time, city, domain, district, device, attribute, value, unit).")
    var input: String

    @Option(help: "Broker URL (mqtt://host:port, mqtts://host:8883); default: a private embedded mosquitto.")
    var broker: String?

    @OptionGroup var credentials: BrokerCredentials

    @Option(help: "Recorded seconds per wall second, or max (as fast as the broker acknowledges).")
    var speed: String = "max"

    @Option(help: "QoS 0, 1 or 2.")
    var qos: Int = 1

    @Option(help: "MQTT connections the devices share (each device always on the same one, so its order holds).")
    var connections: Int = 8

    @Option(help: "Start of every MQTT client id.")
    var clientPrefix: String = "replay"

    @Option(help: "Also write the summary as JSON to this file.")
    var summary: String?

    @Option(help: "Seconds between progress lines (0: none).")
    var progress: Double = 2

    @Option(help: "Scenario whose device types a CSV long table may hold besides the built-in families.")
    var scenario: String?

    func validate() throws {
        guard (0...2).contains(qos) else { throw ValidationError("--qos must be 0, 1 or 2, got \(qos)") }
        guard connections >= 1, connections <= 10_000 else { throw ValidationError("--connections must be 1 to 10000, got \(connections)") }
        guard Scenario.Speed(parsing: speed) != nil else { throw ValidationError("--speed '\(speed)' is not a speed; write max or a factor like 60") }
    }

    struct Outcome: Encodable {
        var input: String
        var speed: String
        var qos: Int
        var connections: Int
        var published = 0
        var statusMessages = 0
        var telemetryByDomain: [String: Int] = [:]
        /// Publishes refused because their connection was down.
        var refused = 0
        /// QoS 1/2 publishes the broker had not acknowledged when the replay ended.
        var unacknowledged = 0
        var maximumLagSeconds = 0.0
        var wallSeconds = 0.0
        var messagesPerSecond = 0.0
        var recordedFrom: String?
        var recordedTo: String?
    }

    func run() async throws {
        let level = QoS(level: qos)!
        let factor: Double? = { if case .factor(let x) = Scenario.Speed(parsing: speed)! { return x } else { return nil } }()
        let source: any ReplaySource = input.hasSuffix(".csv") ? try LongTableSource(path: input, schema: scenario.map { try Scenario(contentsOf: $0).schema } ?? .standard) : try JSONLinesSource(path: input)
        var mqtt = MQTTSettings()
        try credentials.apply(to: &mqtt)
        let (url, embedded) = try await brokerFor(broker)
        defer { embedded?.stop() }
        var clients: [MQTTClient] = []
        for i in 0..<connections {
            var options = ConnectionOptions(url: url, clientID: "\(clientPrefix)-\(i)")
            mqtt.authenticate(&options, to: url)
            options.cleanSession = level == .atMostOnce
            options.reconnect = ReconnectPolicy(initialDelay: .milliseconds(200), maximumDelay: .seconds(5))
            options.inflightWindow = factor == nil ? 100 : 10_000
            clients.append(try MQTTClient(options))
        }
        for client in clients {
            do { try await client.connect() } catch {
                throw ValidationError("cannot reach the broker at \(url): \(error); check the URL, credentials and TLS settings")
            }
        }
        var outcome = Outcome(input: input, speed: speed, qos: qos, connections: connections)
        var schedule = OpenLoopSchedule()
        let clock = schedule.clock, began = schedule.began
        var lastProgress = began
        var first: Int64?
        var last: Int64 = 0
        var topicBytes: [UInt8] = []
        while let (topic, payload, at) = try source.next() {
            if let factor, at > 0 {
                let start = first ?? at
                first = start
                await schedule.wait(until: .milliseconds(Int64(Double(at - start) / factor)))
                outcome.maximumLagSeconds = schedule.maximumLag
            }
            if first == nil, at > 0 { first = at }
            last = max(last, at)
            let place = TopicScheme.parse(topic)
            let device = place?.device ?? topic
            let client = clients[Int(fnv1a(device.utf8) % UInt64(connections))]
            let retained = place?.isStatus ?? topic.hasSuffix("/status")
            topicBytes.removeAll(keepingCapacity: true)
            topicBytes.append(contentsOf: topic.utf8)
            topicBytes.append(0)
            do {
                try await client.publish(terminatedTopic: topicBytes, payload: payload, qos: level, retain: retained)
                outcome.published += 1
                if retained { outcome.statusMessages += 1 } else if let place { outcome.telemetryByDomain[place.domain.rawValue, default: 0] += 1 }
            } catch where error.kind == .notConnected || error.kind == .connectionLost {
                outcome.refused += 1
            } catch {
                throw ValidationError("\(input): publishing to \(topic) failed: \(error)")
            }
            if progress > 0, clock.now - lastProgress >= .seconds(progress) {
                lastProgress = clock.now
                let seconds = (lastProgress - began).seconds
                print("replay: \(outcome.published) messages, \(Int(Double(outcome.published) / max(seconds, 1e-3))) msg/s\(factor == nil ? "" : ", lag \(Simulate.fixed(outcome.maximumLagSeconds, 3)) s")")
            }
        }
        for client in clients { _ = await client.drain(within: .seconds(10)) }
        outcome.unacknowledged = clients.reduce(0) { $0 + $1.inflight }
        for client in clients { await client.disconnect() }
        outcome.wallSeconds = (clock.now - began).seconds
        outcome.messagesPerSecond = Double(outcome.published) / max(outcome.wallSeconds, 1e-6)
        if let first { outcome.recordedFrom = Timestamps.format(first / 1000) }
        if last > 0 { outcome.recordedTo = Timestamps.format(last / 1000) }
        let domains = outcome.telemetryByDomain.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("replay: \(input) (\(outcome.recordedFrom ?? "-") to \(outcome.recordedTo ?? "-")) at speed \(speed) over \(connections) connections to \(url)")
        print("messages: \(outcome.published) (\(domains); status \(outcome.statusMessages)), refused \(outcome.refused), unacknowledged at the end \(outcome.unacknowledged)")
        print("wall time \(Simulate.fixed(outcome.wallSeconds, 2)) s, \(Int(outcome.messagesPerSecond)) msg/s\(factor == nil ? "" : ", maximum scheduler lag \(Simulate.fixed(outcome.maximumLagSeconds, 3)) s")")
        if let summary {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(outcome).write(to: URL(fileURLWithPath: summary))
        }
        if outcome.unacknowledged > 0 || outcome.refused > 0 {
            throw ValidationError("\(outcome.refused) messages refused and \(outcome.unacknowledged) unacknowledged: the broker did not take everything")
        }
    }
}

/// Messages to replay, in file order: topic, payload, send time (ms; 0 when unknown).
protocol ReplaySource {
    func next() throws -> (String, [UInt8], Int64)?
}

struct JSONLinesSource: ReplaySource {
    let reader: MessageFile.Reader
    init(path: String) throws { reader = try MessageFile.Reader(path: path) }
    func next() throws -> (String, [UInt8], Int64)? { try reader.next() }
}

/// A long table as `export readings` writes it: the rows of one device at one time become one
/// SenML pack of its family, on the device's attrs topic, with a sequence number per device.
final class LongTableSource: ReplaySource {
    private let lines: LineReader
    private let path: String
    private var columns: [String: Int] = [:]
    private var pending: [String]?
    private var sequence: [String: Int] = [:]
    private let schema: TelemetrySchema
    private static let required = ["time", "city", "domain", "district", "device", "attribute", "value"]

    init(path: String, schema: TelemetrySchema = .standard) throws {
        self.path = path
        self.schema = schema
        lines = try LineReader(path: path)
        guard let header = try lines.next() else { throw ValidationError("\(path): empty; expected a header \(Self.required.joined(separator: ","))[,unit]") }
        for (i, name) in CSVFields.split(header).enumerated() { columns[name] = i }
        let missing = Self.required.filter { columns[$0] == nil }
        guard missing.isEmpty else {
            throw ValidationError("\(path):1: the header lacks \(missing.joined(separator: ", ")); a long table has time,city,domain,district,device,attribute,value[,unit] (as 'smartcity export readings' writes it)")
        }
    }

    func next() throws -> (String, [UInt8], Int64)? {
        var rows: [[String]] = []
        while true {
            let row: [String]
            if let p = pending { row = p; pending = nil } else if let line = try lines.next() {
                if line.isEmpty { continue }
                row = CSVFields.split(line)
                guard row.count >= columns.count else {
                    throw ValidationError("\(path):\(lines.number): \(row.count) fields, the header has \(columns.count)")
                }
            } else { break }
            if let first = rows.first, field(first, "time") != field(row, "time") || field(first, "device") != field(row, "device") {
                pending = row
                break
            }
            rows.append(row)
        }
        guard let first = rows.first else { return nil }
        let time = field(first, "time"), device = field(first, "device"), domainName = field(first, "domain")
        guard let seconds = Timestamps.parse(time) else { throw ValidationError("\(path):\(lines.number): '\(time)' is not a time (ISO 8601)") }
        guard let domain = Domain(rawValue: domainName) else { throw ValidationError("\(path):\(lines.number): '\(domainName)' is not a domain (\(Domain.allCases.map(\.rawValue).joined(separator: ", ")))") }
        let code = device.split(separator: "-").dropFirst().first.map(String.init) ?? ""
        guard let entity = schema.entities.first(where: { $0.domain == domain && $0.deviceCode == code }) else {
            throw ValidationError("\(path):\(lines.number): no \(domainName) family has devices like '\(device)' ({city}-{code}-{number}, code one of \(schema.entities.filter { $0.domain == domain }.map(\.deviceCode).joined(separator: ", ")))")
        }
        var pack = "[{\"bn\":\(ExportReadings.jsonString("urn:ngsi-ld:\(entity.type):\(device):")),\"bt\":\(seconds)"
        var firstRecord = true
        for row in rows {
            let name = field(row, "attribute"), value = field(row, "value")
            guard let attribute = entity.attributes.first(where: { $0.name == name }) else {
                throw ValidationError("\(path):\(lines.number): \(entity.type) has no attribute '\(name)' (it has \(entity.attributes.map(\.name).joined(separator: ", ")))")
            }
            pack += firstRecord ? "," : ",{"
            firstRecord = false
            pack += "\"n\":\(ExportReadings.jsonString(name))"
            if let unit = attribute.unit { pack += ",\"u\":\(ExportReadings.jsonString(unit))" }
            switch attribute.kind {
            case .number, .sum:
                guard let number = Double(value), number.isFinite else { throw ValidationError("\(path):\(lines.number): \(name) '\(value)' is not a number") }
                pack += ",\"\(attribute.kind == .sum ? "s" : "v")\":\(ExportReadings.number(number))"
            case .bool:
                guard value == "true" || value == "false" else { throw ValidationError("\(path):\(lines.number): \(name) '\(value)' is not true or false") }
                pack += ",\"vb\":\(value)"
            case .string:
                pack += ",\"vs\":\(ExportReadings.jsonString(value))"
            }
            pack += "}"
        }
        let key = field(first, "city") + "/" + device
        let seq = sequence[key, default: 0]
        sequence[key] = seq + 1
        pack += ",{\"n\":\"seq\",\"v\":\(seq)},{\"n\":\"sent\",\"u\":\"s\",\"v\":\(seconds)}]"
        let topic = TopicScheme.template.replacingOccurrences(of: "{city}", with: field(first, "city"))
            .replacingOccurrences(of: "{domain}", with: domainName).replacingOccurrences(of: "{district}", with: field(first, "district"))
            .replacingOccurrences(of: "{device}", with: device).replacingOccurrences(of: "{kind}", with: "attrs")
        return (topic, Array(pack.utf8), seconds * 1000)
    }

    private func field(_ row: [String], _ name: String) -> String {
        guard let i = columns[name], i < row.count else { return "" }
        return row[i]
    }
}

/// A CSV file a record at a time: a quoted field may span lines.
final class LineReader {
    private let lines: LineFile
    var number: Int { lines.number }

    init(path: String) throws { lines = try LineFile(path: path) }

    /// The next record without its line break(s).
    func next() throws -> String? {
        guard let first = lines.next() else { return nil }
        var text = String(decoding: first, as: UTF8.self)
        while text.utf8.reduce(0, { $0 + ($1 == UInt8(ascii: "\"") ? 1 : 0) }) % 2 == 1, let more = lines.next() {
            text += "\n" + String(decoding: more, as: UTF8.self)
        }
        return text
    }
}

/// Fields of one CSV line (RFC 4180 quoting: a quoted field keeps commas, line breaks and doubled quotes).
enum CSVFields {
    static func split(_ line: String) -> [String] {
        guard line.utf8.contains(UInt8(ascii: "\"")) else { return line.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        var fields: [String] = []
        var field = ""
        var quoted = false
        var chars = line.makeIterator()
        var previousWasQuote = false
        while let c = chars.next() {
            if quoted {
                if c == "\"" { quoted = false; previousWasQuote = true } else { field.append(c) }
            } else if c == "\"" {
                if previousWasQuote { field.append("\"") }
                quoted = true
                previousWasQuote = false
            } else if c == "," {
                fields.append(field)
                field = ""
                previousWasQuote = false
            } else {
                field.append(c)
                previousWasQuote = false
            }
        }
        fields.append(field)
        return fields
    }
}
