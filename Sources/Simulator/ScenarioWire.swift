import Foundation
import Telemetry

/// What a gateway needs to read a scenario's messages besides its families: the payload
/// formats by topic filter and the topic layout.
extension Scenario {
    /// The payload formats the fleets write, per topic filter of the scenario's layout (each
    /// city and domain, or fewer filters when the layout lacks those levels): the rules a
    /// gateway needs to read them. Empty when every fleet writes SenML.
    public var payloadFormatRules: [PayloadFormatRule] {
        let template = mqtt.topic
        var rules: [PayloadFormatRule] = []
        let schema = self.schema
        for city in cities {
            for (type, format) in city.fleets.payloads {
                let domain = schema.family(type).domain
                let topics = template.replacingOccurrences(of: "{city}", with: city.id).replacingOccurrences(of: "{domain}", with: domain.rawValue)
                    .replacingOccurrences(of: "{district}", with: "+").replacingOccurrences(of: "{device}", with: "+")
                    .replacingOccurrences(of: "{kind}", with: "attrs")
                if let i = rules.firstIndex(where: { $0.filter == topics }) {
                    if !rules[i].formats.contains(format) { rules[i].formats.append(format) }
                } else {
                    rules.append(PayloadFormatRule(filter: topics, formats: [format]))
                }
            }
        }
        return rules.filter { $0.formats != [.senml] }
    }

    /// The scenario's topic layout as a gateway's topic mapping, when it is not the city scheme.
    public var topicMapping: TopicMapping? {
        mqtt.topic == TopicScheme.template ? nil : try? TopicMapping(pattern: mqtt.topic)
    }

}
