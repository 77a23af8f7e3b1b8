import Foundation
import Gateway
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Telemetry

extension PostgresStore {
    // MARK: Reading

    public func latestCheckpoint() throws -> Checkpoint? { try local?.latestCheckpoint() }

    private static let indicatorColumns = """
        i.city, i.code, d.name, d.unit, d.domain, i.resolution, i.start_ms, i.end_ms, i.value, i.revision, i.closed
        """

    private func indicatorRows(_ q: PostgresQuery) throws -> [IndicatorRow] {
        try run(q).map { row in
            let (city, code, name, unit, domain, resolution, start, end, value, revision, closed) =
                try row.decode((String, String, String?, String?, String?, String, Int64, Int64, Double, Int32, Bool).self)
            return IndicatorRow(city: city, code: code, name: name ?? "", unit: unit ?? "", domain: domain ?? "", resolution: resolution,
                                start: start, end: end, value: value, revision: Int(revision), closed: closed)
        }
    }

    public func latestIndicators(city: String?, domain: String?) throws -> [IndicatorRow] {
        var q = PostgresQuery(unsafeSQL: """
            SELECT \(Self.indicatorColumns) FROM indicators i LEFT JOIN indicator_definitions d ON d.code = i.code
            WHERE i.start_ms = (SELECT MAX(j.start_ms) FROM indicators j WHERE j.city = i.city AND j.code = i.code AND j.resolution = i.resolution)
              AND ($1::text IS NULL OR i.city = $1) AND ($2::text IS NULL OR d.domain = $2)
            ORDER BY i.city, d.domain, i.code, i.resolution
            """)
        try q.binds.append(city)
        try q.binds.append(domain)
        return try indicatorRows(q)
    }

    public func indicatorSeries(city: String, code: String, resolution: Resolution, from: Int64?, to: Int64?) throws -> [IndicatorRow] {
        var q = PostgresQuery(unsafeSQL: """
            SELECT \(Self.indicatorColumns) FROM indicators i LEFT JOIN indicator_definitions d ON d.code = i.code
            WHERE i.city = $1 AND (i.code = $2 OR d.slug = $2) AND i.resolution = $3 AND i.start_ms >= $4 AND i.start_ms < $5
            ORDER BY i.start_ms
            """)
        try q.binds.append(city)
        try q.binds.append(code)
        try q.binds.append(resolution.name)
        try q.binds.append(from ?? Int64.min)
        try q.binds.append(to ?? Int64.max)
        return try indicatorRows(q)
    }

    public func alarms(activeOnly: Bool, city: String?, kind: String?) throws -> [Alarm] {
        var q = PostgresQuery(unsafeSQL: """
            SELECT city, domain, district, device, kind, severity, raised_ms, cleared_ms, value FROM alarms
            WHERE (NOT $1 OR cleared_ms IS NULL) AND ($2::text IS NULL OR city = $2) AND ($3::text IS NULL OR kind = $3)
            ORDER BY raised_ms, device, kind
            """)
        try q.binds.append(activeOnly)
        try q.binds.append(city)
        try q.binds.append(kind)
        return try run(q).map { row in
            let (city, domain, district, device, kind, severity, raised, cleared, value) =
                try row.decode((String, String, String, String, String, String, Int64, Int64?, Double).self)
            return Alarm(city: city, domain: domain, district: district, device: device, kind: kind, severity: severity,
                         raised: raised, cleared: cleared, value: value)
        }
    }

    public func windows(city: String?, resolution: Resolution?) throws -> [WindowRecord] {
        var q = PostgresQuery(unsafeSQL: Self.windowColumns + " WHERE ($1::text IS NULL OR city = $1) AND ($2::text IS NULL OR resolution = $2)")
        try q.binds.append(city)
        try q.binds.append(resolution?.name)
        return try windowRecords(q)
    }

    public func windows(endingAfter time: Int64) throws -> [WindowRecord] {
        var q = PostgresQuery(unsafeSQL: Self.windowColumns + " WHERE end_ms > $1")
        try q.binds.append(time)
        return try windowRecords(q)
    }

    private static let windowColumns = """
        SELECT city, domain, district, attribute, resolution, start_ms, end_ms, count, sum, sum_squares, min, max,
               first_ms, first_value, last_ms, last_value, increment, revision, closed FROM windows
        """

    private func windowRecords(_ q: PostgresQuery) throws -> [WindowRecord] {
        try run(q).map { row in
            let r = row.makeRandomAccess()
            var p = WindowPartial()
            p.count = try r[7].decode(Int64.self)
            p.sum = try r[8].decode(Double.self)
            p.sumSquares = try r[9].decode(Double.self)
            p.min = try r[10].decode(Double?.self) ?? .infinity
            p.max = try r[11].decode(Double?.self) ?? -.infinity
            p.firstTime = try r[12].decode(Int64?.self) ?? .max
            p.firstValue = try r[13].decode(Double?.self) ?? 0
            p.lastTime = try r[14].decode(Int64?.self) ?? .min
            p.lastValue = try r[15].decode(Double?.self) ?? 0
            p.increment = try r[16].decode(Double.self)
            return WindowRecord(city: try r[0].decode(String.self), domain: Domain(rawValue: try r[1].decode(String.self)) ?? .mobility,
                                district: try r[2].decode(String.self), attribute: try r[3].decode(String.self),
                                resolution: Resolution(name: try r[4].decode(String.self)) ?? .base,
                                start: try r[5].decode(Int64.self), end: try r[6].decode(Int64.self), partial: p,
                                revision: Int32(try r[17].decode(Int32.self)), closed: try r[18].decode(Bool.self))
        }
    }

    public func indicatorMeans(resolution: Resolution) throws -> [String: [String: Double]] {
        var q = PostgresQuery(unsafeSQL: """
            SELECT i.city, d.slug, i.closed, AVG(i.value) FROM indicators i JOIN indicator_definitions d ON d.code = i.code
            WHERE i.resolution = $1 GROUP BY i.city, d.slug, i.closed
            """)
        try q.binds.append(resolution.name)
        var values: [String: [String: (closed: Bool, value: Double)]] = [:]
        for row in try run(q) {
            let (city, slug, closed, value) = try row.decode((String, String, Bool, Double).self)
            if let old = values[city]?[slug], old.closed, !closed { continue }
            values[city, default: [:]][slug] = (closed, value)
        }
        return values.mapValues { $0.mapValues(\.value) }
    }

    public func indicatorTable(_ values: [String: [String: Double]], names: [String: String]) throws -> String {
        let slugs = try run(PostgresQuery(unsafeSQL: "SELECT slug FROM indicator_definitions ORDER BY domain, code")).map { try $0.decode(String.self) }
        return IndicatorTable.csv(values, slugs: slugs, names: names)
    }
}
