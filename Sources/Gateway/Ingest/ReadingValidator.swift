import Telemetry

/// One validated telemetry message. Its values are in the buffer the caller handed to
/// `ReadingValidator.validate`.
struct Reading: Equatable {
    /// Index of the entity type in the schema.
    var entity: Int
    /// Event time, ms since 1970.
    var time: Int64
    var sequence: Int64
    /// Send time, s since 1970.
    var sent: Double
}

/// One value of a reading. `attribute` is the schema's global attribute id. Strings are not
/// aggregated: their value is the allowed value's index, -(index + 1) when it puts the device
/// in fault.
struct ReadingValue: Equatable {
    var attribute: Int
    var value: Double
}

/// The validation stage: a payload and the topic's device and domain in, a reading or a
/// rejection out. It changes nothing but its own parse buffers, so a rejected message leaves
/// no trace in the gateway's state.
struct ReadingValidator: ~Copyable {
    let schema: TelemetrySchema
    private var reader = SenMLReader()
    private let entityTypeBytes: [[UInt8]]
    private let attributeNames: [[[UInt8]]]
    /// What each attribute (by global id) accepts, as plain values, so the hot loop copies no
    /// schema structs or strings.
    private struct Check {
        var kind: AttributeSchema.Kind
        var low: Double
        var high: Double
        /// The unit's bytes in `unitBytes`; `unitStart < 0` when the attribute has no unit.
        var unitStart: Int32
        var unitEnd: Int32
    }
    private let checks: [Check]
    private let unitBytes: [UInt8]
    private let domains: [Domain]

    init(schema: TelemetrySchema) {
        self.schema = schema
        entityTypeBytes = schema.entities.map { Array($0.type.utf8) }
        attributeNames = schema.entities.map { $0.attributes.map { Array($0.name.utf8) } }
        var checks: [Check] = [], units: [UInt8] = []
        for entity in schema.entities {
            for a in entity.attributes {
                var check = Check(kind: a.kind, low: a.range.lowerBound, high: a.range.upperBound, unitStart: -1, unitEnd: -1)
                if let unit = a.unit {
                    check.unitStart = Int32(units.count)
                    units += Array(unit.utf8)
                    check.unitEnd = Int32(units.count)
                }
                checks.append(check)
            }
        }
        self.checks = checks
        unitBytes = units
        domains = schema.entities.map(\.domain)
    }

    /// A status payload: true for `online`, false for `offline`.
    static func status(_ payload: UnsafeBufferPointer<UInt8>) -> Result<Bool, Rejection> {
        if equals(payload, Envelope.statusOnline) { return .success(true) }
        if equals(payload, Envelope.statusOffline) { return .success(false) }
        return .failure(Rejection(.badStatus, "a status payload is 'online' or 'offline'"))
    }

    /// Validates every record of a SenML pack before any is used. `device` is the topic's
    /// device id, `domain` its domain; `values` is cleared and filled.
    mutating func validate(_ payload: UnsafeBufferPointer<UInt8>, device: UnsafeBufferPointer<UInt8>, domain: Domain,
                           into values: inout [ReadingValue]) -> Result<Reading, Rejection> {
        values.removeAll(keepingCapacity: true)
        do { try reader.read(payload) } catch {
            let reason: RejectReason = switch error.reason {
            case .malformedJSON: .malformedJSON
            case .notSenML: .notSenML
            case .notFinite: .notFinite
            case .tooManyRecords: .tooManyRecords
            }
            return .failure(Rejection(reason, error.description))
        }
        // Base name: urn:ngsi-ld:{Type}:{deviceId}:
        let bn = reader.baseName
        guard bn.isPresent else { return reject(.missingField, "no base name (bn); expected urn:ngsi-ld:{Type}:{deviceId}:") }
        guard reader.hasBaseTime else { return reject(.missingField, "no base time (bt)") }
        guard let entity = reader.withBytes(bn, in: payload, { entityOf(baseName: $0, device: device) }) else {
            return reject(.entityMismatch, "base name '\(reader.string(bn, in: payload))' does not name a known entity type and this topic's device")
        }
        guard domains[entity] == domain else {
            return reject(.entityMismatch, "\(schema.entities[entity].type) belongs to \(domains[entity].rawValue), not to this topic's domain")
        }
        let baseTime = reader.baseTime
        guard baseTime >= 0, baseTime < 1e11 else { return reject(.outOfRange, "bt \(baseTime) is not a time in seconds since 1970") }
        var sequence = -1.0
        var sent = -1.0
        var seen: UInt64 = 0
        let names = attributeNames[entity]
        let base = schema.attributeBase[entity]
        for i in 0..<reader.count {
            let record = reader[i]
            guard record.name.isPresent else { return reject(.missingField, "record \(i) has no name (n)") }
            guard record.hasValue else { return reject(.missingField, "record \(i) has no value") }
            if record.time != 0 { return reject(.notSenML, "record \(i): per-record times (t) are not used by this gateway; send one pack per time") }
            let index = reader.withBytes(record.name, in: payload) { n -> Int in
                for (j, name) in names.enumerated() where equals(n, name) { return j }
                if equals(n, Envelope.sequence) { return -2 }
                if equals(n, Envelope.sent) { return -3 }
                return -1
            }
            switch index {
            case -2:
                guard case .number(let v) = record.value, v >= 0, v < 9e15, v == v.rounded() else {
                    return reject(.wrongType, "seq must be a whole number >= 0")
                }
                sequence = v
                continue
            case -3:
                guard case .number(let v) = record.value, reader.withBytes(record.unit, in: payload, { equals($0, Envelope.sentUnit) }) else {
                    return reject(.wrongType, "sent must be a number in s")
                }
                // A send time outside any plausible clock would skew the ingest lag for good.
                guard v >= 0, v < 1e11 else { return reject(.outOfRange, "sent \(v) is not a time in seconds since 1970") }
                sent = v
                continue
            case -1:
                let schemaEntity = schema.entities[entity]
                return reject(.unknownAttribute, "'\(reader.string(record.name, in: payload))' is not an attribute of \(schemaEntity.type); allowed: \(schemaEntity.attributes.map(\.name).joined(separator: ", "))")
            default: break
            }
            if seen & (1 << UInt64(index)) != 0 {
                return reject(.repeatedAttribute, "'\(schema.entities[entity].attributes[index].name)' appears twice")
            }
            seen |= 1 << UInt64(index)
            let check = checks[base + index]
            if check.unitStart >= 0 {
                let unitMatches = record.unit.isPresent && reader.withBytes(record.unit, in: payload) { u in
                    unitBytes.withUnsafeBufferPointer { equals(u, UnsafeBufferPointer(rebasing: $0[Int(check.unitStart)..<Int(check.unitEnd)])) }
                }
                guard unitMatches else {
                    let attribute = schema.entities[entity].attributes[index]
                    return reject(.wrongUnit, "\(attribute.name) must be in '\(attribute.unit ?? "")', got '\(record.unit.isPresent ? reader.string(record.unit, in: payload) : "no unit")'")
                }
            } else if record.unit.isPresent {
                return reject(.wrongUnit, "\(schema.entities[entity].attributes[index].name) has no unit, got '\(reader.string(record.unit, in: payload))'")
            }
            let value: Double
            switch (check.kind, record.value) {
            case (.number, .number(let v)), (.sum, .sum(let v)):
                guard v >= check.low, v <= check.high else {
                    return reject(.outOfRange, "\(schema.entities[entity].attributes[index].name) = \(v) is outside \(check.low)...\(check.high)")
                }
                value = v
            case (.bool, .bool(let b)):
                value = b ? 1 : 0
            case (.string, .string(let s)):
                let attribute = schema.entities[entity].attributes[index]
                let matched = reader.withBytes(s, in: payload) { b -> Int? in
                    for (j, allowed) in attribute.allowed.enumerated() where equals(b, allowed) { return j }
                    return nil
                }
                guard let m = matched else {
                    return reject(.outOfRange, "\(attribute.name) = '\(reader.string(s, in: payload))'; allowed: \(attribute.allowed.joined(separator: ", "))")
                }
                // The allowed value's index; negative (-(index + 1)) for one that puts the device in fault.
                value = attribute.faultValues.contains(attribute.allowed[m]) ? Double(-(m + 1)) : Double(m)
            default:
                return reject(.wrongType, "\(schema.entities[entity].attributes[index].name) must be \(check.kind.expected)")
            }
            values.append(ReadingValue(attribute: base + index, value: value))
        }
        guard sequence >= 0 else { return reject(.missingField, "no sequence number (seq)") }
        guard sent >= 0 else { return reject(.missingField, "no send time (sent)") }
        return .success(Reading(entity: entity, time: Int64((baseTime * 1000).rounded()), sequence: Int64(sequence), sent: sent))
    }

    private func reject(_ reason: RejectReason, _ detail: String) -> Result<Reading, Rejection> {
        .failure(Rejection(reason, detail))
    }

    /// The entity index named by a base name `urn:ngsi-ld:{Type}:{device}:` for this device.
    private func entityOf(baseName b: UnsafeBufferPointer<UInt8>, device: UnsafeBufferPointer<UInt8>) -> Int? {
        let prefix = Envelope.baseNamePrefix.utf8CodeUnitCount
        guard b.count > prefix + device.count + 2, equals(UnsafeBufferPointer(rebasing: b[0..<prefix]), Envelope.baseNamePrefix),
              b[b.count - 1] == UInt8(ascii: ":") else { return nil }
        let typeEnd = b.count - 2 - device.count
        guard b[typeEnd] == UInt8(ascii: ":"), equals(UnsafeBufferPointer(rebasing: b[(typeEnd + 1)..<(b.count - 1)]), device) else { return nil }
        let type = UnsafeBufferPointer(rebasing: b[prefix..<typeEnd])
        for (i, t) in entityTypeBytes.enumerated() where equals(type, t) { return i }
        return nil
    }
}
