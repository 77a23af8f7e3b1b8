import Telemetry
/// Everything the aggregation keeps between messages; a checkpoint holds exactly this.
struct AggregationState {
    var counters = IngestCounters()
    var registry = DeviceRegistry()
    var meters: [MeterHistory] = []
    /// Traffic counters' off-peak speed histograms (`FreeFlowProfiles.bins` per counter).
    var freeFlow: [UInt16] = []
    var clocks: [CityClock] = []
    var windows: [WindowSlot] = []
    var indicatorRevisions: [IndicatorWindow: Int32] = [:]
    /// The detectors' memory per device and the open alarms.
    var watches: [DeviceWatch] = []
    var openAlarms: [OpenAlarm] = []
    /// The families the series are numbered by (`TelemetrySchema.fingerprint`); empty in
    /// checkpoints written before scenarios could define families, which had only the built-in ones.
    var schema = ""
}

/// Reads and writes the aggregation state as one byte string: plain structs as they lie in
/// memory (arrays behind their count), strings as UTF-8.
enum CheckpointCodec {
    /// 6 keeps the detectors' memory and the open alarms; 5 counts unknown devices and three more reject reasons and keeps when each city's clock last moved; 4 added the traffic counters' free-flow profiles and the night and peak series; 3 added
    /// each city's leading devices (the watermark quorum). Earlier formats lay the device
    /// state and the window series out differently and are not read.
    static let version: Int64 = 6

    /// An indicator window as a checkpoint stores it: the city by its registry number.
    private struct RevisionKey: BitwiseCopyable {
        var city: Int32
        var resolution: Int8
        var start: Int64
    }

    static func encode(_ state: AggregationState) -> [UInt8] {
        var w = SnapshotWriter()
        w.raw(version)
        w.raw(state.counters)
        state.registry.topics.write(to: &w)
        state.registry.groupKeys.write(to: &w)
        w.array(state.registry.devices)
        w.array(state.meters)
        w.array(state.freeFlow)
        w.array(state.registry.groups)
        w.int(state.registry.cities.count)
        for (id, clock) in zip(state.registry.cities, state.clocks) {
            w.string(id)
            w.raw(clock.offsetMs)
            w.raw(clock.newest)
            w.raw(clock.lastBoundary)
            w.raw(clock.newestArrival)
            w.raw(clock.leaders)
        }
        w.array(state.windows)
        let revisions = state.indicatorRevisions.sorted { $0.key < $1.key }
        let number = Dictionary(uniqueKeysWithValues: state.registry.cities.enumerated().map { ($1, Int32($0)) })
        w.array(revisions.map { RevisionKey(city: number[$0.key.city] ?? -1, resolution: Int8($0.key.resolution.rawValue), start: $0.key.start) })
        w.array(revisions.map(\.value))
        w.array(state.watches)
        w.array(state.openAlarms)
        // Last, so that checkpoints without it read as before.
        w.string(state.schema)
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(SnapshotError) -> AggregationState {
        var r = SnapshotReader(bytes)
        let format = try r.raw(Int64.self)
        guard format == version else {
            throw SnapshotError(description: "checkpoint of format \(format); this build reads format \(version) (the stored windows and indicators stay readable; start the aggregation afresh with a new store path, or finish with the build that wrote it)")
        }
        var state = AggregationState()
        state.counters = try r.raw(IngestCounters.self)
        state.registry.topics = try ByteInterner.read(from: &r)
        state.registry.groupKeys = try ByteInterner.read(from: &r)
        state.registry.devices = try r.array()
        state.meters = try r.array()
        state.freeFlow = try r.array()
        state.registry.groups = try r.array()
        for _ in 0..<(try r.int()) {
            state.registry.cities.append(try r.string())
            var clock = CityClock(offsetMs: try r.raw(Int64.self))
            clock.newest = try r.raw(Int64.self)
            clock.lastBoundary = try r.raw(Int64.self)
            clock.newestArrival = try r.raw(Int64.self)
            clock.leaders = try r.raw(CityClock.Leaders.self)
            guard (0...Int32(CityClock.maximumQuorum)).contains(clock.leaders.count) else {
                throw SnapshotError(description: "checkpoint has a city with \(clock.leaders.count) leading devices")
            }
            state.clocks.append(clock)
        }
        state.windows = try r.array()
        let keys: [RevisionKey] = try r.array()
        let values: [Int32] = try r.array()
        guard keys.count == values.count else { throw SnapshotError(description: "checkpoint has mismatched indicator revisions") }
        for (key, value) in zip(keys, values) {
            guard state.registry.cities.indices.contains(Int(key.city)), let resolution = Resolution(rawValue: Int(key.resolution)) else {
                throw SnapshotError(description: "checkpoint names an unknown city or resolution")
            }
            state.indicatorRevisions[IndicatorWindow(city: state.registry.cities[Int(key.city)], resolution: resolution, start: key.start)] = value
        }
        state.watches = try r.array()
        state.openAlarms = try r.array()
        state.schema = r.isAtEnd ? TelemetrySchema.standard.fingerprint : try r.string()
        guard r.isAtEnd else { throw SnapshotError(description: "checkpoint has trailing bytes") }
        let groups = state.registry.groups.count, cities = state.registry.cities.count
        guard state.freeFlow.count % FreeFlowProfiles.bins == 0,
              state.registry.devices.allSatisfy({ $0.group >= 0 && Int($0.group) < groups && Int($0.meter) < state.meters.count
                  && Int($0.profile) < state.freeFlow.count / FreeFlowProfiles.bins }),
              state.registry.groups.allSatisfy({ $0.city >= 0 && Int($0.city) < cities }),
              state.windows.allSatisfy({ $0.city >= 0 && Int($0.city) < cities && Resolution(rawValue: Int($0.resolution)) != nil }),
              state.registry.topics.count == state.registry.devices.count,
              state.watches.count <= state.registry.devices.count,
              state.openAlarms.allSatisfy({ $0.device >= 0 && Int($0.device) < state.registry.devices.count && Int($0.group) < groups
                  && AlarmKind(rawValue: Int($0.kind)) != nil }) else {
            throw SnapshotError(description: "checkpoint is inconsistent (an index points outside its table)")
        }
        return state
    }
}
