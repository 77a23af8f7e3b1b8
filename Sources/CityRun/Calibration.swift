import Foundation
import Gateway
import MQTT
import Simulator
import Telemetry

/// The simulated city against its published figures. A year is sampled by days: `daysPerMonth`
/// days spread over each month of the scenario's year (so weekdays, weekends, the heating
/// season and summer all come in), each simulated on the direct path from a warm-up of a few
/// hours before its local midnight (meters, collections and free-flow speeds start from a
/// state, not from nothing) and measured by its daily window. A figure of some months is the
/// mean of their sampled days, an annual one the mean of every sampled day.
public struct Calibration: Sendable {
    public struct Row: Sendable {
        public var figure: ReferenceTable.Figure
        /// Mean of the sampled days' values; nil when none of them gave the indicator.
        public var simulated: Double?
        public var days: Int
        public var ratio: Double? { simulated.map { $0 / figure.value } }
        public var inside: Bool { simulated.map(figure.accepts) ?? false }
    }

    public struct Outcome: Sendable {
        public var rows: [Row]
        /// The local dates sampled.
        public var days: [String]
        /// Every sampled day's daily value of every indicator the table names.
        public var daily: [(day: String, indicator: String, value: Double)] = []
        public var seconds: Double
        public var passed: Bool { rows.allSatisfy(\.inside) }

        public var table: String {
            let t = TextTable(["figure", "simulated", "published", "ratio", "tolerance", "in", "year", "source"])
            for r in rows {
                t.add([r.figure.id, r.simulated.map { Self.number($0) } ?? "no data", Self.number(r.figure.value) + (r.figure.unit.isEmpty ? "" : " " + r.figure.unit),
                       r.ratio.map { fixed($0, 2) } ?? "-", r.figure.tolerance.description, r.inside ? "yes" : "NO", String(r.figure.year), r.figure.source])
            }
            return t.render()
        }

        public func csv() -> String {
            var out = "figure,indicator,months,simulated,published,unit,ratio,tolerance,inside,days,year,source\n"
            for r in rows {
                let f = r.figure
                let fields = [f.id, f.indicator, f.months.map(String.init).joined(separator: " "), r.simulated.map { String($0) } ?? "",
                              String(f.value), f.unit, r.ratio.map { String($0) } ?? "", f.tolerance.description, r.inside ? "true" : "false",
                              String(r.days), String(f.year), f.source]
                out += fields.map(csvField).joined(separator: ",") + "\n"
            }
            return out
        }

        /// The sampled days' values, one row per day and indicator.
        public func dailyCSV() -> String {
            "day,indicator,value\n" + daily.map { "\($0.day),\($0.indicator),\($0.value)" }.joined(separator: "\n") + "\n"
        }

        static func number(_ v: Double) -> String { abs(v) >= 100 ? fixed(v, 1) : abs(v) >= 1 ? fixed(v, 2) : fixed(v, 4) }
    }

    public let scenario: Scenario
    public let reference: ReferenceTable
    public var daysPerMonth = 2
    /// Simulated before each sampled day's local midnight, s.
    public var warmUp: Int64 = 3 * 3600
    /// Where each day's store goes (emptied before and after).
    public var workDirectory = FileManager.default.temporaryDirectory.path
    public var say: @Sendable (String) -> Void = { print($0) }

    public init(scenario: Scenario, reference: ReferenceTable) throws(RunFailure) {
        guard let city = scenario.cities.first(where: { $0.id == reference.city }) else {
            throw RunFailure("\(reference.file): city: '\(reference.city)' is no city of the scenario (\(scenario.cities.map(\.id).joined(separator: ", ")))")
        }
        let definitions: [IndicatorDefinition]
        do { definitions = try GatewayConfig(scenario: scenario).indicatorDefinitions() } catch { throw RunFailure("\(error)") }
        let codes = Set(definitions.map(\.code))
        for figure in reference.figures where !codes.contains(figure.indicator) {
            throw RunFailure("\(reference.file): figure '\(figure.id)': the gateway computes no indicator '\(figure.indicator)' for this scenario; `smartcity gateway --help` and docs/commands.md list the codes")
        }
        var only = scenario
        only.cities = [city]
        self.scenario = only
        self.reference = reference
    }

    /// The local midnights (s since 1970) of the sampled days, with their months.
    public func sampleDays() -> [(midnight: Int64, month: Int, label: String)] {
        let city = scenario.cities[0]
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: Int(city.utcOffset * 3600)) ?? .gmt
        let year = calendar.component(.year, from: Date(timeIntervalSince1970: TimeInterval(scenario.start)))
        var out: [(Int64, Int, String)] = []
        for month in 1...12 {
            guard let first = calendar.date(from: DateComponents(year: year, month: month, day: 1)),
                  let length = calendar.range(of: .day, in: .month, for: first)?.count else { continue }
            for k in 0..<daysPerMonth {
                let day = 1 + Int((Double(k) + 0.5) * Double(length) / Double(daysPerMonth))
                guard let date = calendar.date(from: DateComponents(year: year, month: month, day: day)) else { continue }
                out.append((Int64(date.timeIntervalSince1970), month, String(format: "%04d-%02d-%02d", year, month, day)))
            }
        }
        return out
    }

    public func run() throws -> Outcome {
        let clock = ContinuousClock(), began = clock.now
        let days = sampleDays()
        var values: [String: [(month: Int, value: Double)]] = [:]
        var daily: [(day: String, indicator: String, value: Double)] = []
        let path = workDirectory + "/calibration-\(getpid()).sqlite"
        defer { Self.remove(path) }
        for (n, day) in days.enumerated() {
            var s = scenario
            s.start = day.midnight - warmUp
            s.duration = 86_400 + warmUp
            Self.remove(path)
            var config = GatewayConfig(scenario: s)
            config.store = path
            config.lateness = max(3600, s.longestFaultDelay + 1)
            config.statusInterval = 0
            let generator = Generator(scenario: s, includeStatus: true)
            let outcome = try DirectRun(generator: generator, config: config, keep: .day, progress: 0, scenario: s).run()
            for code in Set(reference.figures.map(\.indicator)).sorted() {
                let rows = try outcome.store.indicatorSeries(city: reference.city, code: code, resolution: .day,
                                                             from: day.midnight * 1000, to: day.midnight * 1000 + 1)
                if let row = rows.last {
                    values[code, default: []].append((day.month, row.value))
                    daily.append((day.label, code, row.value))
                }
            }
            say("calibrate: \(day.label) (\(n + 1)/\(days.count)) simulated, \(outcome.messages) messages, \(fixed(outcome.seconds, 1)) s")
        }
        let rows = reference.figures.map { figure -> Row in
            let sample = (values[figure.indicator] ?? []).filter { figure.months.contains($0.month) }.map(\.value)
            return Row(figure: figure, simulated: sample.isEmpty ? nil : sample.reduce(0, +) / Double(sample.count), days: sample.count)
        }
        return Outcome(rows: rows, days: days.map(\.label), daily: daily, seconds: (clock.now - began).seconds)
    }

    static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
}
