import Telemetry
import Testing

/// The formula language of device types and indicators.
@Suite struct FormulaTests {
    func value(_ text: String, _ variables: [String: Double] = [:]) throws -> Double {
        let names = variables.keys.sorted()
        let program = try Formula.compile(try Formula.parse(text), variable: { names.firstIndex(of: $0) })
        return program.evaluate(names.map { variables[$0]! })
    }

    @Test(arguments: [
        ("1 + 2 * 3", 7.0), ("(1 + 2) * 3", 9), ("2 ^ 3 ^ 2", 512), ("-2 ^ 2", -4), ("2 ^ -1", 0.5),
        ("10 - 4 - 3", 3), ("12 / 4 / 3", 1), ("1.5e2 + 1_000", 1150),
        ("3 > 2", 1), ("3 <= 2", 0), ("2 == 2 and 1 != 1", 0), ("not 0 or 0", 1),
        ("min(4, 2, 8)", 2), ("max(4, 2, 8)", 8), ("clamp(15, 0, 10)", 10), ("if(0, 1, 2)", 2), ("abs(-3) + sqrt(16)", 7),
        ("round(2.5) + floor(-0.5)", 2), ("log10(1000)", 3), ("exp(0) + log(1)", 1),
    ] as [(String, Double)])
    func arithmeticFollowsTheUsualRules(text: String, expected: Double) throws {
        #expect(try value(text) == expected, "\(text)")
    }

    @Test func namesReadTheirVariables() throws {
        #expect(try value("LAeq + 10 + 0.1 * (LAeq - 50)", ["LAeq": 60]) == 71)
        #expect(try value("a.b * c_d@x", ["a.b": 2, "c_d@x": 4]) == 8)
        #expect(try value("order + nothing", ["order": 1, "nothing": 2]) == 3, "words that begin like or, not are names")
        #expect(try Formula.parse("f(a, b) + c").names == ["a", "b", "c"])
    }

    @Test(arguments: [
        ("1 +", "the formula ends"), ("(1 + 2", "')' expected"), ("1 2", "unexpected '2'"), ("a + 1", "'a' is not known here"),
        ("median(1)", "'median' is not a function"), ("clamp(1, 2)", "clamp takes 3 arguments"), ("min()", "min needs at least one"),
        ("1 $ 2", "unexpected '$'"), ("1 < 2 == 1", "unexpected '='"),
    ])
    func mistakesAreNamed(text: String, message: String) {
        #expect { try value(text) } throws: { "\($0)".contains(message) }
    }
}
