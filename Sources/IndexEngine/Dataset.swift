/// Units (cities, countries) by indicators, with the group and denominator columns.
/// Missing values are NaN.
public struct Dataset: Sendable {
    public var units: [String]
    public var unitNames: [String]
    public var indicators: [String]
    /// values[indicator][unit]
    public var values: [[Double]]
    public var groups: [String: [String]]
    public var denominators: [String: [Double]]

    public init(units: [String], indicators: [String], values: [[Double]],
                groups: [String: [String]] = [:], denominators: [String: [Double]] = [:], unitNames: [String]? = nil) {
        self.units = units
        self.unitNames = unitNames ?? units
        self.indicators = indicators
        self.values = values
        self.groups = groups
        self.denominators = denominators
    }

    /// Reads a data table laid out like COINr's iData: `uCode` (and optional `uName`), the
    /// framework's group and denominator columns, and one column per indicator.
    public init(data table: CSVTable, framework: Framework) throws(IndexError) {
        guard let codeColumn = table.column("uCode") else {
            throw IndexError("\(table.name): no 'uCode' column; the first column should hold each unit's code")
        }
        let nameColumn = table.column("uName")
        var units: [String] = []
        var seen = Set<String>()
        for row in table.rows.indices {
            let code = table.value(row, codeColumn)
            guard !code.isEmpty else {
                throw IndexError("\(table.name): row \(row + 2), column 'uCode': the unit has no code; give every unit a unique code")
            }
            guard seen.insert(code).inserted else {
                throw IndexError("\(table.name): row \(row + 2), column 'uCode': '\(code)' appears twice; unit codes must be unique")
            }
            units.append(code)
        }
        func numbers(_ column: Int) throws(IndexError) -> [Double] {
            var result: [Double] = []
            result.reserveCapacity(units.count)
            for row in table.rows.indices { result.append(try table.number(row, column) ?? .nan) }
            return result
        }
        var values: [[Double]] = []
        for indicator in framework.indicators {
            guard let column = table.column(indicator.code) else {
                throw IndexError("\(table.name): no column for indicator '\(indicator.code)' named in the metadata; add the column or remove the indicator")
            }
            values.append(try numbers(column))
        }
        var groups: [String: [String]] = [:]
        for group in framework.groups {
            if let column = table.column(group) { groups[group] = table.rows.indices.map { table.value($0, column) } }
        }
        var denominators: [String: [Double]] = [:]
        for name in Set(framework.denominators + framework.indicators.compactMap(\.denominator)) {
            if let column = table.column(name) { denominators[name] = try numbers(column) }
        }
        self.init(units: units, indicators: framework.indicators.map(\.code), values: values, groups: groups,
                  denominators: denominators, unitNames: nameColumn.map { c in table.rows.indices.map { table.value($0, c) } })
    }

    /// Keeps only the units at `indices`.
    func selecting(units indices: [Int]) -> Dataset {
        var copy = self
        copy.units = indices.map { units[$0] }
        copy.unitNames = indices.map { unitNames[$0] }
        copy.values = values.map { column in indices.map { column[$0] } }
        copy.groups = groups.mapValues { column in indices.map { column[$0] } }
        copy.denominators = denominators.mapValues { column in indices.map { column[$0] } }
        return copy
    }
}
