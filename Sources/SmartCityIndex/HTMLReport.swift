import Foundation
import IndexEngine

/// A self-contained HTML report (inline CSS and SVG, no scripts, no network): settings,
/// ranking with rank intervals, each city's pillar profile, indicator time series, telemetry
/// health and SDG stages with their reasons.
public struct HTMLReport {
    public struct Series: Sendable {
        public var title: String
        public var unit: String
        /// Points (ms since 1970, value) per city.
        public var points: [String: [(Int64, Double)]]
        public init(title: String, unit: String, points: [String: [(Int64, Double)]]) {
            self.title = title
            self.unit = unit
            self.points = points
        }
    }

    public var title: String
    public var settings: [(String, String)]
    public var result: SmartCityResult
    public var rankIntervals: [String: (Double, Double)]
    public var series: [Series]
    /// Telemetry health: a header and rows (domain or total first).
    public var health: (header: [String], rows: [[String]])
    /// The detectors' alarms: a table (scores against the ground truth, per kind) and the
    /// alarms raised per hour, a line per domain.
    public var alarms: (header: [String], rows: [[String]], timeline: Series)?
    /// Delivery through the broker over the run: offered and delivered rates (lines `offered`,
    /// `delivered`) and latency (`p50`, `p99`, `max`) per interval of wall time.
    public var delivery: (rate: Series, latency: Series)?

    public init(title: String, settings: [(String, String)], result: SmartCityResult, rankIntervals: [String: (Double, Double)],
                series: [Series], health: (header: [String], rows: [[String]])) {
        self.title = title
        self.settings = settings
        self.result = result
        self.rankIntervals = rankIntervals
        self.series = series
        self.health = health
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    public func render() -> String {
        let d = result.definition
        let cities = result.index.units
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"/><title>\(esc(title))</title>
            <style>
            body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:24px auto;padding:0 16px;color:#222}
            h1{font-size:26px}h2{font-size:20px;margin-top:36px;border-bottom:1px solid #ddd;padding-bottom:4px}
            table{border-collapse:collapse;margin:8px 0}td,th{padding:4px 10px;border-bottom:1px solid #eee;text-align:right}
            td:first-child,th:first-child{text-align:left}.legend span{display:inline-block;margin-right:16px}
            .swatch{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}
            .charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0}figcaption{font-size:14px;font-weight:600}
            svg text{font-size:11px;fill:#444}
            </style></head><body>
            <h1>\(esc(title))</h1>

            """
        html += "<h2>Run settings</h2><table>" + settings.map { "<tr><td>\(esc($0.0))</td><td>\(esc($0.1))</td></tr>" }.joined() + "</table>\n"
        html += legend(cities)

        // Ranking.
        html += "<h2 id=\"ranking\">Ranking</h2><table><tr><th>rank</th><th>city</th><th>\(esc(d.indexName))</th><th>rank interval (5-95 %)</th><th></th><th>SDG stage</th></tr>"
        let order = cities.indices.sorted { (result.index.ranks[$0].isNaN ? .infinity : result.index.ranks[$0]) < (result.index.ranks[$1].isNaN ? .infinity : result.index.ranks[$1]) }
        for u in order {
            let city = cities[u]
            let interval = rankIntervals[city]
            html += "<tr><td>\(result.rank(city: city).map(String.init) ?? "-")</td><td>\(esc(city))</td>"
            html += "<td>\(result.score(d.indexCode, city: city).map { fixed($0, 1) } ?? "-")</td>"
            html += "<td>\(interval.map { "\(Int($0.0))-\(Int($0.1))" } ?? "-")</td><td>\(interval.map { rankBar($0, cities.count) } ?? "")</td>"
            html += "<td>\(esc(result.stages.first { $0.city == city }?.stage ?? "-"))</td></tr>"
        }
        html += "</table>\n"

        // Pillar profile.
        html += "<h2 id=\"profiles\">Domain profiles (pillar scores 0-100)</h2>\n" + pillarChart(cities)

        // Where the points come from.
        html += "<h2 id=\"telemetry-share\">Share of the score from telemetry</h2>"
        html += "<p>The part of each pillar's score, and of the index's, that comes from indicators measured from the devices' readings; the rest comes from static values of the city profile.</p>"
        html += "<table><tr><th>city</th>" + d.pillars.map { "<th>\(esc($0.code))</th>" }.joined() + "<th>\(esc(d.indexCode))</th></tr>"
        for city in cities {
            let share = result.telemetryShare(city: city)
            func cell(_ v: Double?) -> String { "<td>\(v.map { fixed($0 * 100, 0) + " %" } ?? "-")</td>" }
            html += "<tr><td>\(esc(city))</td>" + d.pillars.map { cell(share.pillars[$0.code]) }.joined() + cell(share.index) + "</tr>"
        }
        html += "</table>\n"
        html += "<p>Indicators from telemetry: " + esc(d.indicators.filter(\.fromTelemetry).map(\.code).joined(separator: ", ")) + "; from the profile: "
            + esc(d.indicators.filter { !$0.fromTelemetry }.map(\.code).joined(separator: ", ")) + ".</p>\n"

        // Time series.
        html += "<h2 id=\"series\">Indicators over the run (hourly windows)</h2><div class=\"charts\">"
        for s in series { html += lineChart(s, cities) }
        html += "</div>\n"

        // Telemetry health.
        html += "<h2 id=\"health\">Telemetry health</h2><table><tr>" + health.header.map { "<th>\(esc($0))</th>" }.joined() + "</tr>"
        for row in health.rows { html += "<tr>" + row.map { "<td>\(esc($0))</td>" }.joined() + "</tr>" }
        html += "</table>\n"

        // Alarms.
        if let alarms {
            html += "<h2 id=\"alarms\">Alarms</h2><p>The gateway's detectors against the simulator's ground truth (an alarm answers an episode of its kind on the same device when raised between its start and its end plus 15 minutes).</p>"
            html += "<table><tr>" + alarms.header.map { "<th>\(esc($0))</th>" }.joined() + "</tr>"
            for row in alarms.rows { html += "<tr>" + row.map { "<td>\(esc($0))</td>" }.joined() + "</tr>" }
            html += "</table>\n"
            let domains = alarms.timeline.points.keys.sorted()
            html += legend(domains) + "<div class=\"charts\">" + lineChart(alarms.timeline, domains) + "</div>\n"
        }

        // Delivery over time.
        if let delivery {
            html += "<h2 id=\"delivery\">Delivery through the broker</h2><p>Every interval of the run's wall time: the messages handed to the broker and those the gateway received (first receipts), and the latency from hand-off to receipt (latency.csv and latency.json hold the same per domain).</p>"
            html += legend(["offered", "delivered"]) + "<div class=\"charts\">" + lineChart(delivery.rate, ["offered", "delivered"])
            html += lineChart(delivery.latency, ["p50", "p99", "max"]) + "</div>" + legend(["p50", "p99", "max"]) + "\n"
        }

        // SDG stages.
        html += "<h2 id=\"sdg\">SDG progress stages</h2><table><tr><th>city</th><th>stage</th><th>governance steps</th><th>SDGs covered</th><th>indicators at target</th><th>why</th></tr>"
        for s in result.stages {
            html += "<tr><td>\(esc(s.city))</td><td>\(esc(s.stage))</td><td>\(s.governanceSteps) of 6</td><td>\(s.sdgsCovered.count): \(esc(s.sdgsCovered.joined(separator: ", ")))</td>"
            html += "<td>\(s.indicatorsAtTarget) of \(s.indicatorsMapped)</td><td style=\"text-align:left\">\(esc(s.reasons.joined(separator: "; ")))</td></tr>"
        }
        html += "</table>\n"

        // Indicator scores.
        html += "<h2 id=\"indicators\">Indicator scores (0-100 on the goalposts)</h2><table><tr><th>pillar</th><th>indicator</th><th>goalposts</th>"
        html += cities.map { "<th>\(esc($0))</th>" }.joined() + "</tr>"
        for (i, indicator) in d.indicators.enumerated() {
            html += "<tr><td>\(esc(indicator.pillar))</td><td style=\"text-align:left\">\(esc(indicator.name))</td><td>\(fixed(indicator.goalLow, 1))..\(fixed(indicator.goalHigh, 1))</td>"
            html += cities.indices.map { u in
                let v = result.index.normalised[i][u]
                return "<td>\(v.isNaN ? "-" : fixed(v, 0))</td>"
            }.joined() + "</tr>"
        }
        html += "</table>\n</body></html>\n"
        return html
    }

    private func legend(_ cities: [String]) -> String {
        "<p class=\"legend\">" + cities.enumerated().map { i, c in
            "<span><i class=\"swatch\" style=\"background:\(color(i))\"></i>\(esc(c))</span>"
        }.joined() + "</p>\n"
    }

    private func color(_ i: Int) -> String { Self.palette[i % Self.palette.count] }

    private func rankBar(_ interval: (Double, Double), _ n: Int) -> String {
        let width = 160.0, step = width / Double(max(1, n))
        let x0 = (interval.0 - 1) * step, x1 = interval.1 * step
        return "<svg width=\"\(Int(width))\" height=\"12\" role=\"img\"><rect x=\"0\" y=\"5\" width=\"\(Int(width))\" height=\"2\" fill=\"#ddd\"/>"
            + "<rect x=\"\(fixed(x0, 1))\" y=\"2\" width=\"\(fixed(max(2, x1 - x0), 1))\" height=\"8\" fill=\"#1f77b4\"/></svg>"
    }

    private func pillarChart(_ cities: [String]) -> String {
        let pillars = result.definition.pillars
        let barHeight = 10.0, gap = 10.0, labelWidth = 260.0, chartWidth = 800.0
        let groupHeight = Double(cities.count) * barHeight + gap
        let height = Double(pillars.count) * groupHeight + 24
        var svg = "<svg width=\"\(Int(labelWidth + chartWidth + 40))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"pillar scores\">"
        for (p, pillar) in pillars.enumerated() {
            let y0 = Double(p) * groupHeight
            svg += "<text x=\"0\" y=\"\(fixed(y0 + groupHeight / 2, 1))\">\(esc(pillar.name))</text>"
            for (u, city) in cities.enumerated() {
                guard let score = result.score(pillar.code, city: city) else { continue }
                let y = y0 + Double(u) * barHeight
                svg += "<rect x=\"\(Int(labelWidth))\" y=\"\(fixed(y, 1))\" width=\"\(fixed(score / 100 * chartWidth, 1))\" height=\"\(fixed(barHeight - 2, 1))\" fill=\"\(color(u))\"><title>\(esc(city)): \(fixed(score, 1))</title></rect>"
            }
        }
        for tick in stride(from: 0, through: 100, by: 25) {
            let x = labelWidth + Double(tick) / 100 * chartWidth
            svg += "<line x1=\"\(fixed(x, 1))\" x2=\"\(fixed(x, 1))\" y1=\"0\" y2=\"\(fixed(height - 20, 1))\" stroke=\"#ccc\" stroke-dasharray=\"2,3\"/>"
            svg += "<text x=\"\(fixed(x - 6, 1))\" y=\"\(fixed(height - 6, 1))\">\(tick)</text>"
        }
        return svg + "</svg>\n"
    }

    private func lineChart(_ s: Series, _ cities: [String]) -> String {
        let width = 580.0, height = 240.0, left = 56.0, bottom = 28.0, top = 10.0
        let all = s.points.values.flatMap { $0 }
        var body = "<figure><figcaption>\(esc(s.title)) (\(esc(s.unit)))</figcaption><svg width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(esc(s.title))\">"
        guard let t0 = all.map(\.0).min(), let t1 = all.map(\.0).max(), let v0 = all.map(\.1).min(), let v1 = all.map(\.1).max() else {
            return body + "<text x=\"\(Int(left))\" y=\"40\">no values in this run</text></svg></figure>"
        }
        let lo = min(0, v0), hi = v1 > lo ? v1 * 1.05 : lo + 1
        func x(_ t: Int64) -> Double { left + (t1 > t0 ? Double(t - t0) / Double(t1 - t0) : 0.5) * (width - left - 10) }
        func y(_ v: Double) -> Double { top + (1 - (v - lo) / (hi - lo)) * (height - top - bottom) }
        for k in 0...4 {
            let v = lo + (hi - lo) * Double(k) / 4
            body += "<line x1=\"\(Int(left))\" x2=\"\(Int(width - 10))\" y1=\"\(fixed(y(v), 1))\" y2=\"\(fixed(y(v), 1))\" stroke=\"#eee\"/>"
            body += "<text x=\"2\" y=\"\(fixed(y(v) + 4, 1))\">\(esc(short(v)))</text>"
        }
        body += "<text x=\"\(Int(left))\" y=\"\(Int(height - 8))\">\(esc(utc(t0)))</text>"
        body += "<text x=\"\(Int(width - 150))\" y=\"\(Int(height - 8))\">\(esc(utc(t1)))</text>"
        for (u, city) in cities.enumerated() {
            guard let points = s.points[city], !points.isEmpty else { continue }
            let path = points.sorted { $0.0 < $1.0 }.map { "\(fixed(x($0.0), 1)),\(fixed(y($0.1), 1))" }.joined(separator: " ")
            body += "<polyline fill=\"none\" stroke=\"\(color(u))\" stroke-width=\"1.5\" points=\"\(path)\"><title>\(esc(city))</title></polyline>"
        }
        return body + "</svg></figure>"
    }
}

func esc(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}

private func fixed(_ v: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", v) }

private func short(_ v: Double) -> String {
    abs(v) >= 10_000 ? String(format: "%.0fk", v / 1000) : abs(v) >= 100 ? String(format: "%.0f", v) : String(format: "%.2g", v)
}

private func utc(_ ms: Int64) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime]
    return String(f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000)).prefix(16)).replacingOccurrences(of: "T", with: " ") + " UTC"
}
