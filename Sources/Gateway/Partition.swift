import Foundation
import Telemetry

/// One of `count` gateway instances that share the ingest of the same cities, numbered from 1.
///
/// The unit of the split is the district: a device's whole stream must reach one instance,
/// because deduplication by sequence number, meter increments between consecutive readings,
/// the detectors and the count of distinct devices all follow a device. (An MQTT shared
/// subscription hands each message to one member of the group in turn, which splits a
/// device's stream; a topic filter per district does not.) Each city's districts, in name
/// order, go to the partitions in turn: partition `index` subscribes to
/// `city/{city}/+/{district}/+/+` for each district it owns. The windows of a district are
/// then whole in one instance, and the city-wide indicators are computed from the windows of
/// every partition in the shared store (`IndicatorMerger`).
public struct Partition: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init?(index: Int, count: Int) {
        guard count >= 1, (1...count).contains(index) else { return nil }
        self.index = index
        self.count = count
    }

    /// `k/n`, e.g. `2/3`.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) else { return nil }
        self.init(index: k, count: n)
    }

    public static let problem = "write k/n with 1 <= k <= n, e.g. 2/3 for the second of three gateways"

    public var description: String { "\(index)/\(count)" }

    /// A name fit for files and client ids: `p2of3`.
    public var tag: String { "p\(index)of\(count)" }

    /// The city's districts this partition owns.
    public func districts(of city: CityFacts) -> [String] {
        city.districts.sorted().enumerated().filter { $0.offset % count == index - 1 }.map(\.element)
    }

    /// Whether this partition owns the district of a city.
    public func owns(district: String, of city: CityFacts) -> Bool { districts(of: city).contains(district) }

    /// The topic filters of the districts it owns.
    public func filters(cities: [CityFacts]) -> [String] {
        cities.flatMap { city in districts(of: city).map { TopicScheme.filter(city: city.id, district: $0) } }
    }

    /// Why these settings cannot be split this way, or nil.
    public func problem(cities: [CityFacts], topicMappings: [TopicMapping], storeIsServer: Bool) -> String? {
        guard storeIsServer else {
            return "partition \(self) needs a store every instance shares: --store postgres://user@host:port/database (a SQLite file belongs to one gateway)"
        }
        guard topicMappings.isEmpty else {
            return "partition \(self): a topic mapping's layout names no district to split by; run partitioned gateways on the city topic scheme"
        }
        if let city = cities.first(where: \.districts.isEmpty) {
            return "partition \(self): city '\(city.id)' lists no districts to split by; give the gateway the scenario (--scenario) or list its districts under 'cities'"
        }
        let districts = cities.reduce(0) { $0 + $1.districts.count }
        guard cities.contains(where: { !self.districts(of: $0).isEmpty }) else {
            return "partition \(self) owns no district: the cities have at most \(cities.map(\.districts.count).max() ?? 0) districts each (\(districts) in all); use fewer partitions"
        }
        return nil
    }
}

/// What a partitioned instance writes with every flush, in the same transaction as its rows:
/// who holds the partition, and how far its cities' clocks have gone (every window that ended
/// before is in the store).
public struct PartitionReport: Sendable, Codable, Equatable {
    public var index: Int
    public var count: Int
    /// Names the holder across restarts: kept in the instance's journal directory.
    public var instance: String
    public var clientID: String
    public var host: String
    public var pid: Int
    /// Per city: its newest event time as the instance's clock has it (ms), and the devices
    /// the instance has registered per domain.
    public var clocks: [String: Int64]
    public var devices: [String: [String: Int]]
    /// Written at a clean stop: the instance wrote its open windows (provisional) and left.
    public var stopped: Bool

    public init(partition: Partition, instance: String, clientID: String, clocks: [String: Int64] = [:],
                devices: [String: [String: Int]] = [:], stopped: Bool = false) {
        index = partition.index
        count = partition.count
        self.instance = instance
        self.clientID = clientID
        host = Self.host
        pid = Int(ProcessInfo.processInfo.processIdentifier)
        self.clocks = clocks
        self.devices = devices
        self.stopped = stopped
    }

    public var partition: Partition { Partition(index: index, count: count)! }

    /// Looked up once: a report goes with every flush.
    private static let host = ProcessInfo.processInfo.hostName
}

/// A partition's last report as the store has it, and how long ago it came (by the store's clock).
public struct PartitionState: Sendable {
    public var report: PartitionReport
    public var secondsSinceReport: Double

    public init(report: PartitionReport, secondsSinceReport: Double) {
        self.report = report
        self.secondsSinceReport = secondsSinceReport
    }

    /// Running: reported within the lease and not stopped.
    public func isLive(lease: Double) -> Bool { !report.stopped && secondsSinceReport < lease }
}

/// A store several gateway instances share: it hands out partitions, keeps their reports and
/// reads the windows the merge needs.
public protocol SharedStore: TelemetryStore {
    /// Takes the partition for this instance, or refuses it (`GatewayError.partition`) while
    /// another instance holds it (reported within `lease` seconds and not stopped), while a
    /// live instance of another partition uses the same client id, or while live instances
    /// split the store another number of ways.
    func claim(_ report: PartitionReport, lease: Double) throws
    /// The reports of the partitions of a split into `count`.
    func partitions(count: Int) throws -> [PartitionState]
    /// Windows that end after `time` (ms), of every district.
    func windows(endingAfter time: Int64) throws -> [WindowRecord]
}

/// The instance's name, kept in its journal directory so a restart is the same instance.
enum InstanceToken {
    static func load(directory: String) throws -> String {
        let path = directory + "/instance"
        if let text = try? String(contentsOfFile: path, encoding: .utf8), !text.isEmpty {
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let token = UUID().uuidString.lowercased()
        do {
            try token.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw GatewayError.journal("\(path): cannot write the instance's name (\(error.localizedDescription)); check the journal directory's permissions and free space")
        }
        return token
    }
}
