import Foundation
import Simulator

/// The published figures of a city that a simulated city is calibrated against, each with
/// its value, tolerance, year and source (`Config/reference/almaty.yaml`):
///
/// ```yaml
/// city: almaty
/// figures:
///   - id: pm25-winter
///     name: PM2.5 winter (December to February) mean
///     indicator: ISO37120:8.1
///     months: [12, 1, 2]
///     value: 49.9
///     unit: ug/m3
///     tolerance: 20%
///     year: 2024
///     source: Almaty Air Initiative annual report 2024 (air.org.kz)
/// ```
public struct ReferenceTable: Sendable {
    public struct Figure: Sendable {
        public var id: String
        public var name: String
        /// The gateway's indicator code (`ISO37120:8.1`) the figure is compared with.
        public var indicator: String
        /// Months (1-12) the figure covers; all twelve for an annual figure.
        public var months: [Int]
        public var value: Double
        public var unit: String
        /// Allowed distance from `value`: a share of it (`20%`) or an amount in its unit.
        public var tolerance: Tolerance
        public var year: Int
        public var source: String
        /// How sure the source is: H official, M quoted from an official source, L indirect.
        public var confidence: String?

        public func accepts(_ simulated: Double) -> Bool {
            switch tolerance {
            case .relative(let share): abs(simulated - value) <= share * abs(value)
            case .absolute(let amount): abs(simulated - value) <= amount
            }
        }

        public var isAnnual: Bool { Set(months) == Set(1...12) }
    }

    public enum Tolerance: Sendable, Equatable, CustomStringConvertible {
        case relative(Double)
        case absolute(Double)

        public var description: String {
            switch self {
            case .relative(let share): "\(fixed(share * 100, 0)) %"
            case .absolute(let amount): "+-\(amount)"
            }
        }
    }

    public var city: String
    public var figures: [Figure]
    public let file: String

    public init(contentsOf path: String) throws(ConfigError) {
        try self.init(root: YAMLField.document(contentsOf: path, what: "reference table"), file: path)
    }

    public init(yaml: String, file: String) throws(ConfigError) {
        try self.init(root: YAMLField.document(yaml: yaml, file: file), file: file)
    }

    private init(root: YAMLField, file: String) throws(ConfigError) {
        self.file = file
        let top = try root.mapping(allowed: ["city", "figures"])
        city = try top.required("city").identifier()
        var figures: [Figure] = []
        var seen = Set<String>()
        for item in try top.required("figures").list() {
            let m = try item.mapping(allowed: ["id", "name", "indicator", "months", "value", "unit", "tolerance", "year", "source", "confidence"])
            let id = try m.required("id").string()
            guard seen.insert(id).inserted else { throw item.error("a second figure with the id '\(id)'; give each its own") }
            let source = try m.required("source").string()
            guard !source.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw try m.required("source").error("the source is empty: name the report, agency or paper the figure comes from")
            }
            var months = Array(1...12)
            if let field = m["months"] {
                months = try field.doubles().map { Int($0) }
                guard !months.isEmpty, months.allSatisfy({ (1...12).contains($0) }), Set(months).count == months.count else {
                    throw field.error("months are 1 (January) to 12 (December), each once, e.g. [12, 1, 2]")
                }
            }
            figures.append(Figure(id: id, name: try m["name"]?.string() ?? id, indicator: try m.required("indicator").string(), months: months,
                                  value: try m.required("value").double(), unit: try m["unit"]?.string() ?? "",
                                  tolerance: try Self.tolerance(m.required("tolerance")), year: try m.required("year").int(in: 1900...2100),
                                  source: source, confidence: try m["confidence"]?.string()))
        }
        guard !figures.isEmpty else { throw root.error("figures: the list is empty; give at least one published figure") }
        self.figures = figures
    }

    static func tolerance(_ field: YAMLField) throws(ConfigError) -> Tolerance {
        let text = try field.string().trimmingCharacters(in: .whitespaces)
        if text.hasSuffix("%"), let share = Double(text.dropLast().trimmingCharacters(in: .whitespaces)), share > 0, share < 1000 {
            return .relative(share / 100)
        }
        if let amount = Double(text), amount > 0 { return .absolute(amount) }
        throw field.error("'\(text)' is no tolerance: a share of the value such as 20% or an amount in its unit such as 5")
    }
}
