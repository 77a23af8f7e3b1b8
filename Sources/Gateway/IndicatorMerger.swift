import Telemetry

/// The city-wide indicators of partitioned gateways, from the windows every partition wrote to
/// the shared store. Each partition's windows are whole for the districts it owns, so a city
/// window's indicators are those a single gateway computes from the same district partials
/// (merged in district name order, as `IndicatorStage` does).
///
/// The watermark waits for every live instance: a city window is merged once each partition
/// that reported within the lease, and did not stop, has passed its end. A partition that died
/// holds nothing up; when it comes back, the windows it writes late change their city windows'
/// records, which are merged again with a higher revision. Nothing is merged until every
/// partition of the split has reported once.
///
/// A merged indicator's revision is the sum over its window's records of their revision plus
/// one: it grows whenever a record does, so any instance (or `gateway merge`) that merges the
/// same rows writes the same revision, and a newer state a higher one.
public final class IndicatorMerger {
    public let store: any SharedStore
    public let partitions: Int
    public let lease: Double
    let definitions: [IndicatorDefinition]
    let config: GatewayConfig
    let lengths: [Int64]
    /// Windows that ended at or before this (ms) cannot change any more and were merged.
    private(set) var cursor: Int64 = .min
    private var merged: [IndicatorWindow: Signature] = [:]

    struct Signature: Equatable {
        var revisions: Int64
        var closed: Bool
        var digest: Double
    }

    /// Partitions that have never reported, at the last step (nothing is merged until they do).
    public private(set) var waitingFor: [Int] = []

    public init(store: any SharedStore, config: GatewayConfig, partitions: Int, definitions: [IndicatorDefinition]) {
        self.store = store
        self.config = config
        self.partitions = partitions
        self.definitions = definitions
        lease = config.partitionLease
        lengths = [config.window * 1000, 3_600_000, 86_400_000]
    }

    /// Merges the city windows that every live partition has passed and whose records changed
    /// since they were last merged, writes their indicators and returns them. `final` merges
    /// every window in the store whatever the clocks (after the instances stopped), and
    /// refuses when a partition never reported.
    @discardableResult
    public func step(final: Bool) throws -> [IndicatorValue] {
        let states = try store.partitions(count: partitions)
        let present = Set(states.map(\.report.index))
        waitingFor = (1...partitions).filter { !present.contains($0) }
        if !waitingFor.isEmpty {
            guard final else { return [] }
            throw GatewayError.partition("partition\(waitingFor.count == 1 ? "" : "s") \(waitingFor.map { "\($0)/\(partitions)" }.joined(separator: ", ")) never wrote to this store; start \(waitingFor.count == 1 ? "it" : "them") (gateway --partition k/\(partitions)) and let \(waitingFor.count == 1 ? "it" : "them") finish, or merge with the number of partitions the gateways ran with")
        }
        let live = states.filter { $0.isLive(lease: lease) }
        // A city's watermark: the slowest live partition that owns districts of it.
        func watermark(_ city: String) -> Int64 {
            if final { return .max }
            return live.compactMap { $0.report.clocks[city] }.min() ?? .max
        }
        // Every partition's windows up to its clock minus the lateness are final.
        let lateness = config.lateness * 1000
        let settled = states.flatMap { $0.report.clocks.values }.min().map { $0 == .min ? .min : $0 - lateness } ?? .min
        var groups: [IndicatorWindow: (series: [String: [String: WindowPartial]], signature: Signature, end: Int64)] = [:]
        for record in try store.windows(endingAfter: cursor) {
            let key = IndicatorWindow(city: record.city, resolution: record.resolution, start: record.start)
            var group = groups[key] ?? ([:], Signature(revisions: 0, closed: true, digest: 0), record.end)
            group.series[IndicatorStage.seriesName(record), default: [:]][record.district] = record.partial
            group.signature.revisions += Int64(record.revision) + 1
            group.signature.closed = group.signature.closed && record.closed
            group.signature.digest += Double(record.partial.count) + record.partial.sum + record.partial.increment
            groups[key] = group
        }
        let devices = states.map(\.report.devices)
        let seen: (String, Domain) -> Int = { city, domain in devices.reduce(0) { $0 + ($1[city]?[domain.rawValue] ?? 0) } }
        var out: [IndicatorValue] = []
        for (key, group) in groups.sorted(by: { $0.key < $1.key }) where group.end <= watermark(key.city) {
            guard merged[key] != group.signature else { continue }
            let values = IndicatorStage.values(of: key, series: group.series, closed: group.signature.closed,
                                               revision: Int32(clamping: group.signature.revisions), definitions: definitions,
                                               config: config, lengths: lengths, devices: seen)
            merged[key] = group.signature
            out += values
        }
        if !out.isEmpty {
            var batch = StoreBatch()
            batch.indicators = out
            try store.write(batch)
        }
        // Read from the old cursor this time: a window that became final since was read and merged now.
        if !final, settled > cursor {
            cursor = settled
            merged = merged.filter { $0.key.start + lengths[$0.key.resolution.rawValue] > settled }
        }
        return out
    }
}
