import Telemetry

extension IndicatorDefinition {
    /// An indicator a scenario defines, computed by its formula from the window's aggregates
    /// and the city's facts; nil (no value) when an input is missing, as for no reading of a
    /// series in the window, or when the result is not a finite number.
    public init(_ spec: IndicatorSpec, schema: TelemetrySchema) throws(Formula.Problem) {
        let (program, inputs) = try IndicatorSpec.inputs(of: spec.expression, schema: schema)
        let needs = inputs.map { input -> String in
            switch input {
            case .aggregate(let name, let series): "\(name)(\(series))"
            case .devices(let entity): "devices(\(entity))"
            case .fact(let name): name
            case .inventory(let x): "inventory(\(x))"
            case .installed(let x): "installed(\(x))"
            case .faulty(let d): "faulty(\(d.rawValue))"
            }
        }
        self.init(code: spec.code, name: spec.name, unit: spec.unit, domain: spec.domain,
                  formula: spec.formula + (spec.reference.map { " (\($0))" } ?? ""), needs: needs.joined(separator: ", "),
                  higherIsBetter: spec.higherIsBetter) { i in
            var values = [Double](repeating: 0, count: inputs.count)
            for (k, input) in inputs.enumerated() {
                guard let v = IndicatorDefinition.value(input, i) else { return nil }
                values[k] = v
            }
            let result = program.evaluate(values)
            return result.isFinite ? result : nil
        }
    }

    private static func value(_ input: IndicatorSpec.Input, _ i: IndicatorInputs) -> Double? {
        switch input {
        case .aggregate(let name, let series):
            let p = i.partial(series)
            guard p.count > 0 else { return nil }
            switch name {
            case "mean", "share": return p.mean
            case "sum": return p.sum
            case "min": return p.min
            case "max": return p.max
            case "increment": return p.increment
            default: return Double(p.count)
            }
        case .devices(let entity): return i.reporting(entity)
        case .faulty(let domain): return Double(i.partial("faulty@\(domain.rawValue)").count)
        case .fact(let name):
            switch name {
            case "window_hours": return i.seconds / 3600
            case "window_days": return i.seconds / 86_400
            default:
                guard let f = i.facts else { return nil }
                let v = switch name {
                case "population": f.population
                case "area_km2": f.areaKm2
                case "lit_street_km": f.litStreetKm
                case "major_street_km": f.majorStreetKm
                default: f.waterNetworkKm
                }
                return v > 0 ? v : nil
            }
        case .inventory(let x):
            if let d = Domain(rawValue: x) { return i.inventory(d) }
            guard let n = i.facts?.entityInventory[x], n > 0 else { return nil }
            return Double(n)
        case .installed(let x):
            if let d = Domain(rawValue: x) { return i.installed(d) }
            return i.facts?.entityDevices[x].flatMap { $0 > 0 ? Double($0) : nil }
        }
    }
}
