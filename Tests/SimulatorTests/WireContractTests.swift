import Foundation
@testable import Simulator
import Telemetry
import Testing
import TestSupport

/// What the simulated devices send is exactly what the wire contract (`TelemetrySchema`,
/// `Envelope`, `TopicScheme`) defines, attribute by attribute, in both directions.
@Suite struct WireContractTests {
    /// Per entity type: attribute name -> (record field, unit) as seen in the payloads.
    func observed() throws -> [String: [String: (field: String, unit: String?)]] {
        var seen: [String: [String: (field: String, unit: String?)]] = [:]
        for message in messages(try scenario(testScenarioYAML()), status: false) {
            let records = try #require(try JSONSerialization.jsonObject(with: Data(message.payload)) as? [[String: Any]])
            let bn = try #require(records.first?["bn"] as? String)
            let parts = bn.split(separator: ":", omittingEmptySubsequences: false)
            #expect(bn.hasPrefix(Envelope.baseNamePrefix.description) && parts.count == 5 && parts[4].isEmpty, "\(bn)")
            let type = String(parts[2])
            let parsed = try #require(TopicScheme.parse(message.topicString), "\(message.topicString)")
            #expect(parsed.device == String(parts[3]) && !parsed.isStatus)
            for record in records {
                let name = try #require(record["n"] as? String)
                let field = try #require(["v", "s", "vb", "vs"].first { record[$0] != nil })
                seen[type, default: [:]][name] = (field, record["u"] as? String)
                if let text = record["vs"] as? String {
                    let allowed = TelemetrySchema.standard.family(type).attribute(named: name)?.allowed ?? []
                    #expect(allowed.contains(text), "\(type).\(name) = \(text)")
                }
            }
        }
        return seen
    }

    @Test func everyAttributeSentIsInTheContractAndTheOtherWayRound() throws {
        let seen = try observed()
        let contract = TelemetrySchema.standard
        #expect(Set(seen.keys) == Set(contract.entities.map(\.type)), "every family reports")
        for entity in contract.entities {
            let sent = seen[entity.type] ?? [:]
            let envelope = [Envelope.sequence.description, Envelope.sent.description]
            let attributes = Set(sent.keys).subtracting(envelope)
            #expect(attributes == Set(entity.attributes.map(\.name)), "\(entity.type)")
            #expect(sent[Envelope.sent.description]?.unit == Envelope.sentUnit.description && sent[Envelope.sequence.description]?.field == "v")
            for attribute in entity.attributes {
                guard let record = sent[attribute.name] else { continue }
                let field = switch attribute.kind {
                case .number: "v"
                case .sum: "s"
                case .bool: "vb"
                case .string: "vs"
                }
                #expect(record.field == field, "\(entity.type).\(attribute.name)")
                #expect(record.unit == attribute.unit, "\(entity.type).\(attribute.name)")
            }
        }
    }

    @Test func statusMessagesUseTheContractsTopicAndPayloads() throws {
        let allowed = [Envelope.statusOnline.description, Envelope.statusOffline.description]
        var seen = Set<String>()
        for message in messages(try scenario(testScenarioYAML(duration: "1h"))) where message.kind == .status {
            let parsed = try #require(TopicScheme.parse(message.topicString))
            #expect(parsed.isStatus && message.retain)
            let payload = String(decoding: message.payload, as: UTF8.self)
            #expect(allowed.contains(payload), "\(payload)")
            seen.insert(payload)
        }
        #expect(seen == Set(allowed), "every device says online at the start and offline at the end")
    }

    @Test func theModelsAreBuiltFromTheContract() {
        let models: [(String, [Attribute], StaticBytes, String)] = [
            (Streetlight.family.schema.type, Streetlight.family.attributes, Streetlight.family.entityType, Streetlight.family.schema.deviceCode),
            (WaterMeter.family.schema.type, WaterMeter.family.attributes, WaterMeter.family.entityType, WaterMeter.family.schema.deviceCode),
        ]
        for (type, attributes, entityType, code) in models {
            let schema = TelemetrySchema.standard.family(type)
            #expect(attributes.map(\.name.description) == schema.attributes.map(\.name))
            #expect(entityType.description == type && code == schema.deviceCode)
        }
        #expect(WaterMeter.rollover == TelemetrySchema.standard.family("WaterConsumptionObserved").attribute(named: "waterConsumption")?.rollover)
    }
}
