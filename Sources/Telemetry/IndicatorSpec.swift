/// An indicator defined in a scenario (`indicators:`): a formula over a city's window
/// aggregates and facts that the gateway computes beside its own indicators, per city and
/// window, stored and served like them and readable by an index definition.
///
/// ```yaml
/// indicators:
///   - code: "SC:parking-occupancy"
///     name: On-street parking occupancy
///     unit: "%"
///     domain: mobility
///     direction: lower-is-better
///     formula: 100 * share(ParkingSpot.occupied)
/// ```
public struct IndicatorSpec: Sendable {
    public var code: String
    public var name: String
    public var unit: String
    public var domain: Domain
    public var higherIsBetter: Bool
    /// The formula as written, and parsed.
    public var formula: String
    public var expression: Formula
    /// The clause of ISO 37120 / ISO 37122 / U4SSC it follows, when there is one.
    public var reference: String?

    public init(code: String, name: String, unit: String, domain: Domain, higherIsBetter: Bool, formula: String,
                expression: Formula, reference: String? = nil) {
        self.code = code
        self.name = name
        self.unit = unit
        self.domain = domain
        self.higherIsBetter = higherIsBetter
        self.formula = formula
        self.expression = expression
        self.reference = reference
    }

    /// Aggregates of a series over the window, merged over the city's districts: a series is
    /// `Entity.attribute`. `share` is the share of true readings of a boolean, `increment` a
    /// meter's increase summed over devices, `devices` the distinct devices of an entity type
    /// that reported, `count` the readings.
    public static let aggregates = ["mean", "sum", "min", "max", "increment", "count", "share", "devices"]
    /// City facts by name; `inventory(X)` and `installed(X)` take a domain or an entity type.
    public static let facts = ["population", "area_km2", "lit_street_km", "major_street_km", "water_network_km",
                               "window_hours", "window_days"]
    public static let factCalls = ["inventory", "installed", "faulty"]

    /// What an aggregate or fact call refers to, once checked against a schema.
    public enum Input: Sendable, Equatable {
        case aggregate(String, series: String)
        case devices(entity: String)
        case fact(String)
        case inventory(String)
        case installed(String)
        /// Devices of a domain with a fault or a data-quality alarm in the window.
        case faulty(Domain)
    }

    /// Checks every call and name of the formula against `schema` and returns the inputs in
    /// the order of their variable slots.
    public static func inputs(of expression: Formula, schema: TelemetrySchema) throws(Formula.Problem) -> (Formula.Program, [Input]) {
        var inputs: [Input] = []
        func slot(_ input: Input) -> Int {
            if let i = inputs.firstIndex(of: input) { return i }
            inputs.append(input)
            return inputs.count - 1
        }
        let program = try Formula.compile(expression, variable: { name in
            facts.contains(name) ? slot(.fact(name)) : nil
        }, call: { (name, args) throws(Formula.Problem) -> Int? in
            guard aggregates.contains(name) || factCalls.contains(name) else { return nil }
            guard args.count == 1, case .name(let target) = args[0] else {
                throw Formula.Problem("\(name) takes one name, like \(name)(\(name == "devices" ? "ParkingSpot" : factCalls.contains(name) ? "mobility" : "ParkingSpot.occupied"))")
            }
            switch name {
            case "devices":
                guard schema.entity(named: target) != nil else {
                    throw Formula.Problem("devices(\(target)): no entity type \(target); types: \(schema.entities.map(\.type).joined(separator: ", "))")
                }
                return slot(.devices(entity: target))
            case "inventory", "installed":
                guard Domain(rawValue: target) != nil || schema.entity(named: target) != nil else {
                    throw Formula.Problem("\(name)(\(target)): name a domain (\(Domain.allCases.map(\.rawValue).joined(separator: ", "))) or an entity type")
                }
                return slot(name == "inventory" ? .inventory(target) : .installed(target))
            case "faulty":
                guard let domain = Domain(rawValue: target) else {
                    throw Formula.Problem("faulty(\(target)): name a domain (\(Domain.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                return slot(.faulty(domain))
            default:
                let parts = target.split(separator: ".", maxSplits: 1).map(String.init)
                guard parts.count == 2, let entity = schema.entity(named: parts[0]) else {
                    throw Formula.Problem("\(name)(\(target)): a series is Entity.attribute, e.g. ParkingSpot.occupied; types: \(schema.entities.map(\.type).joined(separator: ", "))")
                }
                guard let attribute = schema.entities[entity].attribute(named: parts[1]) else {
                    throw Formula.Problem("\(name)(\(target)): \(parts[0]) has no attribute '\(parts[1])'; attributes: \(schema.entities[entity].attributes.map(\.name).joined(separator: ", "))")
                }
                if attribute.kind == .string {
                    throw Formula.Problem("\(name)(\(target)): text attributes are not aggregated; use faulty(domain) for status faults")
                }
                if name == "share", attribute.kind != .bool {
                    throw Formula.Problem("share(\(target)): share is for boolean attributes; use mean for numbers")
                }
                if name == "increment", attribute.kind != .sum {
                    throw Formula.Problem("increment(\(target)): increment is for meters; use sum or mean for numbers")
                }
                return slot(.aggregate(name, series: target))
            }
        }, known: { "the facts \(facts.joined(separator: ", ")), and calls \((aggregates + factCalls).joined(separator: ", "))" })
        return (program, inputs)
    }
}
