import Foundation
import GRDB
import Telemetry

/// What one flush writes, in one transaction.
public struct StoreBatch: Sendable {
    public var windows: [WindowRecord] = []
    public var indicators: [IndicatorValue] = []
    public var deadLetters: [DeadLetter] = []
    public var alarms: [Alarm] = []
    public var checkpoint: Checkpoint?
    /// Which instance's journal the dead letters' positions are in: its partition (`2/3`), or
    /// empty for a gateway of its own.
    public var source = ""
    /// A partition's report, written with the rows (`SharedStore`).
    public var report: PartitionReport?
    public init() {}
    public var isEmpty: Bool {
        windows.isEmpty && indicators.isEmpty && deadLetters.isEmpty && alarms.isEmpty && checkpoint == nil && report == nil
    }

    /// Appends what the aggregator produced.
    public mutating func add(_ output: AggregatorOutput) {
        windows += output.windows
        indicators += output.indicators
        deadLetters += output.deadLetters
        alarms += output.alarms
    }
}

/// The aggregation state as of a journal position.
public struct Checkpoint: Sendable {
    public var position: UInt64
    public var createdAtMs: Int64
    public var accepted: Int64
    public var state: [UInt8]
    public init(position: UInt64, createdAtMs: Int64, accepted: Int64, state: [UInt8]) {
        self.position = position
        self.createdAtMs = createdAtMs
        self.accepted = accepted
        self.state = state
    }
}

/// One stored indicator value with its definition's name and unit.
public struct IndicatorRow: Sendable, Codable, Equatable {
    public var city: String
    public var code: String
    public var name: String
    public var unit: String
    public var domain: String
    public var resolution: String
    public var start: Int64
    public var end: Int64
    public var value: Double
    public var revision: Int
    public var closed: Bool

    public init(city: String, code: String, name: String, unit: String, domain: String, resolution: String, start: Int64, end: Int64,
                value: Double, revision: Int, closed: Bool) {
        self.city = city
        self.code = code
        self.name = name
        self.unit = unit
        self.domain = domain
        self.resolution = resolution
        self.start = start
        self.end = end
        self.value = value
        self.revision = revision
        self.closed = closed
    }
}

/// Where the gateway keeps windows, indicators, dead letters and checkpoints. SQLite is the
/// default; a server database implements the same protocol.
public protocol TelemetryStore: AnyObject, Sendable {
    /// Records what each indicator code means (name, unit, formula), replacing older text.
    func define(_ definitions: [IndicatorDefinition]) throws
    /// Writes a batch atomically. Rows are upserts by key and revision, so writing the same
    /// batch again (a replay after a crash) changes nothing.
    func write(_ batch: StoreBatch) throws
    func latestCheckpoint() throws -> Checkpoint?
    /// The newest value per city, indicator and resolution.
    func latestIndicators(city: String?, domain: String?) throws -> [IndicatorRow]
    func indicatorSeries(city: String, code: String, resolution: Resolution, from: Int64?, to: Int64?) throws -> [IndicatorRow]
    func windows(city: String?, resolution: Resolution?) throws -> [WindowRecord]
    /// Per city and indicator slug, the mean of the closed windows at `resolution` (of the
    /// provisional ones when a city has no closed window of that indicator).
    func indicatorMeans(resolution: Resolution) throws -> [String: [String: Double]]
    /// The cities x indicators table (CSV) of means read with `indicatorMeans`.
    func indicatorTable(_ values: [String: [String: Double]], names: [String: String]) throws -> String
    /// Alarms (only those not cleared with `activeOnly`), optionally of one city and kind, by
    /// the time they were raised.
    func alarms(activeOnly: Bool, city: String?, kind: String?) throws -> [Alarm]
}

/// The SQLite store (WAL mode: the HTTP API reads while the gateway writes).
///
/// Schema (see README.md, "Store schema"):
/// - `windows`: one row per (city, domain, district, attribute, resolution, start_ms), the
///   mergeable partial and its revision; `closed` = 0 marks a provisional value;
/// - `indicators`: one row per (city, code, resolution, start_ms);
/// - `indicator_definitions`: code, name, unit, domain, formula, needs, direction;
/// - `dead_letters`: rejected messages by journal position, with reason and raw payload;
/// - `alarms`: one row per (device, kind, raised_ms), its clearing time once cleared;
/// - `checkpoints`: the journal position the aggregation state covers and the state's length;
/// - `state_pages`: the state itself in pages of `pageSize` bytes. A checkpoint rewrites only
///   the pages that differ from the last one written, in the same transaction as its row, so
///   an idle or quiet gateway writes little and the store always holds one whole state.
public final class SQLiteStore: TelemetryStore, @unchecked Sendable {
    public let path: String
    private let pool: DatabasePool
    /// Bytes per state page: a page and its row fit in one 4 KiB SQLite page.
    static let pageSize = 4000
    /// The state as last written (pages are compared with it); guarded by the writer.
    private var written: [UInt8]?
    /// Pages the last checkpoint rewrote, and bytes.
    public private(set) var lastCheckpointPages = 0
    public private(set) var lastCheckpointBytes = 0

    public init(path: String, definitions: [IndicatorDefinition] = IndicatorCatalog.all) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try pool.write { db in try db.execute(sql: SQLiteStore.schema) }
            try define(definitions)
        } catch {
            throw GatewayError.store("\(path): cannot open the SQLite store (\(error)); check the path, permissions and free space")
        }
    }

    public func define(_ definitions: [IndicatorDefinition]) throws {
        try pool.write { db in
            for d in definitions {
                try db.execute(sql: """
                    INSERT INTO indicator_definitions (code, slug, name, unit, domain, formula, needs, higher_is_better)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(code) DO UPDATE SET slug = excluded.slug, name = excluded.name, unit = excluded.unit,
                      domain = excluded.domain, formula = excluded.formula, needs = excluded.needs, higher_is_better = excluded.higher_is_better
                    """, arguments: [d.code, d.slug, d.name, d.unit, d.domain.rawValue, d.formula, d.needs, d.higherIsBetter])
            }
        }
    }

    static let schema = """
        CREATE TABLE IF NOT EXISTS windows (
          city TEXT NOT NULL, domain TEXT NOT NULL, district TEXT NOT NULL, attribute TEXT NOT NULL,
          resolution TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,
          count INTEGER NOT NULL, sum REAL NOT NULL, sum_squares REAL NOT NULL, min REAL, max REAL,
          first_ms INTEGER, first_value REAL, last_ms INTEGER, last_value REAL, increment REAL NOT NULL,
          revision INTEGER NOT NULL, closed INTEGER NOT NULL, written_ms INTEGER NOT NULL,
          PRIMARY KEY (city, domain, district, attribute, resolution, start_ms)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS indicators (
          city TEXT NOT NULL, code TEXT NOT NULL, resolution TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,
          value REAL NOT NULL, revision INTEGER NOT NULL, closed INTEGER NOT NULL, written_ms INTEGER NOT NULL,
          PRIMARY KEY (city, code, resolution, start_ms)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS indicator_definitions (
          code TEXT PRIMARY KEY, slug TEXT NOT NULL, name TEXT NOT NULL, unit TEXT NOT NULL, domain TEXT NOT NULL,
          formula TEXT NOT NULL, needs TEXT NOT NULL, higher_is_better INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS dead_letters (
          position INTEGER PRIMARY KEY, written_ms INTEGER NOT NULL, topic TEXT NOT NULL, reason TEXT NOT NULL,
          detail TEXT NOT NULL, payload BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS alarms (
          city TEXT NOT NULL, domain TEXT NOT NULL, district TEXT NOT NULL, device TEXT NOT NULL, kind TEXT NOT NULL,
          severity TEXT NOT NULL, raised_ms INTEGER NOT NULL, cleared_ms INTEGER, value REAL NOT NULL, written_ms INTEGER NOT NULL,
          PRIMARY KEY (device, kind, raised_ms)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS alarms_open ON alarms (raised_ms) WHERE cleared_ms IS NULL;
        CREATE TABLE IF NOT EXISTS checkpoints (
          id INTEGER PRIMARY KEY AUTOINCREMENT, position INTEGER NOT NULL, created_ms INTEGER NOT NULL,
          accepted INTEGER NOT NULL, state BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS state_pages (page INTEGER PRIMARY KEY, bytes BLOB NOT NULL);
        """

    public func write(_ batch: StoreBatch) throws {
        guard !batch.isEmpty else { return }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var pages = 0, bytes = 0
        do {
            try pool.write { db in
                if !batch.windows.isEmpty {
                    let statement = try db.cachedStatement(sql: """
                        INSERT INTO windows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT DO UPDATE SET end_ms = excluded.end_ms, count = excluded.count, sum = excluded.sum,
                          sum_squares = excluded.sum_squares, min = excluded.min, max = excluded.max, first_ms = excluded.first_ms,
                          first_value = excluded.first_value, last_ms = excluded.last_ms, last_value = excluded.last_value,
                          increment = excluded.increment, revision = excluded.revision, closed = excluded.closed, written_ms = excluded.written_ms
                        WHERE excluded.revision > windows.revision OR (excluded.revision = windows.revision AND excluded.closed >= windows.closed)
                        """)
                    for w in batch.windows {
                        let p = w.partial
                        let hasValues = p.count > 0
                        try statement.execute(arguments: [
                            w.city, w.domain.rawValue, w.district, w.attribute, w.resolution.name, w.start, w.end,
                            p.count, p.sum, p.sumSquares, hasValues ? p.min : nil, hasValues ? p.max : nil,
                            hasValues ? p.firstTime : nil, hasValues ? p.firstValue : nil, hasValues ? p.lastTime : nil,
                            hasValues ? p.lastValue : nil, p.increment, w.revision, w.closed, now,
                        ])
                    }
                }
                if !batch.indicators.isEmpty {
                    let statement = try db.cachedStatement(sql: """
                        INSERT INTO indicators VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT DO UPDATE SET end_ms = excluded.end_ms, value = excluded.value, revision = excluded.revision,
                          closed = excluded.closed, written_ms = excluded.written_ms
                        WHERE excluded.revision >= indicators.revision
                        """)
                    for v in batch.indicators {
                        try statement.execute(arguments: [v.city, v.code, v.resolution.name, v.start, v.end, v.value, v.revision, v.closed, now])
                    }
                }
                if !batch.deadLetters.isEmpty {
                    let statement = try db.cachedStatement(sql: "INSERT OR IGNORE INTO dead_letters VALUES (?, ?, ?, ?, ?, ?)")
                    for d in batch.deadLetters {
                        try statement.execute(arguments: [Int64(bitPattern: d.position), now, d.topic, d.reason.rawValue, d.detail, Data(d.payload)])
                    }
                }
                if !batch.alarms.isEmpty {
                    // A replay writes the same rows again: a raised alarm never undoes its clearing.
                    let statement = try db.cachedStatement(sql: """
                        INSERT INTO alarms VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT DO UPDATE SET cleared_ms = excluded.cleared_ms, written_ms = excluded.written_ms
                        WHERE excluded.cleared_ms IS NOT NULL
                        """)
                    for a in batch.alarms {
                        try statement.execute(arguments: [a.city, a.domain, a.district, a.device, a.kind, a.severity, a.raised, a.cleared, a.value, now])
                    }
                }
                if let c = batch.checkpoint {
                    (pages, bytes) = try writePages(c.state, db)
                    // The row names the state's length; the pages hold it.
                    try db.execute(sql: "INSERT INTO checkpoints (position, created_ms, accepted, state) VALUES (?, ?, ?, ?)",
                                   arguments: [Int64(bitPattern: c.position), c.createdAtMs, c.accepted, Data(Self.header(length: c.state.count))])
                    try db.execute(sql: "DELETE FROM checkpoints WHERE id NOT IN (SELECT id FROM checkpoints ORDER BY id DESC LIMIT 1)")
                }
            }
            if let c = batch.checkpoint {
                written = c.state
                lastCheckpointPages = pages
                lastCheckpointBytes = bytes
            }
        } catch {
            throw GatewayError.store("\(path): cannot write to the store (\(error)); check free disk space — nothing accepted is lost, the journal keeps it until a write succeeds")
        }
    }

    public func latestCheckpoint() throws -> Checkpoint? {
        let checkpoint: Checkpoint? = try pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT position, created_ms, accepted, state FROM checkpoints ORDER BY id DESC LIMIT 1") else { return nil }
            let header = [UInt8](row["state"] as Data)
            guard let length = Self.length(header) else {
                throw GatewayError.state("\(path): the checkpoint was written by an older build (its state is not paged); move the store and its journal aside to start afresh")
            }
            var state: [UInt8] = []
            state.reserveCapacity(length)
            let cursor = try Row.fetchCursor(db, sql: "SELECT page, bytes FROM state_pages WHERE page < ? ORDER BY page",
                                             arguments: [(length + Self.pageSize - 1) / Self.pageSize])
            while let page = try cursor.next() {
                guard page["page"] as Int == state.count / Self.pageSize else { break }
                state += [UInt8](page["bytes"] as Data)
            }
            guard state.count == length else {
                throw GatewayError.state("\(path): the checkpoint's pages hold \(state.count) of its \(length) bytes; move the store and its journal aside to start afresh")
            }
            return Checkpoint(position: UInt64(bitPattern: row["position"]), createdAtMs: row["created_ms"], accepted: row["accepted"], state: state)
        }
        if let checkpoint { written = checkpoint.state }
        return checkpoint
    }

    /// A checkpoint row's `state`: a tag and the paged state's length.
    private static let tag = Array("PAGED1".utf8)

    private static func header(length: Int) -> [UInt8] {
        var out = tag
        withUnsafeBytes(of: Int64(length).littleEndian) { out += $0 }
        return out
    }

    private static func length(_ header: [UInt8]) -> Int? {
        guard header.count == tag.count + 8, header.starts(with: tag) else { return nil }
        let raw = header[tag.count...].withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }
        let length = Int64(littleEndian: raw)
        return (0...(Int64(1) << 40)).contains(length) ? Int(length) : nil
    }

    /// Writes the pages of `state` that differ from the state last written (all of them the
    /// first time) and drops pages beyond its end. Returns pages and bytes written.
    private func writePages(_ state: [UInt8], _ db: Database) throws -> (Int, Int) {
        let size = Self.pageSize
        let count = (state.count + size - 1) / size
        let statement = try db.cachedStatement(sql: "INSERT OR REPLACE INTO state_pages (page, bytes) VALUES (?, ?)")
        var pages = 0, bytes = 0
        try state.withUnsafeBytes { new in
            let old = written
            for page in 0..<count {
                let range = page * size..<min(state.count, (page + 1) * size)
                if let old, old.count >= range.upperBound,
                   old.withUnsafeBytes({ memcmp($0.baseAddress! + range.lowerBound, new.baseAddress! + range.lowerBound, range.count) }) == 0,
                   range.upperBound < state.count || old.count == state.count {
                    continue
                }
                try statement.execute(arguments: [page, Data(new[range])])
                pages += 1
                bytes += range.count
            }
        }
        try db.execute(sql: "DELETE FROM state_pages WHERE page >= ?", arguments: [count])
        return (pages, bytes)
    }

    private static let indicatorColumns = """
        i.city, i.code, d.name, d.unit, d.domain, i.resolution, i.start_ms, i.end_ms, i.value, i.revision, i.closed
        """

    private static func indicatorRow(_ row: Row) -> IndicatorRow {
        IndicatorRow(city: row[0], code: row[1], name: row[2] ?? "", unit: row[3] ?? "", domain: row[4] ?? "", resolution: row[5],
                     start: row[6], end: row[7], value: row[8], revision: row[9], closed: row[10])
    }

    public func latestIndicators(city: String?, domain: String?) throws -> [IndicatorRow] {
        try pool.read { db in
            var sql = """
                SELECT \(Self.indicatorColumns) FROM indicators i LEFT JOIN indicator_definitions d ON d.code = i.code
                WHERE i.start_ms = (SELECT MAX(j.start_ms) FROM indicators j WHERE j.city = i.city AND j.code = i.code AND j.resolution = i.resolution)
                """
            var arguments: [(any DatabaseValueConvertible)?] = []
            if let city { sql += " AND i.city = ?"; arguments.append(city) }
            if let domain { sql += " AND d.domain = ?"; arguments.append(domain) }
            sql += " ORDER BY i.city, d.domain, i.code, i.resolution"
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map(Self.indicatorRow)
        }
    }

    public func indicatorSeries(city: String, code: String, resolution: Resolution, from: Int64?, to: Int64?) throws -> [IndicatorRow] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(Self.indicatorColumns) FROM indicators i LEFT JOIN indicator_definitions d ON d.code = i.code
                WHERE i.city = ? AND (i.code = ? OR d.slug = ?) AND i.resolution = ? AND i.start_ms >= ? AND i.start_ms < ?
                ORDER BY i.start_ms
                """, arguments: [city, code, code, resolution.name, from ?? Int64.min, to ?? Int64.max]).map(Self.indicatorRow)
        }
    }

    public func alarms(activeOnly: Bool, city: String?, kind: String?) throws -> [Alarm] {
        try pool.read { db in
            var sql = "SELECT * FROM alarms WHERE 1"
            var arguments: [(any DatabaseValueConvertible)?] = []
            if activeOnly { sql += " AND cleared_ms IS NULL" }
            if let city { sql += " AND city = ?"; arguments.append(city) }
            if let kind { sql += " AND kind = ?"; arguments.append(kind) }
            sql += " ORDER BY raised_ms, device, kind"
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { row in
                Alarm(city: row["city"], domain: row["domain"], district: row["district"], device: row["device"], kind: row["kind"],
                      severity: row["severity"], raised: row["raised_ms"], cleared: row["cleared_ms"], value: row["value"])
            }
        }
    }

    public func windows(city: String?, resolution: Resolution?) throws -> [WindowRecord] {
        try pool.read { db in
            var sql = "SELECT * FROM windows WHERE 1"
            var arguments: [(any DatabaseValueConvertible)?] = []
            if let city { sql += " AND city = ?"; arguments.append(city) }
            if let resolution { sql += " AND resolution = ?"; arguments.append(resolution.name) }
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { row in
                var p = WindowPartial()
                p.count = row["count"]
                p.sum = row["sum"]
                p.sumSquares = row["sum_squares"]
                p.min = row["min"] ?? .infinity
                p.max = row["max"] ?? -.infinity
                p.firstTime = row["first_ms"] ?? .max
                p.firstValue = row["first_value"] ?? 0
                p.lastTime = row["last_ms"] ?? .min
                p.lastValue = row["last_value"] ?? 0
                p.increment = row["increment"]
                let resolutionName: String = row["resolution"]
                let domainName: String = row["domain"]
                return WindowRecord(city: row["city"], domain: Domain(rawValue: domainName) ?? .mobility, district: row["district"],
                                    attribute: row["attribute"], resolution: Resolution(name: resolutionName) ?? .base,
                                    start: row["start_ms"], end: row["end_ms"], partial: p, revision: row["revision"], closed: row["closed"])
            }
        }
    }

    /// The indicator table the index engine reads: one row per city (`uCode`, `uName`), one
    /// column per indicator (its slug), each the mean of the closed windows at `resolution`
    /// (provisional ones when a city has no closed window of that indicator).
    public func indicatorTable(resolution: Resolution, names: [String: String] = [:]) throws -> String {
        try indicatorTable(try indicatorMeans(resolution: resolution), names: names)
    }

    /// The same table from means already read with `indicatorMeans`.
    public func indicatorTable(_ values: [String: [String: Double]], names: [String: String] = [:]) throws -> String {
        let slugs = try pool.read { db in try String.fetchAll(db, sql: "SELECT slug FROM indicator_definitions ORDER BY domain, code") }
        return IndicatorTable.csv(values, slugs: slugs, names: names)
    }

    /// Per city and indicator slug, the mean of the closed windows at `resolution` (of the
    /// provisional ones when a city has no closed window of that indicator).
    public func indicatorMeans(resolution: Resolution) throws -> [String: [String: Double]] {
        try pool.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT i.city, d.slug, i.closed, AVG(i.value) FROM indicators i JOIN indicator_definitions d ON d.code = i.code
                WHERE i.resolution = ? GROUP BY i.city, d.slug, i.closed
                """, arguments: [resolution.name])
            var values: [String: [String: (closed: Bool, value: Double)]] = [:]
            for row in rows {
                let city: String = row[0], slug: String = row[1], closed: Bool = row[2], value: Double = row[3]
                if let old = values[city]?[slug], old.closed, !closed { continue }
                values[city, default: [:]][slug] = (closed, value)
            }
            return values.mapValues { $0.mapValues(\.value) }
        }
    }
}

/// The cities x indicators table every store writes the same way.
public enum IndicatorTable {
    /// One row per city (`uCode`, `uName`), one column per slug (in the order given) that any
    /// city has a value of.
    public static func csv(_ values: [String: [String: Double]], slugs: [String], names: [String: String]) -> String {
        let codes = slugs.filter { slug in values.values.contains { $0[slug] != nil } }
        var csv = "uCode,uName," + codes.joined(separator: ",") + "\n"
        for city in values.keys.sorted() {
            let fields = codes.map { values[city]?[$0].map { String($0) } ?? "" }
            csv += "\(city),\(csvField(names[city] ?? city)),\(fields.joined(separator: ","))\n"
        }
        return csv
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
public func csvField(_ s: String) -> String {
    s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}

extension IndicatorDefinition {
    /// The code with every character other than a letter or digit replaced by `_`: a CSV
    /// column name and an MQTT topic level (`ISO37120:8.1` -> `ISO37120_8_1`).
    public var slug: String { String(code.map { $0.isLetter || $0.isNumber ? $0 : "_" }) }
}
