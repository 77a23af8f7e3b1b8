import Gateway
import Simulator

extension GatewayConfig {
    /// Settings for a gateway that takes this scenario's cities and devices, and only them.
    public init(scenario: Scenario) {
        self.init()
        cities = scenario.cities.map(\.facts)
        roster = scenario.roster
        adopt(scenario)
    }

    /// What the scenario's devices send besides the cities' facts: its families and
    /// indicators, the payload formats of its fleets and its topic layout.
    public mutating func adopt(_ scenario: Scenario) {
        schema = scenario.schema
        indicators = scenario.indicators
        payloadFormats += scenario.payloadFormatRules
        if let mapping = scenario.topicMapping { topicMappings.append(mapping) }
    }
}
