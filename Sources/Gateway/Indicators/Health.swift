import Telemetry

/// Telemetry health per domain: how much of the connected fleet reports, and how much of it is
/// in fault. Not a standard's indicator: the share of street lights in fault feeds the index's
/// safety pillar (dark streets), the rest watch the telemetry itself.
enum HealthIndicators {
    static func all(schema: TelemetrySchema) -> [IndicatorDefinition] { Domain.allCases.flatMap { domain -> [IndicatorDefinition] in
        let types = schema.entities.filter { $0.domain == domain }.map(\.type)
        @Sendable func reporting(_ i: IndicatorInputs) -> Double { types.reduce(0) { $0 + i.reporting($1) } }
        return [
            IndicatorDefinition(
                code: "HEALTH:\(domain.rawValue):reporting", name: "Share of \(domain.rawValue) devices reporting", unit: "%",
                domain: domain, formula: "100 x distinct devices reporting in the window / installed devices",
                needs: "every \(domain.rawValue) message", higherIsBetter: true) { i in
                    percent(reporting(i), of: i.installed(domain))
                },
            IndicatorDefinition(
                code: "HEALTH:\(domain.rawValue):faulty", name: "Share of reporting \(domain.rawValue) devices in fault", unit: "%",
                domain: domain,
                formula: "100 x distinct devices that reported a fault (fault status, battery below 10 %) / devices reporting",
                needs: "status and batteryLevel attributes", higherIsBetter: false) { i in
                    let n = reporting(i)
                    return n > 0 ? percent(Double(i.partial("faulty@\(domain.rawValue)").count), of: n) : nil
                },
        ]
    } }
}
