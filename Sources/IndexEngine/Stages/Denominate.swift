/// Divides each indicator that names a denominator by that column (per capita, per km2, ...).
enum Denominate {
    static func apply(_ data: inout Dataset, framework: Framework) throws(IndexError) {
        for (i, indicator) in framework.indicators.enumerated() {
            guard let name = indicator.denominator else { continue }
            guard let denominator = data.denominators[name] else {
                throw IndexError("indicator '\(indicator.code)' is divided by '\(name)', but the data has no '\(name)' column; add it or clear the Denominator")
            }
            for u in data.units.indices {
                let d = denominator[u]
                data.values[i][u] = d.isNaN || d == 0 ? .nan : data.values[i][u] / d
            }
        }
    }
}
