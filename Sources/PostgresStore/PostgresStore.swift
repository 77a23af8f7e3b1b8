import Foundation
import Gateway
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Telemetry

/// The store on a PostgreSQL server (`--store postgres://user@host:port/db`): the same tables
/// and upsert rules as `SQLiteStore` (a row only moves to a higher revision; writing a batch
/// twice changes nothing), each batch in one transaction, rows sent as arrays in one statement
/// per table. Checkpoints of the aggregation state stay local to the instance, in a SQLite
/// file beside its journal: they describe that instance's journal, not the shared data.
///
/// The protocol is synchronous, so each call waits for its queries on a private event loop;
/// a lost connection is opened again at the next call, and a write that fails throws (the
/// gateway then stops acknowledging and keeps the messages in its journal until one succeeds).
public final class PostgresStore: SharedStore, @unchecked Sendable {
    /// `host:port/database`, for messages.
    public let address: String
    private let configuration: PostgresConnection.Configuration
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let logger = Logger(label: "smartcity.postgres")
    private let lock = NSLock()
    private var writer: PostgresConnection?
    private var reader: PostgresConnection?
    private var nextID = 1
    private var closed = false
    /// Checkpoints of this instance; nil for a store opened to read, empty or merge, which
    /// keeps none.
    public let local: SQLiteStore?

    /// Connects (within `connectTimeout` seconds, or fails naming the address), creates the
    /// tables that are missing and records the indicator definitions. `local`: the file of this
    /// instance's checkpoints (beside its journal), or nil when it writes none.
    public init(url: String, local localPath: String?, definitions: [IndicatorDefinition] = IndicatorCatalog.all,
                connectTimeout: Double = 5) throws {
        guard let parts = URLComponents(string: url), let host = parts.host, !host.isEmpty else {
            throw GatewayError.store("'\(url)' is not a PostgreSQL URL; write postgres://user[:password]@host[:port]/database")
        }
        let port = parts.port ?? 5432
        let database = parts.path.hasPrefix("/") ? String(parts.path.dropFirst()) : parts.path
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: parts.user ?? "postgres",
                                                             password: parts.password, database: database.isEmpty ? nil : database, tls: .disable)
        configuration.options.connectTimeout = .milliseconds(Int64(connectTimeout * 1000))
        self.configuration = configuration
        address = "\(host):\(port)/\(database)"
        let existed = localPath.map { FileManager.default.fileExists(atPath: $0) } ?? true
        local = try localPath.map { try SQLiteStore(path: $0, definitions: []) }
        // A store that cannot be reached leaves no local file behind.
        func abandon() {
            close()
            if !existed, let localPath { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: localPath + suffix) } }
        }
        do {
            _ = try connection(writer: true)
            try createTables()
            try define(definitions)
        } catch let error as GatewayError {
            abandon()
            throw error
        } catch {
            abandon()
            throw GatewayError.store("cannot use the PostgreSQL store at \(address) (\(error)); check that the server runs there and takes this user and database")
        }
    }

    /// Empties the tables a run writes (windows, indicators, dead letters, alarms), for a run
    /// that starts afresh on a database of its own.
    public static func empty(url: String) throws {
        let store = try PostgresStore(url: url, local: nil, definitions: [])
        try store.execute("TRUNCATE windows, indicators, dead_letters, alarms, gateway_partitions", writer: true)
    }

    deinit { close() }

    /// Closes the connections, then their event loop (once).
    private func close() {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { return }
        closed = true
        _ = try? writer?.close().wait()
        _ = try? reader?.close().wait()
        writer = nil
        reader = nil
        try? group.syncShutdownGracefully()
    }

    static let schema = """
        CREATE TABLE IF NOT EXISTS windows (
          city TEXT NOT NULL, domain TEXT NOT NULL, district TEXT NOT NULL, attribute TEXT NOT NULL,
          resolution TEXT NOT NULL, start_ms BIGINT NOT NULL, end_ms BIGINT NOT NULL,
          count BIGINT NOT NULL, sum DOUBLE PRECISION NOT NULL, sum_squares DOUBLE PRECISION NOT NULL,
          min DOUBLE PRECISION, max DOUBLE PRECISION, first_ms BIGINT, first_value DOUBLE PRECISION, last_ms BIGINT,
          last_value DOUBLE PRECISION, increment DOUBLE PRECISION NOT NULL,
          revision INTEGER NOT NULL, closed BOOLEAN NOT NULL, written_ms BIGINT NOT NULL,
          PRIMARY KEY (city, domain, district, attribute, resolution, start_ms));
        CREATE TABLE IF NOT EXISTS indicators (
          city TEXT NOT NULL, code TEXT NOT NULL, resolution TEXT NOT NULL, start_ms BIGINT NOT NULL, end_ms BIGINT NOT NULL,
          value DOUBLE PRECISION NOT NULL, revision INTEGER NOT NULL, closed BOOLEAN NOT NULL, written_ms BIGINT NOT NULL,
          PRIMARY KEY (city, code, resolution, start_ms));
        CREATE TABLE IF NOT EXISTS indicator_definitions (
          code TEXT PRIMARY KEY, slug TEXT NOT NULL, name TEXT NOT NULL, unit TEXT NOT NULL, domain TEXT NOT NULL,
          formula TEXT NOT NULL, needs TEXT NOT NULL, higher_is_better BOOLEAN NOT NULL);
        CREATE TABLE IF NOT EXISTS dead_letters (
          position BIGINT NOT NULL, written_ms BIGINT NOT NULL, topic TEXT NOT NULL, reason TEXT NOT NULL,
          detail TEXT NOT NULL, payload BYTEA NOT NULL, source TEXT NOT NULL DEFAULT '', PRIMARY KEY (source, position));
        CREATE TABLE IF NOT EXISTS alarms (
          city TEXT NOT NULL, domain TEXT NOT NULL, district TEXT NOT NULL, device TEXT NOT NULL, kind TEXT NOT NULL,
          severity TEXT NOT NULL, raised_ms BIGINT NOT NULL, cleared_ms BIGINT, value DOUBLE PRECISION NOT NULL, written_ms BIGINT NOT NULL,
          PRIMARY KEY (device, kind, raised_ms));
        CREATE INDEX IF NOT EXISTS alarms_open ON alarms (raised_ms) WHERE cleared_ms IS NULL;
        CREATE TABLE IF NOT EXISTS gateway_partitions (
          partitions INTEGER NOT NULL, partition INTEGER NOT NULL, instance TEXT NOT NULL, client_id TEXT NOT NULL,
          heartbeat_ms BIGINT NOT NULL, stopped BOOLEAN NOT NULL, report TEXT NOT NULL, PRIMARY KEY (partitions, partition));
        CREATE INDEX IF NOT EXISTS windows_end ON windows (end_ms);
        """

    /// Dead letters of a store made before partitions were keyed by position alone.
    static let deadLetterSource = """
        ALTER TABLE dead_letters ADD COLUMN source TEXT NOT NULL DEFAULT '';
        ALTER TABLE dead_letters DROP CONSTRAINT dead_letters_pkey;
        ALTER TABLE dead_letters ADD PRIMARY KEY (source, position)
        """

    /// The store's clock in ms: partitions on different hosts are timed by one clock.
    static let nowMs = "(extract(epoch from clock_timestamp()) * 1000)::bigint"

    /// Creates what is missing, one instance at a time (instances starting together would
    /// race on `CREATE TABLE IF NOT EXISTS`).
    private func createTables() throws {
        try transaction {
            try run("SELECT pg_advisory_xact_lock(371220180)", writer: true)
            try execute(Self.schema, writer: true)
            let hasSource = try run("""
                SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema()
                  AND table_name = 'dead_letters' AND column_name = 'source'
                """, writer: true).map { try $0.decode(Int64.self) }.first ?? 0
            if hasSource == 0 { try execute(Self.deadLetterSource, writer: true) }
        }
    }

    /// Runs `body` in one transaction on the writer's connection.
    func transaction(_ body: () throws -> Void) throws {
        try run("BEGIN", writer: true)
        do {
            try body()
            try run("COMMIT", writer: true)
        } catch {
            _ = try? run("ROLLBACK", writer: true)
            throw error
        }
    }

    // MARK: Connections

    /// The writer's or the reader's connection, opened again when it was lost.
    func connection(writer isWriter: Bool) throws -> PostgresConnection {
        lock.lock()
        defer { lock.unlock() }
        if let c = isWriter ? writer : reader, !c.isClosed { return c }
        nextID += 1
        let c: PostgresConnection
        do {
            c = try PostgresConnection.connect(on: group.next(), configuration: configuration, id: nextID, logger: logger).wait()
        } catch {
            throw GatewayError.store("cannot reach the PostgreSQL store at \(address) (\(String(reflecting: error).prefix(300))); check that the server runs and takes connections there")
        }
        if isWriter { writer = c } else { reader = c }
        return c
    }

    @discardableResult
    func run(_ query: PostgresQuery, writer isWriter: Bool = false) throws -> PostgresQueryResult {
        try connection(writer: isWriter).query(query, logger: logger).wait()
    }

    /// Statements without parameters, one after the other.
    func execute(_ sql: String, writer isWriter: Bool = true) throws {
        for statement in sql.split(separator: ";") where !statement.allSatisfy(\.isWhitespace) {
            try run(PostgresQuery(unsafeSQL: String(statement)), writer: isWriter)
        }
    }

    // MARK: Writing

    public func define(_ definitions: [IndicatorDefinition]) throws {
        guard !definitions.isEmpty else { return }
        var q = PostgresQuery(unsafeSQL: """
            INSERT INTO indicator_definitions (code, slug, name, unit, domain, formula, needs, higher_is_better)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bool[])
            ON CONFLICT (code) DO UPDATE SET slug = excluded.slug, name = excluded.name, unit = excluded.unit, domain = excluded.domain,
              formula = excluded.formula, needs = excluded.needs, higher_is_better = excluded.higher_is_better
            """)
        try q.binds.append(definitions.map(\.code))
        try q.binds.append(definitions.map(\.slug))
        try q.binds.append(definitions.map(\.name))
        try q.binds.append(definitions.map(\.unit))
        try q.binds.append(definitions.map(\.domain.rawValue))
        try q.binds.append(definitions.map(\.formula))
        try q.binds.append(definitions.map(\.needs))
        try q.binds.append(definitions.map(\.higherIsBetter))
        try run(q, writer: true)
    }

    public func write(_ batch: StoreBatch) throws {
        guard !batch.isEmpty else { return }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let rows = !batch.windows.isEmpty || !batch.indicators.isEmpty || !batch.deadLetters.isEmpty || !batch.alarms.isEmpty
        if rows || batch.report != nil {
            do {
                try transaction {
                    // One statement may touch a row once: rows of one key are folded first,
                    // by the same rule the upsert applies to them one after the other.
                    if !batch.windows.isEmpty {
                        let rows = Self.fold(batch.windows, key: { "\($0.city)|\($0.domain)|\($0.district)|\($0.attribute)|\($0.resolution)|\($0.start)" }) {
                            $1.revision > $0.revision || ($1.revision == $0.revision && (!$0.closed || $1.closed))
                        }
                        try run(Self.windows(rows, now: now), writer: true)
                    }
                    if !batch.indicators.isEmpty {
                        let rows = Self.fold(batch.indicators, key: { "\($0.city)|\($0.code)|\($0.resolution)|\($0.start)" }) { $1.revision >= $0.revision }
                        try run(Self.indicators(rows, now: now), writer: true)
                    }
                    if !batch.deadLetters.isEmpty {
                        try run(Self.deadLetters(Self.fold(batch.deadLetters, key: { "\($0.position)" }) { _, _ in false }, source: batch.source, now: now), writer: true)
                    }
                    if !batch.alarms.isEmpty {
                        let rows = Self.fold(batch.alarms, key: { "\($0.device)|\($0.kind)|\($0.raised)" }) { $1.cleared != nil }
                        try run(Self.alarms(rows, now: now), writer: true)
                    }
                    if let report = batch.report { try heartbeat(report) }
                }
            } catch let error as GatewayError {
                throw error
            } catch {
                throw GatewayError.store("cannot write to the PostgreSQL store at \(address) (\(String(reflecting: error).prefix(300))) — nothing accepted is lost, the journal keeps it until a write succeeds")
            }
        }
        // The checkpoint after the rows it covers: a crash between the two replays the journal
        // from the older checkpoint, whose rows the upserts take again without change.
        if let checkpoint = batch.checkpoint {
            guard let local else { throw GatewayError.store("the PostgreSQL store at \(address) was opened without a checkpoint file; open it with the instance's (local:)") }
            var batch = StoreBatch()
            batch.checkpoint = checkpoint
            try local.write(batch)
        }
    }

    /// One row per key, in the order keys first appear: a later row replaces the kept one when
    /// `replaces(kept, later)`.
    static func fold<Row>(_ rows: [Row], key: (Row) -> String, replaces: (Row, Row) -> Bool) -> [Row] {
        var index: [String: Int] = [:]
        var out: [Row] = []
        out.reserveCapacity(rows.count)
        for row in rows {
            let k = key(row)
            if let i = index[k] {
                if replaces(out[i], row) { out[i] = row }
            } else {
                index[k] = out.count
                out.append(row)
            }
        }
        return out
    }

    private static func windows(_ windows: [WindowRecord], now: Int64) throws -> PostgresQuery {
        var q = PostgresQuery(unsafeSQL: """
            INSERT INTO windows AS w
            SELECT c, d, di, a, r, s, e, n, su, sq, CASE WHEN h THEN mn END, CASE WHEN h THEN mx END, CASE WHEN h THEN fm END,
                   CASE WHEN h THEN fv END, CASE WHEN h THEN lm END, CASE WHEN h THEN lv END, i, rv, cl, $20
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[], $7::int8[], $8::int8[], $9::float8[],
                        $10::float8[], $11::bool[], $12::float8[], $13::float8[], $14::int8[], $15::float8[], $16::int8[], $17::float8[],
                        $18::float8[], $19::int4[], $21::bool[])
              AS t(c, d, di, a, r, s, e, n, su, sq, h, mn, mx, fm, fv, lm, lv, i, rv, cl)
            ON CONFLICT (city, domain, district, attribute, resolution, start_ms) DO UPDATE SET end_ms = excluded.end_ms,
              count = excluded.count, sum = excluded.sum, sum_squares = excluded.sum_squares, min = excluded.min, max = excluded.max,
              first_ms = excluded.first_ms, first_value = excluded.first_value, last_ms = excluded.last_ms, last_value = excluded.last_value,
              increment = excluded.increment, revision = excluded.revision, closed = excluded.closed, written_ms = excluded.written_ms
            WHERE excluded.revision > w.revision OR (excluded.revision = w.revision AND excluded.closed >= w.closed)
            """)
        let values = windows.map { $0.partial.count > 0 }
        func finite(_ x: Double) -> Double { x.isFinite ? x : 0 }
        try q.binds.append(windows.map(\.city))
        try q.binds.append(windows.map(\.domain.rawValue))
        try q.binds.append(windows.map(\.district))
        try q.binds.append(windows.map(\.attribute))
        try q.binds.append(windows.map(\.resolution.name))
        try q.binds.append(windows.map(\.start))
        try q.binds.append(windows.map(\.end))
        try q.binds.append(windows.map(\.partial.count))
        try q.binds.append(windows.map(\.partial.sum))
        try q.binds.append(windows.map(\.partial.sumSquares))
        try q.binds.append(values)
        try q.binds.append(windows.map { finite($0.partial.min) })
        try q.binds.append(windows.map { finite($0.partial.max) })
        try q.binds.append(windows.map { $0.partial.count > 0 ? $0.partial.firstTime : 0 })
        try q.binds.append(windows.map(\.partial.firstValue))
        try q.binds.append(windows.map { $0.partial.count > 0 ? $0.partial.lastTime : 0 })
        try q.binds.append(windows.map(\.partial.lastValue))
        try q.binds.append(windows.map(\.partial.increment))
        try q.binds.append(windows.map { Int32($0.revision) })
        try q.binds.append(now)
        try q.binds.append(windows.map(\.closed))
        return q
    }

    private static func indicators(_ values: [IndicatorValue], now: Int64) throws -> PostgresQuery {
        var q = PostgresQuery(unsafeSQL: """
            INSERT INTO indicators AS x
            SELECT c, k, r, s, e, v, rv, cl, $9 FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::float8[], $7::int4[], $8::bool[])
              AS t(c, k, r, s, e, v, rv, cl)
            ON CONFLICT (city, code, resolution, start_ms) DO UPDATE SET end_ms = excluded.end_ms, value = excluded.value,
              revision = excluded.revision, closed = excluded.closed, written_ms = excluded.written_ms
            WHERE excluded.revision >= x.revision
            """)
        try q.binds.append(values.map(\.city))
        try q.binds.append(values.map(\.code))
        try q.binds.append(values.map(\.resolution.name))
        try q.binds.append(values.map(\.start))
        try q.binds.append(values.map(\.end))
        try q.binds.append(values.map(\.value))
        try q.binds.append(values.map { Int32($0.revision) })
        try q.binds.append(values.map(\.closed))
        try q.binds.append(now)
        return q
    }

    private static func deadLetters(_ letters: [DeadLetter], source: String, now: Int64) throws -> PostgresQuery {
        var q = PostgresQuery(unsafeSQL: """
            INSERT INTO dead_letters (position, written_ms, topic, reason, detail, payload, source)
            SELECT p, $6, t, r, d, b, $7 FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::bytea[])
              AS u(p, t, r, d, b)
            ON CONFLICT (source, position) DO NOTHING
            """)
        try q.binds.append(letters.map { Int64(bitPattern: $0.position) })
        try q.binds.append(letters.map(\.topic))
        try q.binds.append(letters.map(\.reason.rawValue))
        try q.binds.append(letters.map(\.detail))
        try q.binds.append(letters.map { ByteBuffer(bytes: $0.payload) })
        try q.binds.append(now)
        try q.binds.append(source)
        return q
    }

    private static func alarms(_ alarms: [Alarm], now: Int64) throws -> PostgresQuery {
        // A replay writes the same rows again: a raised alarm never undoes its clearing.
        var q = PostgresQuery(unsafeSQL: """
            INSERT INTO alarms AS a
            SELECT c, d, di, dv, k, sv, r, CASE WHEN h THEN cl END, v, $11
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int8[], $8::bool[], $9::int8[], $10::float8[])
              AS t(c, d, di, dv, k, sv, r, h, cl, v)
            ON CONFLICT (device, kind, raised_ms) DO UPDATE SET cleared_ms = excluded.cleared_ms, written_ms = excluded.written_ms
            WHERE excluded.cleared_ms IS NOT NULL
            """)
        try q.binds.append(alarms.map(\.city))
        try q.binds.append(alarms.map(\.domain))
        try q.binds.append(alarms.map(\.district))
        try q.binds.append(alarms.map(\.device))
        try q.binds.append(alarms.map(\.kind))
        try q.binds.append(alarms.map(\.severity))
        try q.binds.append(alarms.map(\.raised))
        try q.binds.append(alarms.map { $0.cleared != nil })
        try q.binds.append(alarms.map { $0.cleared ?? 0 })
        try q.binds.append(alarms.map(\.value))
        try q.binds.append(now)
        return q
    }

}
