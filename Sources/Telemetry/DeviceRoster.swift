/// The devices a gateway admits: a simulated city's fleets (ids `{prefix}{index}` numbered per
/// district, from its scenario) and devices listed one by one (a registry file of real devices).
/// A device is known when its city, domain, district and id match one of them.
public struct DeviceRoster: Sendable, Equatable {
    /// A fleet numbered like the simulator's: ids `{prefix}` followed by exactly `digits`
    /// decimal digits, the indexes `starts[i]..<starts[i+1]` in district `districts[i]`.
    public struct NumberedFleet: Sendable, Equatable {
        public var city: String
        public var domain: Domain
        public var prefix: [UInt8]
        public var digits: Int
        public var districts: [String]
        public var starts: [Int]

        public init(city: String, domain: Domain, prefix: String, digits: Int, districts: [String], starts: [Int]) {
            precondition(starts.count == districts.count + 1, "one start per district and the end")
            self.city = city
            self.domain = domain
            self.prefix = Array(prefix.utf8)
            self.digits = digits
            self.districts = districts
            self.starts = starts
        }

        /// The device's index when `device` is one of this fleet's ids in `district`.
        func index(of device: UnsafeBufferPointer<UInt8>, district: String) -> Int? {
            guard let (index, at) = place(of: device), at == district else { return nil }
            return index
        }

        public var count: Int { starts.last ?? 0 }

        /// The index and district of one of this fleet's ids, whatever its district.
        func place(of device: UnsafeBufferPointer<UInt8>) -> (Int, String)? {
            guard device.count == prefix.count + digits, device.starts(with: prefix) else { return nil }
            var index = 0
            for byte in device[prefix.count...] {
                guard byte >= 48, byte <= 57 else { return nil }
                index = index * 10 + Int(byte - 48)
            }
            guard let d = (0..<districts.count).first(where: { starts[$0] <= index && index < starts[$0 + 1] }) else { return nil }
            return (index, districts[d])
        }
    }

    public private(set) var fleets: [NumberedFleet] = []
    /// Devices listed one by one, keyed `city/domain/district/device`.
    public private(set) var listed: Set<String> = []
    /// Where each listed device is (`city/domain/district`; empty when it is listed twice),
    /// for topics that name the device alone.
    public private(set) var places: [String: String] = [:]
    /// The entity type of listed devices whose registry gives one (a `type` column), for
    /// payloads that do not carry it.
    public private(set) var types: [String: String] = [:]

    public init() {}

    public var isEmpty: Bool { fleets.isEmpty && listed.isEmpty }
    /// Devices the roster names.
    public var count: Int { fleets.reduce(listed.count) { $0 + $1.count } }

    public mutating func add(_ fleet: NumberedFleet) { fleets.append(fleet) }

    public mutating func add(city: String, domain: Domain, district: String, device: String, type: String? = nil) {
        listed.insert("\(city)/\(domain.rawValue)/\(district)/\(device)")
        let place = "\(city)/\(domain.rawValue)/\(district)"
        places[device] = places[device].map { $0 == place ? place : "" } ?? place
        if let type { types[device] = type }
    }

    public mutating func merge(_ other: DeviceRoster) {
        fleets += other.fleets
        listed.formUnion(other.listed)
        places.merge(other.places) { $0 == $1 ? $0 : "" }
        types.merge(other.types) { $1 }
    }

    /// The city, domain and district of a device named alone: one of a numbered fleet's ids,
    /// or a listed device listed once. Nil when the roster does not place it, or places it twice.
    public func locate(device: String) -> (city: String, domain: Domain, district: String)? {
        var found: (String, Domain, String)?
        let bytes = Array(device.utf8)
        for fleet in fleets {
            guard let (_, district) = bytes.withUnsafeBufferPointer({ fleet.place(of: $0) }) else { continue }
            if found != nil { return nil }
            found = (fleet.city, fleet.domain, district)
        }
        if let place = places[device] {
            let parts = place.split(separator: "/").map(String.init)
            guard found == nil, parts.count == 3, let domain = Domain(rawValue: parts[1]) else { return nil }
            found = (parts[0], domain, parts[2])
        }
        return found
    }

    /// Whether the roster names this device in this city, domain and district.
    public func contains(city: String, domain: Domain, district: String, device: UnsafeBufferPointer<UInt8>) -> Bool {
        for fleet in fleets where fleet.domain == domain && fleet.city == city {
            if fleet.index(of: device, district: district) != nil { return true }
        }
        return !listed.isEmpty && listed.contains("\(city)/\(domain.rawValue)/\(district)/\(String(decoding: device, as: UTF8.self))")
    }

    /// Reads a registry of devices: CSV with the header `city,domain,district,device` (any
    /// column order, and optionally `type`, the device's entity type) and one device per line. Errors name the file, the line and the fix.
    public init(csv text: String, file: String) throws(RosterError) {
        self.init()
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated().makeIterator()
        guard let (_, headerLine) = lines.next() else { throw RosterError("\(file): the file is empty; the first line is the header city,domain,district,device") }
        let header = headerLine.split(separator: ",").map { $0.trimmingCharacters() }
        let wanted = ["city", "domain", "district", "device"]
        let columns = wanted.map { header.firstIndex(of: $0) }
        guard columns.allSatisfy({ $0 != nil }) else {
            throw RosterError("\(file):1: the header is '\(headerLine)'; it needs the columns city,domain,district,device")
        }
        let at = columns.map { $0! }
        let typeColumn = header.firstIndex(of: "type")
        while let (offset, line) = lines.next() {
            if line.allSatisfy(\.isWhitespace) { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters() }
            guard fields.count == header.count else {
                throw RosterError("\(file):\(offset + 1): \(fields.count) fields, the header has \(header.count)")
            }
            guard let domain = Domain(rawValue: fields[at[1]]) else {
                throw RosterError("\(file):\(offset + 1): domain '\(fields[at[1]])' is not one of \(Domain.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let parts = [fields[at[0]], fields[at[2]], fields[at[3]]]
            guard parts.allSatisfy({ !$0.isEmpty && TopicScheme.isLevel($0) }) else {
                throw RosterError("\(file):\(offset + 1): city, district and device must be non-empty topic levels (no '/', '+', '#')")
            }
            let type = typeColumn.map { fields[$0] }.flatMap { $0.isEmpty ? nil : $0 }
            add(city: parts[0], domain: domain, district: parts[1], device: parts[2], type: type)
        }
    }
}

public struct RosterError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
