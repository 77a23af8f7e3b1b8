/// Drops units whose share of present indicator values is below the threshold.
enum Screen {
    /// Availability of each unit: present values / indicators.
    static func availability(_ data: Dataset) -> [Double] {
        data.units.indices.map { u in
            Double(data.values.filter { !$0[u].isNaN }.count) / Double(max(1, data.values.count))
        }
    }

    static func keep(_ availability: [Double], minimum: Double) -> [Int] {
        availability.indices.filter { availability[$0] >= minimum - 1e-12 }
    }
}
