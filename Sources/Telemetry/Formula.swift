import Foundation

/// A formula as written in a scenario: arithmetic (`+ - * / ^`), comparisons (`< <= > >= == !=`,
/// 1 for true and 0 for false), `and`, `or`, `not`, numbers, names and calls. Device types use
/// it for an attribute computed from the others (`LAeq + 12`); indicators for a formula over
/// window aggregates (`100 * mean(ParkingSpot.occupied)`).
///
/// ```swift
/// let node = try Formula.parse("max(0, flow - 2) * 0.5")
/// let program = try Formula.compile(node) { name in name == "flow" ? 0 : nil }
/// program.evaluate([3.0])   // 0.5
/// ```
public indirect enum Formula: Sendable, Equatable {
    case number(Double)
    case name(String)
    case call(String, [Formula])
    case unary(String, Formula)
    case binary(String, Formula, Formula)

    /// A formula that does not parse or names what is not there; `offset` is the character
    /// where the problem starts.
    public struct Problem: Error, CustomStringConvertible {
        public var message: String
        public var offset: Int?
        public init(_ message: String, offset: Int? = nil) {
            self.message = message
            self.offset = offset
        }
        public var description: String { offset.map { "at character \($0 + 1): \(message)" } ?? message }
    }

    /// The functions every formula may call, with their number of arguments (nil: one or more).
    public static let functions: [String: Int?] = [
        "min": nil, "max": nil, "abs": 1, "sqrt": 1, "exp": 1, "log": 1, "log10": 1, "floor": 1, "round": 1,
        "clamp": 3, "if": 3,
    ]

    /// Every name the formula reads (not counting calls' names).
    public var names: [String] {
        switch self {
        case .number: []
        case .name(let n): [n]
        case .call(_, let args): args.flatMap(\.names)
        case .unary(_, let e): e.names
        case .binary(_, let a, let b): a.names + b.names
        }
    }

    // MARK: Parsing

    public static func parse(_ text: String) throws(Problem) -> Formula {
        var parser = Parser(Array(text.unicodeScalars))
        let node = try parser.parseOr()
        parser.skipSpaces()
        guard parser.position == parser.scalars.count else {
            throw Problem("unexpected '\(String(parser.scalars[parser.position]))'; an operator (+ - * / ^ < > == and or) or the end was expected", offset: parser.position)
        }
        return node
    }

    private struct Parser {
        let scalars: [Unicode.Scalar]
        var position = 0
        init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

        mutating func skipSpaces() {
            while position < scalars.count, scalars[position] == " " || scalars[position] == "\t" || scalars[position] == "\n" { position += 1 }
        }

        mutating func take(_ symbol: String) -> Bool {
            skipSpaces()
            let s = Array(symbol.unicodeScalars)
            guard position + s.count <= scalars.count, Array(scalars[position..<position + s.count]) == s else { return false }
            // A word operator must end at a word boundary (`order` is a name, not `or` + `der`).
            if let last = s.last, last.properties.isAlphabetic, position + s.count < scalars.count, Parser.isNameScalar(scalars[position + s.count]) {
                return false
            }
            position += s.count
            return true
        }

        static func isNameScalar(_ c: Unicode.Scalar) -> Bool {
            c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_" || c == "." || c == "@"
        }

        mutating func parseOr() throws(Problem) -> Formula {
            var left = try parseAnd()
            while take("or") { left = .binary("or", left, try parseAnd()) }
            return left
        }

        mutating func parseAnd() throws(Problem) -> Formula {
            var left = try parseNot()
            while take("and") { left = .binary("and", left, try parseNot()) }
            return left
        }

        mutating func parseNot() throws(Problem) -> Formula {
            if take("not") { return .unary("not", try parseNot()) }
            return try parseComparison()
        }

        mutating func parseComparison() throws(Problem) -> Formula {
            let left = try parseSum()
            for op in ["<=", ">=", "==", "!=", "<", ">"] where take(op) {
                return .binary(op, left, try parseSum())
            }
            return left
        }

        mutating func parseSum() throws(Problem) -> Formula {
            var left = try parseProduct()
            while true {
                if take("+") { left = .binary("+", left, try parseProduct()) } else if take("-") { left = .binary("-", left, try parseProduct()) } else { return left }
            }
        }

        mutating func parseProduct() throws(Problem) -> Formula {
            var left = try parseUnary()
            while true {
                if take("*") { left = .binary("*", left, try parseUnary()) } else if take("/") { left = .binary("/", left, try parseUnary()) } else { return left }
            }
        }

        mutating func parseUnary() throws(Problem) -> Formula {
            if take("-") { return .unary("-", try parseUnary()) }
            if take("+") { return try parseUnary() }
            return try parsePower()
        }

        mutating func parsePower() throws(Problem) -> Formula {
            let base = try parseAtom()
            // Right-associative, and binding tighter than a unary minus on its right: 2^-1.
            if take("^") { return .binary("^", base, try parseUnary()) }
            return base
        }

        mutating func parseAtom() throws(Problem) -> Formula {
            skipSpaces()
            guard position < scalars.count else { throw Problem("the formula ends where a number, a name or '(' was expected", offset: position) }
            let start = position
            let c = scalars[position]
            if take("(") {
                let inner = try parseOr()
                guard take(")") else { throw Problem("')' expected to close the '(' at character \(start + 1)", offset: position) }
                return inner
            }
            if ("0"..."9").contains(c) || c == "." {
                while position < scalars.count, ("0"..."9").contains(scalars[position]) || scalars[position] == "." || scalars[position] == "_" { position += 1 }
                if position < scalars.count, scalars[position] == "e" || scalars[position] == "E" {
                    var p = position + 1
                    if p < scalars.count, scalars[p] == "-" || scalars[p] == "+" { p += 1 }
                    if p < scalars.count, ("0"..."9").contains(scalars[p]) {
                        position = p
                        while position < scalars.count, ("0"..."9").contains(scalars[position]) { position += 1 }
                    }
                }
                let text = String(String.UnicodeScalarView(scalars[start..<position])).replacingOccurrences(of: "_", with: "")
                guard let value = Double(text), value.isFinite else { throw Problem("'\(text)' is not a number", offset: start) }
                return .number(value)
            }
            guard c.properties.isAlphabetic || c == "_" else {
                throw Problem("unexpected '\(String(c))'; a number, a name or '(' was expected", offset: start)
            }
            while position < scalars.count, Parser.isNameScalar(scalars[position]) { position += 1 }
            let name = String(String.UnicodeScalarView(scalars[start..<position]))
            if take("(") {
                var args: [Formula] = []
                if !take(")") {
                    repeat { args.append(try parseOr()) } while take(",")
                    guard take(")") else { throw Problem("')' or ',' expected in the arguments of \(name)", offset: position) }
                }
                return .call(name, args)
            }
            return .name(name)
        }
    }

    // MARK: Compiling

    /// A formula made ready to evaluate many times: a postfix program over a vector of
    /// variables, with the stack depth it needs.
    public struct Program: Sendable {
        enum Op: Sendable {
            case constant(Double)
            case load(Int)
            case negate, not
            case add, subtract, multiply, divide, power
            case less, lessOrEqual, greater, greaterOrEqual, equal, notEqual, and, or
            case minimum(Int), maximum(Int)
            case abs, sqrt, exp, log, log10, floor, round, clamp, choose
        }
        let ops: [Op]
        let depth: Int

        /// The value with the variables as `compile`'s resolver numbered them; NaN when it is
        /// undefined (a division by zero gives infinity, as in IEEE arithmetic).
        public func evaluate(_ variables: UnsafeBufferPointer<Double>) -> Double {
            withUnsafeTemporaryAllocation(of: Double.self, capacity: max(1, depth)) { stack in
                var top = -1
                for op in ops {
                    switch op {
                    case .constant(let v): top += 1; stack[top] = v
                    case .load(let i): top += 1; stack[top] = variables[i]
                    case .negate: stack[top] = -stack[top]
                    case .not: stack[top] = stack[top] == 0 ? 1 : 0
                    case .abs: stack[top] = Swift.abs(stack[top])
                    case .sqrt: stack[top] = stack[top].squareRoot()
                    case .exp: stack[top] = Foundation.exp(stack[top])
                    case .log: stack[top] = Foundation.log(stack[top])
                    case .log10: stack[top] = Foundation.log10(stack[top])
                    case .floor: stack[top] = stack[top].rounded(.down)
                    case .round: stack[top] = stack[top].rounded()
                    case .minimum(let n), .maximum(let n):
                        var value = stack[top - n + 1]
                        let isMin: Bool
                        if case .minimum = op { isMin = true } else { isMin = false }
                        for k in (top - n + 2)..<(top + 1) where k <= top {
                            value = isMin ? Swift.min(value, stack[k]) : Swift.max(value, stack[k])
                        }
                        top -= n - 1
                        stack[top] = value
                    case .clamp:
                        top -= 2
                        stack[top] = Swift.min(Swift.max(stack[top], stack[top + 1]), stack[top + 2])
                    case .choose:
                        top -= 2
                        stack[top] = stack[top] != 0 ? stack[top + 1] : stack[top + 2]
                    default:
                        let b = stack[top]
                        top -= 1
                        let a = stack[top]
                        stack[top] = switch op {
                        case .add: a + b
                        case .subtract: a - b
                        case .multiply: a * b
                        case .divide: a / b
                        case .power: Foundation.pow(a, b)
                        case .less: a < b ? 1 : 0
                        case .lessOrEqual: a <= b ? 1 : 0
                        case .greater: a > b ? 1 : 0
                        case .greaterOrEqual: a >= b ? 1 : 0
                        case .equal: a == b ? 1 : 0
                        case .notEqual: a != b ? 1 : 0
                        case .and: a != 0 && b != 0 ? 1 : 0
                        case .or: a != 0 || b != 0 ? 1 : 0
                        default: .nan
                        }
                    }
                }
                return stack[0]
            }
        }

        public func evaluate(_ variables: [Double]) -> Double {
            variables.withUnsafeBufferPointer { evaluate($0) }
        }
    }

    /// Compiles `expression`. `variable` numbers a name (nil: not known); `call` may claim a
    /// call that is not one of `functions` (an aggregate over a series) by numbering it.
    public static func compile(_ expression: Formula, variable: (String) -> Int?,
                               call: (String, [Formula]) throws(Problem) -> Int? = { _, _ in nil },
                               known: () -> String = { "" }) throws(Problem) -> Program {
        var ops: [Program.Op] = []
        var depth = 0
        var maxDepth = 0
        func push(_ op: Program.Op, _ change: Int) {
            ops.append(op)
            depth += change
            maxDepth = Swift.max(maxDepth, depth)
        }
        func emit(_ e: Formula) throws(Problem) {
            switch e {
            case .number(let v): push(.constant(v), 1)
            case .name(let n):
                guard let slot = variable(n) else {
                    let list = known()
                    throw Problem("'\(n)' is not known here\(list.isEmpty ? "" : "; known: \(list)")")
                }
                push(.load(slot), 1)
            case .unary(let op, let a):
                try emit(a)
                push(op == "-" ? .negate : .not, 0)
            case .binary(let op, let a, let b):
                try emit(a)
                try emit(b)
                let code: Program.Op = switch op {
                case "+": .add
                case "-": .subtract
                case "*": .multiply
                case "/": .divide
                case "^": .power
                case "<": .less
                case "<=": .lessOrEqual
                case ">": .greater
                case ">=": .greaterOrEqual
                case "==": .equal
                case "!=": .notEqual
                case "and": .and
                default: .or
                }
                push(code, -1)
            case .call(let name, let args):
                if let slot = try call(name, args) {
                    push(.load(slot), 1)
                    return
                }
                guard let arity = functions[name] else {
                    throw Problem("'\(name)' is not a function; functions: \(functions.keys.sorted().joined(separator: ", "))")
                }
                if let arity, args.count != arity {
                    throw Problem("\(name) takes \(arity) argument\(arity == 1 ? "" : "s"), not \(args.count)")
                }
                guard !args.isEmpty else { throw Problem("\(name) needs at least one argument") }
                for a in args { try emit(a) }
                let code: Program.Op = switch name {
                case "min": .minimum(args.count)
                case "max": .maximum(args.count)
                case "abs": .abs
                case "sqrt": .sqrt
                case "exp": .exp
                case "log": .log
                case "log10": .log10
                case "floor": .floor
                case "round": .round
                case "clamp": .clamp
                default: .choose
                }
                push(code, 1 - args.count)
            }
        }
        try emit(expression)
        return Program(ops: ops, depth: maxDepth)
    }
}
