import ArgumentParser
import Foundation
import Gateway
import MQTT
import Simulator
import Telemetry

/// `smartcity contract`: the scenario's MQTT interface as an AsyncAPI 3.0 document, with a JSON
/// Schema (draft-07, which AsyncAPI's schema format extends) for each family's SenML payload,
/// to hand to a device vendor or a platform team.
struct Contract: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the scenario's channels (telemetry, status and last will, indicators, alarms) as an AsyncAPI 3.0 document with a JSON Schema per payload.")

    @Argument(help: "Scenario file.")
    var scenario: String = "Scenarios/almaty.yaml"

    @Option(help: "Output file ('-' for standard output).")
    var output: String = "-"

    func run() throws {
        let loaded = try Scenario(contentsOf: scenario)
        let document = ContractDocument(scenario: loaded).json
        if output == "-" {
            print(document)
        } else {
            do { try document.write(toFile: output, atomically: true, encoding: .utf8) } catch {
                throw ValidationError("cannot write \(output): \(error); check that its directory exists and is writable")
            }
            print("contract: \(output)")
        }
    }
}

/// The AsyncAPI document of a scenario: built as plain JSON values, written with sorted keys
/// so the same scenario gives the same bytes.
struct ContractDocument {
    let scenario: Scenario

    /// The families the scenario's cities run, in the schema's order.
    var families: [EntitySchema] {
        let fleets = scenario.cities.map(\.fleets)
        return scenario.schema.entities.filter { entity in
            if fleets.contains(where: { $0.defined.contains { $0.type.schema.type == entity.type } }) { return true }
            return switch entity.type {
            case "TrafficFlowObserved": fleets.contains { $0.traffic != nil }
            case "Streetlight": fleets.contains { $0.lighting != nil }
            case "WasteContainer": fleets.contains { $0.waste != nil }
            case "WaterConsumptionObserved": fleets.contains { $0.water != nil }
            case "WaterObserved": fleets.contains { ($0.water?.networkSensorsPerDistrict ?? 0) > 0 }
            case "AirQualityObserved": fleets.contains { $0.environment != nil }
            default: false
            }
        }
    }

    /// A topic of the scenario's template with `domain` and `kind` filled in; the rest stay
    /// AsyncAPI parameters.
    func address(domain: String, kind: String) -> String {
        scenario.mqtt.topic.replacingOccurrences(of: "{domain}", with: domain).replacingOccurrences(of: "{kind}", with: kind)
    }

    /// The parameters of an address: those of its placeholders.
    func parameters(of address: String) -> [String: Any] { parameters.filter { address.contains("{\($0.key)}") } }

    var parameters: [String: Any] {
        [
            "city": ["description": "The city's id.", "enum": scenario.cities.map(\.id)],
            "district": ["description": "The district's id.", "enum": Array(Set(scenario.cities.flatMap { $0.districts.map(\.id) })).sorted()],
            "device": ["description": "The device's id: {city code}-{device code}-{number}, e.g. alm-tf-000042."],
        ]
    }

    /// The JSON Schema of one SenML record carrying `attribute` (base fields allowed).
    func record(_ attribute: AttributeSchema, entity: EntitySchema) -> [String: Any] {
        var properties = base(entity)
        properties["n"] = ["const": attribute.name]
        if let unit = attribute.unit { properties["u"] = ["const": unit] }
        let field: String
        switch attribute.kind {
        case .number:
            field = "v"
            properties[field] = ["type": "number", "minimum": attribute.range.lowerBound, "maximum": attribute.range.upperBound]
        case .sum:
            field = "s"
            properties[field] = ["type": "number", "minimum": attribute.range.lowerBound, "maximum": attribute.range.upperBound]
        case .bool:
            field = "vb"
            properties[field] = ["type": "boolean"]
        case .string:
            field = "vs"
            properties[field] = ["type": "string", "enum": attribute.allowed]
        }
        return ["type": "object", "properties": properties, "required": ["n", field], "additionalProperties": false,
                "description": "\(attribute.name)\(attribute.unit.map { " in \($0)" } ?? "")"]
    }

    /// SenML base fields any record of the pack may carry (the first carries bn and bt).
    func base(_ entity: EntitySchema) -> [String: Any] {
        [
            "bn": ["type": "string", "pattern": "^urn:ngsi-ld:\(entity.type):[A-Za-z0-9_.-]+:$",
                   "description": "Base name: urn:ngsi-ld:{EntityType}:{device}:"],
            "bt": ["type": "number", "description": "Base time: the reading's event time, seconds since 1970 (UTC)."],
            "t": ["type": "number", "description": "Time relative to bt, seconds."],
        ]
    }

    /// The JSON Schema of a family's pack: a SenML array of its attributes' records and the
    /// envelope's sequence number and send time, one of them with the base name and time.
    func pack(_ entity: EntitySchema) -> [String: Any] {
        var records = entity.attributes.map { record($0, entity: entity) }
        var seq = base(entity)
        seq["n"] = ["const": String(describing: Envelope.sequence)]
        seq["v"] = ["type": "integer", "minimum": 0]
        records.append(["type": "object", "properties": seq, "required": ["n", "v"], "additionalProperties": false,
                        "description": "The device's message counter (deduplication)."])
        var sent = base(entity)
        sent["n"] = ["const": String(describing: Envelope.sent)]
        sent["u"] = ["const": String(describing: Envelope.sentUnit)]
        sent["v"] = ["type": "number"]
        records.append(["type": "object", "properties": sent, "required": ["n", "v"], "additionalProperties": false,
                        "description": "The send time, seconds since 1970."])
        return [
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "\(entity.type) SenML pack",
            "type": "array", "minItems": 1,
            "items": ["oneOf": records],
            "contains": ["type": "object", "required": ["bn", "bt"]],
        ]
    }

    /// The payload formats the scenario's fleets of a family write.
    func formats(of entity: EntitySchema) -> [PayloadFormat] {
        var out: [PayloadFormat] = []
        for city in scenario.cities {
            for (type, format) in city.fleets.payloads where type == entity.type && !out.contains(format) { out.append(format) }
        }
        return out.isEmpty ? [.senml] : out
    }

    /// The JSON Schema of one attribute's value.
    func valueSchema(_ attribute: AttributeSchema) -> [String: Any] {
        switch attribute.kind {
        case .number, .sum: ["type": "number", "minimum": attribute.range.lowerBound, "maximum": attribute.range.upperBound]
        case .bool: ["type": "boolean"]
        case .string: ["type": "string", "enum": attribute.allowed]
        }
    }

    /// The flat JSON object of a family: `{"ts": ms, "values": {...}}`, units implied.
    func flat(_ entity: EntitySchema) -> [String: Any] {
        var values = Dictionary(uniqueKeysWithValues: entity.attributes.map { ($0.name, valueSchema($0) as Any) })
        values[String(describing: Envelope.sequence)] = ["type": "integer", "minimum": 0]
        values[String(describing: Envelope.sent)] = ["type": "number", "description": "The send time, seconds since 1970."]
        return [
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "\(entity.type) flat JSON",
            "type": "object", "additionalProperties": false, "required": ["ts", "values"],
            "properties": [
                "ts": ["type": "integer", "minimum": 0, "description": "The reading's event time, ms since 1970 (UTC)."],
                "values": ["type": "object", "additionalProperties": false, "minProperties": 1, "properties": values,
                           "description": "Attribute values in the family's units: \(entity.attributes.map { "\($0.name)\($0.unit.map { " (\($0))" } ?? "")" }.joined(separator: ", "))"],
            ],
        ]
    }

    /// The normalized NGSI-LD entity of a family: each attribute a Property with its value,
    /// observedAt and, where the unit has one, its UN/CEFACT unitCode.
    func ngsiLD(_ entity: EntitySchema) -> [String: Any] {
        func property(_ value: [String: Any], unit: String?) -> [String: Any] {
            var properties: [String: Any] = ["type": ["const": "Property"], "value": value,
                                             "observedAt": ["type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$"]]
            if let code = unit.flatMap({ PayloadFormat.unitCodes[$0] }) { properties["unitCode"] = ["const": code] }
            return ["type": "object", "additionalProperties": false, "required": ["type", "value", "observedAt"], "properties": properties]
        }
        var properties: [String: Any] = [
            "id": ["type": "string", "pattern": "^urn:ngsi-ld:\(entity.type):[A-Za-z0-9_.-]+$"],
            "type": ["const": entity.type],
            "@context": ["oneOf": [["type": "string"], ["type": "array", "items": ["type": "string"]]]],
        ]
        for attribute in entity.attributes { properties[attribute.name] = property(valueSchema(attribute), unit: attribute.unit) }
        properties[String(describing: Envelope.sequence)] = property(["type": "integer", "minimum": 0], unit: nil)
        properties[String(describing: Envelope.sent)] = property(["type": "number"], unit: String(describing: Envelope.sentUnit))
        return [
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "\(entity.type) NGSI-LD entity (normalized)",
            "type": "object", "additionalProperties": false, "required": ["id", "type"], "minProperties": 3,
            "properties": properties,
        ]
    }

    var value: [String: Any] {
        let settings = scenario.mqtt
        let qos = settings.qos
        var channels: [String: Any] = [:]
        var operations: [String: Any] = [:]
        var messages: [String: Any] = [:]
        let domains = Array(Set(families.map(\.domain.rawValue))).sorted()
        // A topic layout without the domain level carries every family on one channel.
        let byDomain = scenario.mqtt.topic.contains("{domain}")
        for domain in byDomain ? domains : ["all"] {
            let entities = families.filter { !byDomain || $0.domain.rawValue == domain }
            var used: [String: Any] = [:]
            for entity in entities {
                let names = [PayloadFormat.senml: entity.type, .json: entity.type + "Flat", .ngsiLD: entity.type + "NGSILD"]
                messages[names[.senml]!] = [
                    "name": entity.type, "title": "\(entity.type) reading", "contentType": "application/senml+json",
                    "summary": "One reading of a \(entity.type) device as a SenML pack (RFC 8428).",
                    "payload": pack(entity),
                ]
                messages[names[.json]!] = [
                    "name": names[.json]!, "title": "\(entity.type) reading, flat JSON", "contentType": "application/json",
                    "summary": "One reading of a \(entity.type) device as a flat JSON object (ts and values).",
                    "payload": flat(entity),
                ]
                messages[names[.ngsiLD]!] = [
                    "name": names[.ngsiLD]!, "title": "\(entity.type) reading, NGSI-LD", "contentType": "application/ld+json",
                    "summary": "One reading of a \(entity.type) device as a normalized NGSI-LD entity.",
                    "payload": ngsiLD(entity),
                ]
                for format in formats(of: entity) { used[names[format]!] = ["$ref": "#/components/messages/\(names[format]!)"] }
            }
            channels["\(domain)Telemetry"] = [
                "address": address(domain: domain, kind: "attrs"),
                "description": "Readings of the \(domain) devices, one message per reading in the format of its fleet (SenML pack, flat JSON or NGSI-LD entity).",
                "parameters": parameters(of: address(domain: domain, kind: "attrs")),
                "messages": used,
            ]
            channels["\(domain)Status"] = [
                "address": address(domain: domain, kind: "status"),
                "description": "Each \(domain) device's (or concentrator's) connection state, retained: `online` when it connects; `offline` when it disconnects, and as its last will (QoS 1, retained) when the broker loses it.",
                "parameters": parameters(of: address(domain: domain, kind: "status")),
                "messages": ["status": ["$ref": "#/components/messages/status"]],
            ]
            operations["send\(domain.capitalized)Telemetry"] = [
                "action": "send", "channel": ["$ref": "#/channels/\(domain)Telemetry"],
                "bindings": ["mqtt": ["qos": qos, "retain": false, "bindingVersion": "0.2.0"]],
            ]
            operations["send\(domain.capitalized)Status"] = [
                "action": "send", "channel": ["$ref": "#/channels/\(domain)Status"],
                "bindings": ["mqtt": ["qos": 1, "retain": true, "bindingVersion": "0.2.0"]],
            ]
        }
        messages["status"] = [
            "name": "status", "contentType": "text/plain",
            "payload": ["type": "string", "enum": [String(describing: Envelope.statusOnline), String(describing: Envelope.statusOffline)]],
        ]
        let slug: [String: Any] = ["description": "The indicator's slug, e.g. ENV_pm25."]
        channels["indicators"] = [
            "address": "city/{city}/indicators/{slug}",
            "description": "The gateway's newest value of each indicator over its base windows, retained.",
            "parameters": ["city": parameters["city"]!, "slug": slug],
            "messages": ["indicator": ["$ref": "#/components/messages/indicator"]],
        ]
        channels["indicatorsByResolution"] = [
            "address": "city/{city}/indicators/{slug}/{resolution}",
            "description": "The gateway's newest value of each indicator over hourly or daily windows, retained.",
            "parameters": ["city": parameters["city"]!, "slug": slug, "resolution": ["enum": ["hour", "day"]]],
            "messages": ["indicator": ["$ref": "#/components/messages/indicator"]],
        ]
        messages["indicator"] = [
            "name": "indicator", "contentType": "application/json",
            "payload": [
                "type": "object", "additionalProperties": false,
                "required": ["city", "code", "name", "unit", "value", "resolution", "start", "end", "revision", "closed"],
                "properties": [
                    "city": ["type": "string"], "code": ["type": "string"], "name": ["type": "string"], "unit": ["type": "string"],
                    "value": ["type": "number"], "resolution": ["type": "string", "enum": ["base", "hour", "day"]],
                    "start": ["type": "string", "format": "date-time"], "end": ["type": "string", "format": "date-time"],
                    "revision": ["type": "integer", "minimum": 0], "closed": ["type": "boolean"],
                ],
            ],
        ]
        channels["alarms"] = [
            "address": "city/{city}/alarms/{domain}/{district}/{device}/{kind}",
            "description": "The gateway's alarms, retained per device and kind: raised, then cleared.",
            "parameters": ["city": parameters["city"]!, "district": parameters["district"]!, "device": parameters["device"]!,
                           "domain": ["enum": domains], "kind": ["enum": AlarmKind.allCases.map(\.name)]],
            "messages": ["alarm": ["$ref": "#/components/messages/alarm"]],
        ]
        messages["alarm"] = [
            "name": "alarm", "contentType": "application/json",
            "payload": [
                "type": "object", "additionalProperties": false,
                "required": ["city", "domain", "district", "device", "kind", "severity", "raised", "value", "state"],
                "properties": [
                    "city": ["type": "string"], "domain": ["type": "string"], "district": ["type": "string"], "device": ["type": "string"],
                    "kind": ["type": "string", "enum": AlarmKind.allCases.map(\.name)],
                    "severity": ["type": "string", "enum": ["critical", "major", "minor", "warning"]],
                    "raised": ["type": "integer", "description": "Event time, ms since 1970."],
                    "cleared": ["type": "integer", "description": "Event time, ms since 1970; absent while the alarm is open."],
                    "value": ["type": "number"], "state": ["type": "string", "enum": ["raised", "cleared"]],
                ],
            ],
        ]
        for (name, channel) in [("receiveIndicators", "indicators"), ("receiveIndicatorsByResolution", "indicatorsByResolution"), ("receiveAlarms", "alarms")] {
            operations[name] = ["action": "receive", "channel": ["$ref": "#/channels/\(channel)"],
                                "bindings": ["mqtt": ["qos": 1, "retain": true, "bindingVersion": "0.2.0"]]]
        }
        let willTopic = address(domain: "{domain}", kind: "status")
        return [
            "asyncapi": "3.0.0",
            "info": [
                "title": "\(scenario.name): smart-city telemetry",
                "version": scenario.hash,
                "description": "The MQTT interface of scenario '\(scenario.name)' (hash \(scenario.hash)): what its devices publish, and what the gateway publishes back. Client ids are '\(settings.clientPrefix)-{device or concentrator}'; each connection sets a last will of 'offline' on its status topic (QoS 1, retained) and a keep-alive of \(settings.keepAlive) s.",
            ],
            "defaultContentType": "application/senml+json",
            "servers": [
                "broker": [
                    "host": settings.broker.flatMap { try? BrokerURL(parsing: $0) }.map { "\($0.host):\($0.port)" } ?? "localhost:1883",
                    "protocol": settings.caFile != nil ? "secure-mqtt" : "mqtt",
                    "protocolVersion": settings.protocolVersion,
                    "bindings": ["mqtt": [
                        "cleanSession": qos == 0, "keepAlive": settings.keepAlive, "bindingVersion": "0.2.0",
                        "lastWill": ["topic": willTopic, "qos": 1, "message": String(describing: Envelope.statusOffline), "retain": true],
                    ]],
                ],
            ],
            "channels": channels,
            "operations": operations,
            "components": ["messages": messages],
        ]
    }

    var json: String {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
