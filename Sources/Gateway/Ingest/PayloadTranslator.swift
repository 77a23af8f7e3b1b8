import Foundation
import Telemetry

/// Turns a message of a mapped topic layout or another payload format into the canonical topic
/// and a SenML pack, which the gateway then validates as any other: the same checks and
/// rejection reasons whatever the format. Flat JSON carries no units (the family's are
/// written); an NGSI-LD `unitCode` that is not the attribute's unit's code is passed on as the
/// unit, so the validator refuses it as a wrong unit.
public struct PayloadTranslator {
    let schema: TelemetrySchema
    let roster: DeviceRoster
    let formats: [PayloadFormatRule]
    let mappings: [TopicMapping]
    private let writer = SenMLWriter(capacity: 1024)
    private let names: [String: StaticBytes]

    public init(schema: TelemetrySchema, roster: DeviceRoster, formats: [PayloadFormatRule], mappings: [TopicMapping]) {
        self.schema = schema
        self.roster = roster
        self.formats = formats
        self.mappings = mappings
        var names: [String: StaticBytes] = [:]
        for e in schema.entities {
            names[e.type] = StaticBytes(e.type)
            for a in e.attributes {
                names[a.name] = StaticBytes(a.name)
                if let u = a.unit { names["unit:" + u] = StaticBytes(u) }
            }
        }
        self.names = names
    }

    var isActive: Bool { !formats.isEmpty || !mappings.isEmpty }

    static let sequenceName = StaticBytes(Envelope.sequence.description)
    static let sentName = StaticBytes(Envelope.sent.description)
    static let sentUnit = StaticBytes(Envelope.sentUnit.description)

    /// The canonical topic and SenML payload, or nil when the message is canonical already.
    public func translate(topic: UnsafeBufferPointer<UInt8>, payload: UnsafeBufferPointer<UInt8>) -> Result<(topic: [UInt8], payload: [UInt8])?, Rejection> {
        let text = String(decoding: topic, as: UTF8.self)
        let levels = text.split(separator: "/", omittingEmptySubsequences: false)
        var canonical: (city: String, domain: Domain, district: String, device: String, kind: TopicScheme.Kind)?
        for mapping in mappings {
            switch place(levels, mapping) {
            case .success(let p?): canonical = p
            case .success(nil): continue
            case .failure(let r): return .failure(r)
            }
            break
        }
        let allowed = formats.first { $0.matches(levels) }?.formats ?? [.senml]
        if canonical == nil, allowed == [.senml] { return .success(nil) }
        // Device, domain and kind from the canonical topic (mapped, or as it came).
        let place: (city: String, domain: Domain, district: String, device: String, kind: TopicScheme.Kind)
        if let canonical { place = canonical } else {
            guard let parsed = TopicScheme.parse(text) else {
                return .failure(Rejection(.badTopic, "'\(text)' does not follow the topic scheme or a topic mapping"))
            }
            place = (parsed.city, parsed.domain, parsed.district, parsed.device, parsed.isStatus ? .status : .attributes)
        }
        // The mapped topic, if the topic is not canonical already; a payload that needs no
        // translation is then used as it came, without a copy.
        let mapped = canonical.map { _ in
            Array(TopicScheme.topic(city: place.city, domain: place.domain, district: place.district, device: place.device, kind: place.kind).utf8)
        }
        if place.kind == .status { return .success(mapped.map { ($0, Array(payload)) }) }
        let first = payload.first { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
        if first == UInt8(ascii: "[") {
            guard allowed.contains(.senml) else {
                return .failure(Rejection(.wrongFormat, "a JSON array (SenML?) where this topic carries \(allowed.map(\.rawValue).joined(separator: " or "))"))
            }
            return .success(mapped.map { ($0, Array(payload)) })
        }
        switch pack(payload, allowed: allowed, device: place.device, domain: place.domain) {
        case .success(let bytes): return .success((mapped ?? Array(topic), bytes))
        case .failure(let r): return .failure(r)
        }
    }

    private func place(_ levels: [Substring], _ mapping: TopicMapping) -> Result<(city: String, domain: Domain, district: String, device: String, kind: TopicScheme.Kind)?, Rejection> {
        guard levels.count == mapping.levels.count else { return .success(nil) }
        var city: String?, domain: Domain?, district: String?, device = "", kind = mapping.kind
        for (level, pattern) in zip(levels, mapping.levels) {
            switch pattern {
            case .literal(let text): guard level == text else { return .success(nil) }
            case .city: city = String(level)
            case .domain:
                guard let d = Domain(rawValue: String(level)) else { return .failure(Rejection(.badTopic, "'\(level)' is not a domain")) }
                domain = d
            case .district: district = String(level)
            case .device: device = String(level)
            case .kind:
                switch level {
                case "attrs": kind = .attributes
                case "status": kind = .status
                default: return .failure(Rejection(.badTopic, "the kind level must be attrs or status, not '\(level)'"))
                }
            }
        }
        guard !device.isEmpty, TopicScheme.isLevel(device) else { return .failure(Rejection(.badTopic, "an empty device level")) }
        if city == nil || domain == nil || district == nil {
            guard let found = roster.locate(device: device) else {
                return .failure(Rejection(.unknownDevice, "device '\(device)' of topic pattern \(mapping.pattern) is not in the device registry (or is in it twice); add it with its city, domain and district"))
            }
            city = city ?? found.city
            domain = domain ?? found.domain
            district = district ?? found.district
        }
        return .success((city!, domain!, district!, device, kind))
    }

    /// The SenML pack of a flat JSON or NGSI-LD payload.
    private func pack(_ payload: UnsafeBufferPointer<UInt8>, allowed: [PayloadFormat], device: String, domain: Domain) -> Result<[UInt8], Rejection> {
        let expected = allowed.map(\.rawValue).joined(separator: " or ")
        let root: JSONValue
        do { root = try JSONValue.parse(payload) } catch {
            return .failure(Rejection(error.reason == .notFinite ? .notFinite : .malformedJSON, "not JSON (\(expected) expected on this topic): \(error.detail)"))
        }
        guard case .object(let object) = root else {
            return .failure(Rejection(.wrongFormat, "expected \(expected) on this topic"))
        }
        let format: PayloadFormat = object["ts"] != nil || object["values"] != nil ? .json : .ngsiLD
        guard allowed.contains(format), format == .json || object["id"] != nil else {
            return .failure(Rejection(.wrongFormat, "a JSON object that is not \(expected), which this topic carries"))
        }
        var entity: String?
        var timeMs: Int64?
        var properties: [(name: String, value: JSONValue, unitCode: String?)] = []
        if format == .json {
            guard case .number(let ts)? = object["ts"], case .object(let values)? = object["values"] else {
                return .failure(Rejection(.wrongFormat, #"expected a flat JSON object {"ts": ms, "values": {...}} on this topic"#))
            }
            guard ts >= 0, ts < 1e14 else { return .failure(Rejection(.outOfRange, "ts \(ts) is not a time in ms since 1970")) }
            timeMs = Int64(ts.rounded())
            if case .string(let t)? = object["type"] { entity = t }
            properties = values.sorted { $0.key < $1.key }.map { ($0.key, $0.value, nil) }
        } else {
            guard case .string(let id)? = object["id"], case .string(let type)? = object["type"] else {
                return .failure(Rejection(.wrongFormat, "expected an NGSI-LD entity (a JSON object with id and type) on this topic"))
            }
            guard id == "urn:ngsi-ld:\(type):\(device)" else {
                return .failure(Rejection(.entityMismatch, "id '\(id)' is not urn:ngsi-ld:\(type):\(device), this topic's device"))
            }
            entity = type
            for (name, value) in object.sorted(by: { $0.key < $1.key }) where !["id", "type", "@context"].contains(name) {
                guard case .object(let property) = value, case .string("Property")? = property["type"], let v = property["value"] else {
                    return .failure(Rejection(.wrongFormat, "\(name) is not an NGSI-LD Property ({\"type\": \"Property\", \"value\": ...})"))
                }
                guard case .string(let observed)? = property["observedAt"] else {
                    return .failure(Rejection(.missingField, "\(name) has no observedAt"))
                }
                guard let seconds = Timestamps.parse(observed) else { return .failure(Rejection(.outOfRange, "\(name): observedAt '\(observed)' is not a time")) }
                if let t = timeMs, t != seconds * 1000 {
                    return .failure(Rejection(.notSenML, "properties observed at different times; send one entity per time"))
                }
                timeMs = seconds * 1000
                var code: String?
                if case .string(let c)? = property["unitCode"] { code = c }
                properties.append((name, v, code))
            }
            guard timeMs != nil else { return .failure(Rejection(.missingField, "the entity has no property with observedAt")) }
        }
        // The family: named by the payload, else by the registry, else by the id's device code.
        if entity == nil { entity = roster.types[device] }
        if entity == nil {
            let code = device.split(separator: "-").dropFirst().first.map(String.init)
            entity = schema.entities.first { $0.domain == domain && $0.deviceCode == code }?.type
        }
        guard let entity, let e = schema.entity(named: entity) else {
            return .failure(Rejection(.entityMismatch, "the family of '\(device)' is not known: give it a type column in the device registry, or use ids {city}-{code}-{number} of a family"))
        }
        let family = schema.entities[e]
        writer.reset()
        writer.format = .senml
        let entityName = names[family.type]!
        Array(device.utf8).withUnsafeBufferPointer { writer.begin(entityType: entityName, deviceID: $0, timeMs: timeMs!) }
        for (name, value, unitCode) in properties {
            let nameBytes: StaticBytes
            var unit: StaticBytes?
            if name == Envelope.sequence.description {
                nameBytes = PayloadTranslator.sequenceName
            } else if name == Envelope.sent.description {
                nameBytes = PayloadTranslator.sentName
                unit = PayloadTranslator.sentUnit
            } else {
                guard let attribute = family.attribute(named: name), let bytes = names[name] else {
                    return .failure(Rejection(.unknownAttribute, "'\(name)' is not an attribute of \(family.type); allowed: \(family.attributes.map(\.name).joined(separator: ", "))"))
                }
                nameBytes = bytes
                unit = attribute.unit.flatMap { names["unit:" + $0] }
                if let unitCode, unitCode != attribute.unit.flatMap({ PayloadFormat.unitCodes[$0] }) {
                    return .failure(Rejection(.wrongUnit, "\(name) has the unit code '\(unitCode)'; expected \(attribute.unit.flatMap { PayloadFormat.unitCodes[$0] }.map { "'\($0)'" } ?? "none")"))
                }
                let fits = switch (attribute.kind, value) {
                case (.number, .number), (.sum, .number), (.bool, .bool), (.string, .string): true
                default: false
                }
                guard fits else { return .failure(Rejection(.wrongType, "\(name) must be \(attribute.kind.expected.split(separator: " (").first ?? "")")) }
                if case .number(let v) = value, attribute.kind == .sum {
                    writer.sum(nameBytes, unit: unit, v, decimals: -1)
                    continue
                }
            }
            switch value {
            case .number(let v): writer.number(nameBytes, unit: unit, v, decimals: -1)
            case .bool(let b): writer.bool(nameBytes, b)
            case .string(let s):
                guard s.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C }) else {
                    return .failure(Rejection(.wrongType, "\(name): a text with quotes, backslashes or control characters"))
                }
                writer.string(nameBytes, text: Array(s.utf8))
            default: return .failure(Rejection(.wrongType, "\(name): \(value) is not a number, a boolean or a text"))
            }
        }
        writer.end()
        return .success(Array(writer.bytes))
    }
}
