import Foundation
import Gateway
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Telemetry

extension PostgresStore {
    // MARK: Partitions

    public func claim(_ report: PartitionReport, lease: Double) throws {
        let leaseMs = Int64(lease * 1000)
        let me = report.partition
        do {
            try transaction {
                // One claim at a time: two instances starting together see each other.
                try run("LOCK TABLE gateway_partitions IN EXCLUSIVE MODE", writer: true)
                let rows = try run(PostgresQuery(unsafeSQL: "SELECT report, stopped, \(Self.nowMs) - heartbeat_ms, instance FROM gateway_partitions"), writer: true)
                for row in rows {
                    let (text, stopped, age, instance) = try row.decode((String, Bool, Int64, String).self)
                    guard !stopped, age < leaseMs, let other = try? JSONDecoder().decode(PartitionReport.self, from: Data(text.utf8)) else { continue }
                    let who = "instance \(instance.prefix(8)) (pid \(other.pid) on \(other.host), client id '\(other.clientID)', last report \(age / 1000) s ago)"
                    let wait = "stop it, or wait until its lease of \(Int(lease)) s has passed since its last report"
                    if other.partition == me, instance != report.instance {
                        throw GatewayError.partition("partition \(me) is held by \(who); \(wait)")
                    }
                    if other.count != me.count {
                        throw GatewayError.partition("this store is split \(other.count) ways by live gateways (\(other.partition) is \(who)), not \(me.count); start every instance with --partition k/\(other.count), or \(wait)")
                    }
                    if other.partition != me, other.clientID == report.clientID {
                        throw GatewayError.partition("client id '\(report.clientID)' is used by partition \(other.partition), \(who); the broker would end one session with the other: give each instance its own --client-id")
                    }
                }
                var q = PostgresQuery(unsafeSQL: """
                    INSERT INTO gateway_partitions AS g VALUES ($1, $2, $3, $4, \(Self.nowMs), false, $5)
                    ON CONFLICT (partitions, partition) DO UPDATE SET instance = excluded.instance, client_id = excluded.client_id,
                      heartbeat_ms = excluded.heartbeat_ms, stopped = false,
                      report = CASE WHEN g.instance = excluded.instance THEN g.report ELSE excluded.report END
                    """)
                try q.binds.append(Int32(me.count))
                try q.binds.append(Int32(me.index))
                try q.binds.append(report.instance)
                try q.binds.append(report.clientID)
                try q.binds.append(Self.text(report))
                try run(q, writer: true)
            }
        } catch let error as GatewayError {
            throw error
        } catch {
            throw GatewayError.store("cannot claim partition \(me) in the PostgreSQL store at \(address) (\(String(reflecting: error).prefix(300)))")
        }
    }

    /// A partition's report, in the flush's transaction; refused when another instance took
    /// the partition meanwhile (this one was gone longer than the lease).
    func heartbeat(_ report: PartitionReport) throws {
        var q = PostgresQuery(unsafeSQL: """
            UPDATE gateway_partitions SET heartbeat_ms = \(Self.nowMs), stopped = $4, report = $5, client_id = $6
            WHERE partitions = $1 AND partition = $2 AND instance = $3 RETURNING 1
            """)
        try q.binds.append(Int32(report.count))
        try q.binds.append(Int32(report.index))
        try q.binds.append(report.instance)
        try q.binds.append(report.stopped)
        try q.binds.append(Self.text(report))
        try q.binds.append(report.clientID)
        guard try run(q, writer: true).map({ _ in 1 }).count == 1 else {
            throw GatewayError.partition("partition \(report.partition) was taken by another instance while this one was away longer than the lease; this instance writes nothing more: stop it")
        }
    }

    public func partitions(count: Int) throws -> [PartitionState] {
        var q = PostgresQuery(unsafeSQL: "SELECT report, stopped, \(Self.nowMs) - heartbeat_ms FROM gateway_partitions WHERE partitions = $1 ORDER BY partition")
        try q.binds.append(Int32(count))
        return try run(q).compactMap { row in
            let (text, stopped, age) = try row.decode((String, Bool, Int64).self)
            guard var report = try? JSONDecoder().decode(PartitionReport.self, from: Data(text.utf8)) else { return nil }
            report.stopped = stopped
            return PartitionState(report: report, secondsSinceReport: Double(age) / 1000)
        }
    }

    private static func text(_ report: PartitionReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }
}
