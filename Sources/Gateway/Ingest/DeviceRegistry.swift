import Telemetry

/// What the gateway keeps per device: where it reports (its group), what it is, and the state
/// of the stages that follow it (deduplication, distinct counting, meter, family rules).
/// A flat plain struct: it is copied as it lies into checkpoints.
struct DeviceState: BitwiseCopyable {
    var group: Int32
    var entity: Int16 = -1
    /// -1 unknown, 0 offline, 1 online (from the retained status topic).
    var online: Int8 = -1
    /// The device id: offset and length in the device key (the topic without its last level).
    var deviceOffset: Int16 = 0
    var deviceLength: Int16 = 0
    var sequence = SequenceWindow()
    /// Windows the device was counted in (as reporting, and as faulty).
    var counted = WindowMarks()
    var faulted = WindowMarks()
    /// Index of its meter history, -1 before its first meter reading.
    var meter: Int32 = -1
    /// Index of its free-flow speed profile (traffic counters), -1 before its first count.
    var profile: Int32 = -1
    /// Newest event time (ms) of this device.
    var newest: Int64 = .min
    var lastEmptying = 0.0
    var lastCargo = 0.0

    init(group: Int32) { self.group = group }
}

/// The devices of one (city, domain, district): the unit of aggregation.
struct GroupState: BitwiseCopyable {
    var city: Int32
    var domain: Int8
    /// District name: offset and length in the group key (`city/{city}/{domain}/{district}`).
    var districtOffset: Int16
    var districtLength: Int16
    var devices: Int32 = 0
}

/// The device registry: device keys (topics without their last level), their groups and
/// cities, each numbered densely in order of first appearance. Only validated messages
/// register anything. A class: the ingest reads it for every message, and a struct held by the
/// aggregator was copied (every array retained and released) on each of those reads.
final class DeviceRegistry {
    var topics = ByteInterner(capacity: 4096)
    var groupKeys = ByteInterner(capacity: 256)
    var devices: [DeviceState] = []
    var groups: [GroupState] = []
    var cities: [String] = []

    init() {}

    func find(_ key: UnsafeBufferPointer<UInt8>, hash: UInt64) -> Int? {
        topics.find(key, hash: hash).map(Int.init)
    }

    func city(named name: String) -> Int? { cities.firstIndex(of: name) }

    func addCity(_ name: String) -> Int {
        cities.append(name)
        return cities.count - 1
    }

    func domain(ofDevice d: Int) -> Domain { Domain.allCases[Int(groups[Int(devices[d].group)].domain)] }
    func city(ofDevice d: Int) -> Int { Int(groups[Int(devices[d].group)].city) }
    func deviceRange(_ d: Int) -> Range<Int> { Int(devices[d].deviceOffset)..<Int(devices[d].deviceOffset + devices[d].deviceLength) }

    /// Registers the device of a key whose levels were parsed, in a city already known.
    func register(_ key: UnsafeBufferPointer<UInt8>, hash: UInt64, levels: TopicScheme.Levels, city: Int) -> Int {
        let cityName = cities[city]
        let district = String(decoding: UnsafeBufferPointer(rebasing: key[levels.district]), as: UTF8.self)
        let groupText = "city/\(cityName)/\(levels.domain.rawValue)/\(district)"
        var groupBytes = Array(groupText.utf8)
        let group: Int32 = groupBytes.withUnsafeMutableBufferPointer { b in
            let gb = UnsafeBufferPointer(b)
            let h = ByteInterner.hash(gb)
            if let g = groupKeys.find(gb, hash: h) { return g }
            let g = groupKeys.insert(gb, hash: h)
            groups.append(GroupState(city: Int32(city), domain: Int8(levels.domain.ordinal),
                                     districtOffset: Int16(gb.count - district.utf8.count), districtLength: Int16(district.utf8.count)))
            return g
        }
        let id = topics.insert(key, hash: hash)
        groups[Int(group)].devices += 1
        var state = DeviceState(group: group)
        state.deviceOffset = Int16(levels.device.lowerBound)
        state.deviceLength = Int16(levels.device.count)
        devices.append(state)
        precondition(Int(id) == devices.count - 1)
        return Int(id)
    }

    func district(ofGroup group: Int) -> String {
        let g = groups[group]
        let key = groupKeys.key(Int32(group))
        return String(decoding: key[Int(g.districtOffset)..<Int(g.districtOffset + g.districtLength)], as: UTF8.self)
    }

    /// Devices registered in a city's domain.
    func devices(city: Int, domain: Domain) -> Int {
        groups.reduce(0) { $0 + ($1.city == Int32(city) && Int($1.domain) == domain.ordinal ? Int($1.devices) : 0) }
    }
}
