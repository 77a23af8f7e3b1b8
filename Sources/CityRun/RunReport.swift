import Foundation
import Gateway
import IndexEngine
import Simulator
import SmartCityIndex
import Telemetry

/// `report.html` of a run, from its summary, index and store.
struct RunReport {
    let settings: RunSettings
    let summary: RunOutcome
    let result: SmartCityResult
    let store: any TelemetryStore
    let means: [String: [String: Double]]
    let cities: [String]

    /// Indicators drawn over time in the report.
    static let charted = ["ISO37120:8.1", "U4SSC:EN:AQ:1C:NO2", "U4SSC:EC:I:T:5A", "ISO37120:7.6"]

    /// The report: the run's settings and balance, the index, the indicators over time, the
    /// telemetry health per domain, the alarms' scores and, through a broker, the delivery.
    func html(delivery: [LatencyProbe.Row], origin deliveryOrigin: Double) throws -> HTMLReport {
        let sim = summary.simulation, t = summary.telemetry
        let balance: [(String, String)] = summary.balance.lines.enumerated().map { ($0.offset == 0 ? "message balance" : "", $0.element) }
        let annual: [(String, String)] = summary.annual.sorted { $0.key < $1.key }.map { ("annual \($0.key)", $0.value) }
        let shown: [(String, String)] = [
            ("scenario", "\(sim.scenario) (\(settings.scenarioFile))"), ("scenario hash", sim.scenarioHash), ("seed", String(sim.seed)),
            ("simulated", "\(sim.start) to \(summary.interrupted ? summary.simulatedUntil + " (interrupted)" : sim.end) at speed \(sim.speed)"),
            ("devices", String(sim.devices)), ("messages", "sent \(t.sent), received \(t.received), lost \(t.lost)\(t.readingsRefusedByBroker > 0 ? ", readings refused by the broker \(t.readingsRefusedByBroker)" : "")"),
            ("wall time", "\(fixed(summary.wallSeconds, 1)) s (\(Int(summary.messagesPerSecond)) msg/s)"),
            ("delivery latency", summary.latency.map { "p50 \(fixed($0.p50Ms, 1)) ms, p90 \(fixed($0.p90Ms, 1)) ms, p99 \(fixed($0.p99Ms, 1)) ms, max \(fixed($0.maxMs, 1)) ms (\($0.samples) samples)" } ?? "-"),
            ("index definition", settings.indexDefinition), ("gateway lateness", Durations.format(settings.lateness)), ("path", summary.path),
        ] + balance + annual
        let definitions = Dictionary(uniqueKeysWithValues: IndicatorCatalog.all.map { ($0.code, $0) })
        var series: [HTMLReport.Series] = []
        for code in Self.charted {
            var points: [String: [(Int64, Double)]] = [:]
            for city in cities {
                points[city] = try store.indicatorSeries(city: city, code: code, resolution: .hour, from: nil, to: nil).map { ($0.start, $0.value) }
            }
            series.append(HTMLReport.Series(title: definitions[code]?.name ?? code, unit: definitions[code]?.unit ?? "", points: points))
        }
        func average(_ slug: String) -> String {
            let values = cities.compactMap { means[$0]?[slug] }
            return values.isEmpty ? "-" : fixed(values.reduce(0, +) / Double(values.count), 1)
        }
        var rows = Domain.allCases.map { d -> [String] in
            let sent = sim.telemetryByDomain[d.rawValue] ?? 0
            let accepted = t.acceptedByDomain[d.rawValue] ?? 0, duplicates = t.duplicatesByDomain[d.rawValue] ?? 0
            return [d.rawValue, String(sent), String(accepted), String(duplicates), String(t.lateByDomain[d.rawValue] ?? 0),
                    String(Int64(sent) - accepted - duplicates), average("HEALTH_\(d.rawValue)_reporting"), average("HEALTH_\(d.rawValue)_faulty")]
        }
        // The whole fleet from the balance: what was not accepted, by reason (the copies that
        // arrived and were dropped as duplicates aside).
        let b = summary.balance.readings
        rows.append(["all", String(b.generated), String(b.accepted), String(b.duplicates), String(b.late),
                     "\(b.generated - b.copiesDelivered - b.accepted) (not sent \(b.notSent), refused by the broker \(b.refusedByBroker), lost \(b.lost), invalid \(b.invalid), too late \(b.tooLate))", "", ""])
        var html = HTMLReport(title: "\(result.definition.indexName): \(sim.scenario)", settings: shown, result: result,
                              rankIntervals: try result.rankIntervals(seed: sim.seed), series: series,
                              health: (["domain", "readings sent", "accepted", "duplicates", "late (corrected a window)", "not accepted (lost, invalid, too late)",
                                        "devices reporting (%, daily mean)", "devices in fault (%)"], rows))
        // Alarms: the scores, and a timeline of alarms raised per hour by domain.
        var perHour: [String: [Int64: Double]] = [:]
        for alarm in try store.alarms(activeOnly: false, city: nil, kind: nil) {
            perHour[alarm.domain, default: [:]][alarm.raised / 3_600_000 * 3_600_000, default: 0] += 1
        }
        if !summary.detection.isEmpty || !perHour.isEmpty {
            func three(_ v: Double?) -> String { v.map { fixed($0, 3) } ?? "-" }
            func seconds(_ v: Double?) -> String { v.map { "\(Int($0.rounded())) s" } ?? "-" }
            html.alarms = (["kind", "episodes", "alarms", "precision", "recall", "F1", "delay p50", "delay p95"],
                           summary.detection.map { [$0.kind, String($0.episodes), String($0.alarms), three($0.precision), three($0.recall), three($0.f1),
                                                    seconds($0.delayP50Seconds), seconds($0.delayP95Seconds)] },
                           HTMLReport.Series(title: "Alarms raised per hour", unit: "alarms",
                                             points: perHour.mapValues { $0.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }))
        }
        if !delivery.isEmpty {
            // The whole fleet's rates and latency against wall time, a point per interval.
            let whole = delivery.filter { $0.domain == "all" }
            func line(_ value: (LatencyProbe.Row) -> Double?) -> [(Int64, Double)] {
                whole.compactMap { row in value(row).map { (Int64((deliveryOrigin + row.elapsedSeconds) * 1000), $0) } }
            }
            html.delivery = (HTMLReport.Series(title: "Messages per second", unit: "msg/s",
                                               points: ["offered": line(\.offeredPerSecond), "delivered": line(\.deliveredPerSecond)]),
                             HTMLReport.Series(title: "Delivery latency", unit: "ms",
                                               points: ["p50": line(\.p50Ms), "p99": line(\.p99Ms), "max": line(\.maxMs)]))
        }
        return html
    }
}
