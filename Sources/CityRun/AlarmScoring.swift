import Foundation
import Gateway
import Simulator
import Telemetry

/// How well the gateway's alarms found the ground truth, per kind.
///
/// Matching rule: an alarm answers an episode of its label kind (`AlarmKind.label`) on the same
/// device (for a district alarm, in the same city and district) when it was raised between the
/// episode's start and its end plus `tolerance`. Precision: the share of alarms that answer
/// some episode; recall: the share of episodes some alarm answers; the delay of a found
/// episode: its first answering alarm's time minus its start.
public struct AlarmScore: Codable, Sendable, Equatable {
    public var kind: String
    public var episodes: Int
    public var alarms: Int
    public var found: Int
    public var answering: Int
    public var precision: Double?
    public var recall: Double?
    public var f1: Double?
    public var delayP50Seconds: Double?
    public var delayP95Seconds: Double?

    public static let tolerance: Int64 = 900

    public static func score(alarms: [Alarm], labels: [GroundTruthLabel], tolerance: Int64 = AlarmScore.tolerance) -> [AlarmScore] {
        AlarmKind.allCases.compactMap { kind in
            let mine = alarms.filter { $0.kind == kind.name }
            let truth = labels.filter { $0.kind == kind.label }
            guard !mine.isEmpty || !truth.isEmpty else { return nil }
            func place(_ city: String, _ district: String, _ device: String) -> String {
                kind.perDistrict ? "\(city)/\(district)" : "\(city)/\(device)"
            }
            var episodesAt: [String: [GroundTruthLabel]] = [:]
            for label in truth { episodesAt[place(label.city, label.district, label.device), default: []].append(label) }
            var firstAnswer: [Int: Int64] = [:]
            var keyOf: [GroundTruthLabel: Int] = [:]
            for (i, label) in truth.enumerated() where keyOf[label] == nil { keyOf[label] = i }
            var answering = 0
            for alarm in mine {
                let raised = alarm.raised / 1000
                let hits = (episodesAt[place(alarm.city, alarm.district, alarm.device)] ?? []).filter {
                    raised >= $0.start && raised <= $0.end + tolerance
                }
                if !hits.isEmpty { answering += 1 }
                for hit in hits {
                    let i = keyOf[hit]!
                    firstAnswer[i] = min(firstAnswer[i] ?? .max, alarm.raised - hit.start * 1000)
                }
            }
            let delays = firstAnswer.values.map { Double(max(0, $0)) / 1000 }.sorted()
            let precision = mine.isEmpty ? nil : Double(answering) / Double(mine.count)
            let recall = truth.isEmpty ? nil : Double(firstAnswer.count) / Double(truth.count)
            let f1 = precision.flatMap { p in recall.map { r in p + r > 0 ? 2 * p * r / (p + r) : 0 } }
            func quantile(_ q: Double) -> Double? { delays.isEmpty ? nil : delays[min(delays.count - 1, Int(q * Double(delays.count)))] }
            return AlarmScore(kind: kind.name, episodes: truth.count, alarms: mine.count, found: firstAnswer.count, answering: answering,
                              precision: precision, recall: recall, f1: f1, delayP50Seconds: quantile(0.5), delayP95Seconds: quantile(0.95))
        }
    }

    public var line: String {
        func fixed(_ v: Double?) -> String { v.map { String(format: "%.3f", $0) } ?? "-" }
        func seconds(_ v: Double?) -> String { v.map { String(Int($0.rounded())) + " s" } ?? "-" }
        return "\(kind): \(episodes) episodes, \(alarms) alarms; precision \(fixed(precision)), recall \(fixed(recall)), F1 \(fixed(f1)); delay p50 \(seconds(delayP50Seconds)), p95 \(seconds(delayP95Seconds))"
    }
}

extension GroundTruthLabel {
    /// Reads a labels file as `simulate --labels` writes it: CSV with its header, or JSON Lines.
    public static func read(path: String) throws -> [GroundTruthLabel] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw RunFailure("cannot read the labels file \(path); write one with 'smartcity simulate --labels' or take run's labels.csv")
        }
        var labels: [GroundTruthLabel] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let csv = lines.first.map { $0 == Substring(GroundTruthLabel.csvHeader) } ?? false
        for (number, line) in lines.enumerated() where !line.isEmpty && !(csv && number == 0) {
            let place = "\(path):\(number + 1)"
            if csv {
                let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                guard f.count == 9, let labelClass = LabelClass(rawValue: f[5]), let start = Timestamps.parse(f[6]),
                      let end = Timestamps.parse(f[7]), let magnitude = Double(f[8]) else {
                    throw RunFailure("\(place): not a label row (\(GroundTruthLabel.csvHeader), times in ISO 8601)")
                }
                labels.append(GroundTruthLabel(city: f[0], domain: f[1], district: f[2], device: f[3], kind: f[4], labelClass: labelClass,
                                               start: start, end: end, magnitude: magnitude))
            } else {
                guard let label = try? JSONDecoder().decode(GroundTruthLabel.self, from: Data(line.utf8)) else {
                    throw RunFailure("\(place): not a label (a JSON object with city, domain, district, device, kind, class, start, end, magnitude), nor is the file CSV with the header \(GroundTruthLabel.csvHeader)")
                }
                labels.append(label)
            }
        }
        return labels
    }
}
