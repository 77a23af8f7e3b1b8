/// The index tree: indicators (level 1) feed aggregates (level 2 and up) up to one root.
public struct Framework: Sendable {
    public struct Node: Sendable, Equatable {
        public var code: String
        public var name: String
        public var level: Int
        public var direction: Double
        public var weight: Double
        public var parent: String?
        public var denominator: String?
        public var target: Double?
        public var goalLow: Double?
        public var goalHigh: Double?

        public init(code: String, name: String? = nil, level: Int, direction: Double = 1, weight: Double = 1,
                    parent: String?, denominator: String? = nil, target: Double? = nil,
                    goalLow: Double? = nil, goalHigh: Double? = nil) {
            self.code = code
            self.name = name ?? code
            self.level = level
            self.direction = direction
            self.weight = weight
            self.parent = parent
            self.denominator = denominator
            self.target = target
            self.goalLow = goalLow
            self.goalHigh = goalHigh
        }
    }

    /// Indicators in file order.
    public var indicators: [Node]
    /// Aggregates by level (2, 3, ...) in file order within a level.
    public var aggregates: [Node]
    public var groups: [String]
    public var denominators: [String]

    public var root: Node { aggregates.last! }

    public func children(of code: String) -> [Node] {
        (indicators + aggregates).filter { $0.parent == code }
    }

    public init(indicators: [Node], aggregates: [Node], groups: [String] = [], denominators: [String] = []) throws(IndexError) {
        self.indicators = indicators
        self.aggregates = aggregates.sorted { $0.level < $1.level }
        self.groups = groups
        self.denominators = denominators
        try validate(source: "framework")
    }

    /// Reads a metadata table laid out like COINr's iMeta:
    /// `Level, iCode, iName, Direction, Weight, Unit, Target, Denominator, Parent, Type`
    /// (optional `GoalLow`, `GoalHigh`).
    public init(meta table: CSVTable) throws(IndexError) {
        func required(_ name: String) throws(IndexError) -> Int {
            guard let index = table.column(name) else {
                throw IndexError("\(table.name): no '\(name)' column; the metadata needs Level, iCode, Direction, Weight, Parent and Type")
            }
            return index
        }
        let level = try required("Level"), code = try required("iCode"), direction = try required("Direction")
        let weight = try required("Weight"), parent = try required("Parent"), type = try required("Type")
        let name = table.column("iName"), denominator = table.column("Denominator"), target = table.column("Target")
        let goalLow = table.column("GoalLow"), goalHigh = table.column("GoalHigh")
        var indicators: [Node] = [], aggregates: [Node] = [], groups: [String] = [], denominators: [String] = []
        var seen = Set<String>()
        for row in table.rows.indices {
            let where_ = "\(table.name): row \(row + 2)"
            let nodeCode = table.value(row, code)
            guard !nodeCode.isEmpty else { throw IndexError("\(where_), column 'iCode': empty code; give every row a code") }
            guard seen.insert(nodeCode).inserted else { throw IndexError("\(where_), column 'iCode': '\(nodeCode)' appears twice; codes must be unique") }
            let kind = table.value(row, type)
            switch kind {
            case "Group": groups.append(nodeCode); continue
            case "Denominator": denominators.append(nodeCode); continue
            case "Indicator", "Aggregate": break
            default:
                throw IndexError("\(where_), column 'Type': '\(kind)' is not one of Indicator, Aggregate, Group, Denominator")
            }
            guard let levelValue = try table.number(row, level), levelValue >= 1, levelValue == levelValue.rounded() else {
                throw IndexError("\(where_), column 'Level': needs a whole number from 1 (indicators) up")
            }
            let directionValue = try table.number(row, direction) ?? 1
            guard directionValue == 1 || directionValue == -1 else {
                throw IndexError("\(where_), column 'Direction': \(directionValue) is not allowed; use 1 (higher is better) or -1 (lower is better)")
            }
            let weightValue = try table.number(row, weight) ?? 1
            guard weightValue >= 0 else { throw IndexError("\(where_), column 'Weight': weights must be zero or positive") }
            let parentCode = table.value(row, parent)
            let node = Node(
                code: nodeCode, name: name.map { table.value(row, $0) } ?? nodeCode, level: Int(levelValue),
                direction: directionValue, weight: weightValue, parent: parentCode.isEmpty ? nil : parentCode,
                denominator: denominator.map { table.value(row, $0) }.flatMap { $0.isEmpty ? nil : $0 },
                target: try target.flatMap { c throws(IndexError) in try table.number(row, c) },
                goalLow: try goalLow.flatMap { c throws(IndexError) in try table.number(row, c) },
                goalHigh: try goalHigh.flatMap { c throws(IndexError) in try table.number(row, c) })
            if kind == "Indicator" {
                guard node.level == 1 else { throw IndexError("\(where_), column 'Level': an Indicator must be level 1") }
                indicators.append(node)
            } else {
                guard node.level >= 2 else { throw IndexError("\(where_), column 'Level': an Aggregate must be level 2 or higher") }
                aggregates.append(node)
            }
        }
        self.indicators = indicators
        self.aggregates = aggregates.sorted { $0.level < $1.level }
        self.groups = groups
        self.denominators = denominators
        try validate(source: table.name)
    }

    private func validate(source: String) throws(IndexError) {
        guard !indicators.isEmpty else { throw IndexError("\(source): no Indicator rows") }
        guard !aggregates.isEmpty else { throw IndexError("\(source): no Aggregate rows; the tree needs at least the index itself") }
        let byCode = Dictionary(uniqueKeysWithValues: (indicators + aggregates).map { ($0.code, $0) })
        let roots = aggregates.filter { $0.parent == nil }
        guard roots.count == 1 else {
            throw IndexError("\(source): the tree needs exactly one root (an Aggregate with no Parent), found \(roots.map(\.code)); give the others a Parent")
        }
        for node in indicators + aggregates {
            if let parent = node.parent {
                guard let parentNode = byCode[parent], aggregates.contains(where: { $0.code == parent }) else {
                    throw IndexError("\(source): '\(node.code)' names parent '\(parent)', which is not an Aggregate in the metadata; add it or fix the Parent")
                }
                guard parentNode.level > node.level else {
                    throw IndexError("\(source): '\(node.code)' (level \(node.level)) has parent '\(parent)' at level \(parentNode.level); a parent must sit at a higher level")
                }
            }
            var seen: Set<String> = [node.code]
            var cursor = node.parent
            while let code = cursor {
                guard seen.insert(code).inserted else {
                    throw IndexError("\(source): the tree has a cycle through '\(code)'; Parent links must lead up to one root")
                }
                cursor = byCode[code]?.parent
            }
        }
        for aggregate in aggregates where children(of: aggregate.code).isEmpty {
            throw IndexError("\(source): aggregate '\(aggregate.code)' has no children; remove it or point rows at it")
        }
    }
}
