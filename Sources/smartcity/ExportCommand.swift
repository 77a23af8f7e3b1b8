import ArgumentParser
import CityRun
import Foundation
import Gateway
import Simulator
import Telemetry

/// `smartcity export`: the data of a run in shapes other tools read.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a message file as tables for research tools.",
        subcommands: [ExportReadings.self])
}

/// `smartcity export readings`: every reading of a message file as a long table, each row
/// with the ground-truth episodes covering it. It streams: one message in memory at a time.
struct ExportReadings: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "readings",
        abstract: "Write a message file's readings as a long table (time, city, domain, district, device, attribute, value, unit, label), with the label of any episode covering each reading.")

    @Argument(help: "Message file (simulate --output, JSON Lines).")
    var input: String

    @Option(help: "Labels file (simulate --labels or run's labels.csv) whose episodes label the readings.")
    var labels: String?

    @Option(help: "Output file ('-' for standard output).")
    var output: String = "-"

    @Option(help: "csv or jsonl.")
    var format: String = "csv"

    @Option(help: "Scenario of the messages, when its topic layout is not the city scheme or it defines device types.")
    var scenario: String?

    func run() throws {
        guard format == "csv" || format == "jsonl" else { throw ValidationError("--format must be csv or jsonl, got '\(format)'") }
        var episodes: [String: [(start: Int64, end: Int64, kind: String)]] = [:]
        for label in try labels.map({ try GroundTruthLabel.read(path: $0) }) ?? [] {
            episodes["\(label.city)/\(label.device)", default: []].append((label.start, label.end, label.kind))
        }
        let out: FileHandle
        if output == "-" {
            out = .standardOutput
        } else {
            guard FileManager.default.createFile(atPath: output, contents: nil), let handle = FileHandle(forWritingAtPath: output) else {
                throw ValidationError("cannot create \(output); check that its directory exists and is writable")
            }
            out = handle
        }
        var text = format == "csv" ? "time,city,domain,district,device,attribute,value,unit,label\n" : ""
        var rows = 0
        func flush() throws {
            do { try out.write(contentsOf: Data(text.utf8)) } catch { throw ValidationError("cannot write \(output): \(error); check the free space") }
            text.removeAll(keepingCapacity: true)
        }
        var reader = SenMLReader()
        // Any payload format, and the scenario's layout, are read as SenML on the city scheme.
        let loaded = try scenario.map { try Scenario(contentsOf: $0) }
        let translator = PayloadTranslator(schema: loaded?.schema ?? .standard, roster: loaded?.roster ?? DeviceRoster(),
                                           formats: [PayloadFormatRule(filter: "#", formats: PayloadFormat.allCases)],
                                           mappings: loaded?.topicMapping.map { [$0] } ?? [])
        var skipped = 0, firstSkip: String?
        try MessageFile.read(input) { rawTopic, rawPayload, _ in
            var topic = rawTopic, payload = rawPayload
            var t = rawTopic
            let translated = t.withUTF8 { tb in rawPayload.withUnsafeBufferPointer { translator.translate(topic: tb, payload: $0) } }
            switch translated {
            case .success(let converted?):
                topic = String(decoding: converted.topic, as: UTF8.self)
                payload = converted.payload
            case .success(nil): break
            case .failure(let rejection):
                skipped += 1
                if firstSkip == nil { firstSkip = "\(rawTopic): \(rejection.detail)" }
                return
            }
            guard let place = TopicScheme.parse(topic) else {
                skipped += 1
                if firstSkip == nil { firstSkip = "\(rawTopic): not a topic of the city scheme; give --scenario for its layout" }
                return
            }
            guard !place.isStatus else { return }
            payload.withUnsafeBufferPointer { bytes in
                do { try reader.read(bytes) } catch {
                    skipped += 1
                    if firstSkip == nil { firstSkip = "\(rawTopic): \(error)" }
                    return
                }
                let covering = episodes["\(place.city)/\(place.device)"] ?? []
                for i in 0..<reader.count {
                    let record = reader[i]
                    let name = reader.string(record.name, in: bytes)
                    guard record.hasValue, name != "seq", name != "sent" else { continue }
                    let time = Int64((reader.baseTime + record.time).rounded(.down))
                    let value: String
                    var isText = false
                    switch record.value {
                    case .number(let v), .sum(let v): value = ExportReadings.number(v)
                    case .bool(let b): value = b ? "true" : "false"
                    case .string(let s), .data(let s): value = reader.string(s, in: bytes); isText = true
                    }
                    let unit = record.unit.isPresent ? reader.string(record.unit, in: bytes) : reader.baseUnit.isPresent ? reader.string(reader.baseUnit, in: bytes) : ""
                    let label = covering.filter { time >= $0.start && (time < $0.end || $0.start == $0.end) }.map(\.kind).joined(separator: "+")
                    let stamp = Timestamps.format(time)
                    if format == "csv" {
                        let c = ExportReadings.csvField
                        text += "\(stamp),\(c(place.city)),\(place.domain.rawValue),\(c(place.district)),\(c(place.device)),\(c(name)),\(c(value)),\(c(unit)),\(label)\n"
                    } else {
                        let j = ExportReadings.jsonString
                        text += "{\"time\":\"\(stamp)\",\"city\":\(j(place.city)),\"domain\":\"\(place.domain.rawValue)\",\"district\":\(j(place.district)),\"device\":\(j(place.device)),\"attribute\":\(j(name)),\"value\":\(isText ? j(value) : value),\"unit\":\(j(unit)),\"label\":\(j(label))}\n"
                    }
                    rows += 1
                }
            }
            if text.utf8.count >= 1 << 16 { try flush() }
        }
        try flush()
        if output != "-" {
            try? out.close()
            print("export: \(rows) readings to \(output)")
        }
        if skipped > 0 {
            FileHandle.standardError.write(Data("export: \(skipped) messages were not readings and were left out, the first: \(firstSkip ?? "")\n".utf8))
        }
    }

    /// A CSV field, quoted (its quotes doubled) when it holds a comma, a quote or a line break.
    static func csvField(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A number as the payload had it: no needless fraction or exponent.
    static func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)"
    }
}
