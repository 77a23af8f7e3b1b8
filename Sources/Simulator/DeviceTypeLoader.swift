import Foundation
import Telemetry
import YAMLReader
import Yams

extension DeviceType {
    /// The generators an attribute may name (one key of its `generator:` mapping).
    public static let generatorNames = ["constant", "profile", "ou", "random-walk", "meter", "markov", "solar", "expression"]
    public static let kindNames = ["number", "boolean", "text", "meter", "status"]

    /// Reads one entry of `device-types:`; `taken` are the types already defined (built-in or
    /// earlier in the list), whose ids, entity types and device codes a new one may not reuse.
    static func parse(_ field: YAMLField, taken: [DeviceType]) throws(ScenarioError) -> DeviceType {
        let map = try field.mapping(allowed: ["id", "type", "domain", "code", "interval", "battery", "attributes"])
        let idField = try map.required("id")
        let id = try idField.identifier()
        if Domain(rawValue: id) != nil || taken.contains(where: { $0.id == id }) {
            throw idField.error("'\(id)' is taken (by a domain or another device type); give the type its own id")
        }
        let typeField = try map.required("type")
        let entity = try typeField.string()
        guard entity.first?.isUppercase == true, entity.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            throw typeField.error("'\(entity)' is not an NGSI-LD entity type; write it in UpperCamelCase letters and digits, like ParkingSpot")
        }
        if TelemetrySchema.standard.entity(named: entity) != nil || taken.contains(where: { $0.schema.type == entity }) {
            throw typeField.error("the entity type \(entity) is already defined; a device type needs its own")
        }
        let domain = try map.required("domain").choice(Domain.self)
        let codeField = try map.required("code")
        let code = try codeField.identifier()
        guard (1...4).contains(code.count), !code.contains("-") else {
            throw codeField.error("'\(code)' is not a device code; use 1 to 4 lower-case letters or digits (it goes into device ids: alm-\(code)-000001)")
        }
        let used = TelemetrySchema.standard.entities.map(\.deviceCode) + taken.map(\.schema.deviceCode)
        if used.contains(code) {
            throw codeField.error("the device code '\(code)' is taken (codes in use: \(used.joined(separator: ", "))); device ids would collide")
        }
        let interval = try map["interval"]?.duration() ?? 300
        let attributeFields = try map.required("attributes").list()
        guard !attributeFields.isEmpty else { throw try map.required("attributes").error("a device type needs at least one attribute") }

        // First the contracts, so that generators can name any attribute.
        var schemas: [AttributeSchema] = []
        var maps: [YAMLMapping] = []
        for attributeField in attributeFields {
            let a = try attributeField.mapping(allowed: ["name", "kind", "unit", "range", "rollover", "decimals", "values", "fault-values",
                                                         "fault-below", "sensed", "generator", "noise", "spread"])
            let schema = try parseContract(a, existing: schemas)
            schemas.append(schema)
            maps.append(a)
        }
        let names = schemas.map(\.name)
        var attributes: [DefinedAttribute] = []
        var dependencies: [[Int]] = []
        for (i, a) in maps.enumerated() {
            let (process, reads) = try parseGenerator(try a.required("generator"), schema: schemas[i], names: names, kinds: schemas.map(\.kind))
            attributes.append(DefinedAttribute(process: process, noise: try a["noise"]?.double(in: 0...1e9) ?? 0,
                                               spread: try a["spread"]?.double(in: 0...3) ?? 0))
            dependencies.append(reads)
        }
        // Every attribute after those it reads; a cycle has no such order.
        var order: [Int] = []
        var mark = [Int](repeating: 0, count: names.count)
        func visit(_ i: Int, _ path: [Int]) throws(ScenarioError) {
            if mark[i] == 2 { return }
            if mark[i] == 1 {
                let cycle = (path.drop { $0 != i } + [i]).map { names[$0] }.joined(separator: " -> ")
                throw maps[i].owner.error("the attributes read each other in a cycle (\(cycle)); one of them must come from a generator that reads none of the others")
            }
            mark[i] = 1
            for j in dependencies[i] { try visit(j, path + [i]) }
            mark[i] = 2
            order.append(i)
        }
        for i in names.indices { try visit(i, []) }
        var battery: Int?
        if let batteryField = map["battery"] {
            let name = try batteryField.string()
            guard let index = names.firstIndex(of: name), schemas[index].kind == .number, schemas[index].range.upperBound <= 1 else {
                throw batteryField.error("'\(name)' is not a number attribute with a range within 0-1 of this type; name the battery level attribute")
            }
            battery = index
        }
        return DeviceType(id: id, schema: EntitySchema(type: entity, domain: domain, deviceCode: code, attributes: schemas),
                          interval: interval, attributes: attributes, battery: battery, order: order)
    }

    private static func parseContract(_ a: YAMLMapping, existing: [AttributeSchema]) throws(ScenarioError) -> AttributeSchema {
        let nameField = try a.required("name")
        let name = try nameField.string()
        guard let first = name.first, first.isLetter, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw nameField.error("'\(name)' is not an attribute name; use letters, digits and '_', starting with a letter (camelCase, as in the Smart Data Models)")
        }
        if existing.contains(where: { $0.name == name }) { throw nameField.error("the attribute '\(name)' appears twice") }
        if [Envelope.sequence.description, Envelope.sent.description].contains(name) || contextNames.contains(name) {
            throw nameField.error("'\(name)' is reserved (every message carries seq and sent; expressions read hour, weekend and elevation); rename the attribute")
        }
        let kindField = try a.required("kind")
        let kindText = try kindField.string()
        guard kindNames.contains(kindText) else { throw kindField.error("'\(kindText)' is not a kind; use one of \(kindNames.joined(separator: ", "))") }
        let kind: AttributeSchema.Kind = switch kindText {
        case "number": .number
        case "meter": .sum
        case "boolean": .bool
        default: .string
        }
        var unit: String?
        if let unitField = a["unit"] {
            let text = try unitField.string()
            guard kind == .number || kind == .sum else {
                throw unitField.error("a \(kindText) attribute has no unit; remove 'unit'")
            }
            guard AttributeSchema.senmlUnits.contains(text) else {
                let hint = AttributeSchema.senmlUnits.first { $0.lowercased() == text.lowercased() }.map { " (did you mean '\($0)'?)" } ?? ""
                throw unitField.error("'\(text)' is not a SenML unit\(hint); use one of the SenML units registry (RFC 8428, RFC 8798), e.g. count, /, dB, Cel, W, kWh, m3, ug/m3")
            }
            unit = text
        }
        var range: ClosedRange<Double> = kind == .sum ? 0...1e12 : -1e12...1e12
        if let rangeField = a["range"] {
            let bounds = try rangeField.doubles()
            guard bounds.count == 2 else { throw rangeField.error("expected [min, max]") }
            guard bounds[0] <= bounds[1] else {
                throw rangeField.error("min \(bounds[0]) is above max \(bounds[1]); write the range as [min, max]")
            }
            range = bounds[0]...bounds[1]
        }
        var values: [String] = []
        if let valuesField = a["values"] {
            guard kind == .string else { throw valuesField.error("only text and status attributes take 'values'") }
            for item in try valuesField.list() {
                let v = try item.string()
                if values.contains(v) { throw item.error("'\(v)' appears twice") }
                values.append(v)
            }
        }
        if kind == .string, values.isEmpty {
            throw (a["values"] ?? a.owner).error("a \(kindText) attribute needs 'values', the texts it may take (e.g. [ok, fault])")
        }
        var faultValues: [String] = []
        if let faultField = a["fault-values"] {
            guard kindText == "status" else { throw faultField.error("only status attributes take 'fault-values'") }
            for item in try faultField.list() {
                let v = try item.string()
                guard values.contains(v) else { throw item.error("'\(v)' is not one of the values (\(values.joined(separator: ", ")))") }
                faultValues.append(v)
            }
        }
        var rollover: Double?
        if let rolloverField = a["rollover"] {
            guard kind == .sum else { throw rolloverField.error("only meters roll over; remove 'rollover' or make the kind meter") }
            rollover = try rolloverField.double(in: 1...1e15)
        }
        let decimals = try a["decimals"]?.int(in: 0...9) ?? (kind == .number || kind == .sum ? 2 : 0)
        let sensed = try a["sensed"]?.bool()
        return AttributeSchema(name, kind, unit: unit, range: range, allowed: values, faultValues: faultValues,
                               faultBelow: try a["fault-below"]?.double(), rollover: rollover, decimals: decimals, sensed: sensed)
    }

    /// A number, a list of points over the day, or `{daily: ..., weekend: ...}`.
    static func parseSignal(_ field: YAMLField, nonNegative: Bool = false) throws(ScenarioError) -> Signal {
        func points(_ f: YAMLField) throws(ScenarioError) -> [Double] {
            let list: [Double]
            if case .sequence(_) = f.node { list = try f.doubles() } else { list = [try f.double()] }
            guard !list.isEmpty else { throw f.error("a profile needs at least one point") }
            if nonNegative, let bad = list.first(where: { $0 < 0 }) { throw f.error("\(bad) is negative; rates are per hour, 0 or more") }
            return list
        }
        if case .mapping(_) = field.node {
            let m = try field.mapping(allowed: ["daily", "weekend"])
            return Signal(daily: try points(try m.required("daily")), weekend: try m["weekend"].map(points))
        }
        return Signal(daily: try points(field), weekend: nil)
    }

    /// The process and the attributes it reads in the same report.
    private static func parseGenerator(_ field: YAMLField, schema: AttributeSchema, names: [String],
                                       kinds: [AttributeSchema.Kind]) throws(ScenarioError) -> (AttributeProcess, [Int]) {
        let map = try field.mapping(allowed: generatorNames)
        guard map.entries.count == 1, let (name, body) = map.entries.first else {
            throw field.error("name exactly one generator: \(generatorNames.joined(separator: ", "))")
        }
        let isState = schema.kind == .string || schema.kind == .bool
        /// The number written for a state: its index among the values, 0/1, or the number.
        func state(_ f: YAMLField) throws(ScenarioError) -> Double {
            let text = try f.string()
            switch schema.kind {
            case .string:
                guard let i = schema.allowed.firstIndex(of: text) else {
                    throw f.error("'\(text)' is not one of the values (\(schema.allowed.joined(separator: ", ")))")
                }
                return Double(i)
            case .bool:
                guard let b = ["false": 0.0, "true": 1.0][text.lowercased()] else { throw f.error("expected true or false") }
                return b
            default:
                return try f.double()
            }
        }
        if schema.kind == .sum, name != "meter" {
            throw body.error("a meter attribute takes the meter generator (a total that integrates a rate)")
        }
        switch name {
        case "constant":
            return (.profile(.constant(try state(body))), [])
        case "profile":
            guard !isState else { throw body.error("a \(schema.kind == .bool ? "boolean" : "text") attribute takes constant, markov or expression") }
            return (.profile(try parseSignal(body)), [])
        case "ou":
            guard !isState else { throw body.error("ou makes numbers; a state takes constant, markov or expression") }
            let m = try body.mapping(allowed: ["mean", "reversion", "sd"])
            return (.ou(mean: try parseSignal(try m.required("mean")), reversion: try m.required("reversion").double(in: 0.000001...1e6),
                        sd: try m.required("sd").double(in: 0...1e12)), [])
        case "random-walk":
            guard !isState else { throw body.error("random-walk makes numbers; a state takes constant, markov or expression") }
            let m = try body.mapping(allowed: ["start", "step"])
            return (.randomWalk(start: try m["start"]?.double() ?? 0, step: try m.required("step").double(in: 0...1e12)), [])
        case "meter":
            guard schema.kind == .sum else { throw body.error("the meter generator makes a total; give the attribute kind meter") }
            let m = try body.mapping(allowed: ["rate", "per", "start"])
            let rateField = try m.required("rate")
            var rate: Int?
            var signal = Signal.constant(0)
            if case .scalar(let scalar) = rateField.node, Double(scalar.string) == nil {
                guard let index = names.firstIndex(of: scalar.string), kinds[index] == .number else {
                    throw rateField.error("'\(scalar.string)' is not a number attribute of this type; name the rate the meter integrates, or give a number or a profile")
                }
                rate = index
            } else {
                signal = try parseSignal(rateField, nonNegative: true)
            }
            return (.meter(rate: rate, signal: signal, per: Double(try m["per"]?.duration() ?? 3600), start: try m["start"]?.double(in: 0...1e15) ?? 0),
                    rate.map { [$0] } ?? [])
        case "markov":
            guard schema.kind != .sum else { throw body.error("a meter takes the meter generator") }
            let m = try body.mapping(allowed: ["states", "rates", "initial"])
            let stateFields = try m.required("states").list()
            guard stateFields.count >= 2 else { throw try m.required("states").error("a Markov chain needs at least two states") }
            var labels: [String] = []
            var states: [Double] = []
            for f in stateFields {
                labels.append(try f.string())
                states.append(try state(f))
            }
            let rateMap = try m.required("rates").mapping(allowed: labels)
            var rates = [[Signal?]](repeating: [Signal?](repeating: nil, count: labels.count), count: labels.count)
            for (from, toField) in rateMap.entries {
                let i = labels.firstIndex(of: from)!
                let targets = try toField.mapping(allowed: labels.filter { $0 != from })
                for (to, rateField) in targets.entries {
                    rates[i][labels.firstIndex(of: to)!] = try parseSignal(rateField, nonNegative: true)
                }
            }
            var initial = 0
            if let initialField = m["initial"] {
                let text = try initialField.string()
                guard let i = labels.firstIndex(of: text) else { throw initialField.error("'\(text)' is not one of the states (\(labels.joined(separator: ", ")))") }
                initial = i
            }
            return (.markov(states: states, rates: rates, initial: initial), [])
        case "solar":
            guard schema.kind == .number else { throw body.error("solar gives the sun's elevation in degrees; give the attribute kind number") }
            return (.solar, [])
        default:
            let text = try body.string()
            let expression: Formula
            do { expression = try Formula.parse(text) } catch { throw body.error("'\(text)': \(error)") }
            let own = names.firstIndex(of: schema.name)!
            let program: Formula.Program
            do {
                program = try Formula.compile(expression, variable: { n in
                    if let i = names.firstIndex(of: n), i != own { return i }
                    return contextNames.firstIndex(of: n).map { names.count + $0 }
                }, known: { (names.filter { $0 != schema.name } + contextNames).joined(separator: ", ") })
            } catch { throw body.error("'\(text)': \(error)") }
            let reads = Set(expression.names.compactMap { names.firstIndex(of: $0) }).sorted()
            return (.expression(program, text: text), reads)
        }
    }
}

extension IndicatorSpec {
    /// Reads one entry of `indicators:`, checking its formula against the scenario's families.
    static func parse(_ field: YAMLField, schema: TelemetrySchema) throws(ScenarioError) -> IndicatorSpec {
        let map = try field.mapping(allowed: ["code", "name", "unit", "domain", "direction", "formula", "reference"])
        let codeField = try map.required("code")
        let code = try codeField.string()
        guard !code.isEmpty, code.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "/" && $0 != "#" && $0 != "+" }) else {
            throw codeField.error("'\(code)' is not an indicator code; use letters, digits and ':' '.' '-' (it names an MQTT topic level)")
        }
        let directionField = try map.required("direction")
        let direction = try directionField.string()
        guard ["higher-is-better", "lower-is-better"].contains(direction) else {
            throw directionField.error("'\(direction)' is not a direction; write higher-is-better or lower-is-better")
        }
        let formulaField = try map.required("formula")
        let formula = try formulaField.string()
        let expression: Formula
        do {
            expression = try Formula.parse(formula)
            _ = try IndicatorSpec.inputs(of: expression, schema: schema)
        } catch { throw formulaField.error("'\(formula)': \(error)") }
        return IndicatorSpec(code: code, name: try map.required("name").string(), unit: try map["unit"]?.string() ?? "",
                             domain: try map.required("domain").choice(Domain.self), higherIsBetter: direction == "higher-is-better",
                             formula: formula, expression: expression, reference: try map["reference"]?.string())
    }
}
