/// Fills missing values from the indicator's mean or median, overall or within a unit group.
enum Impute {
    static func apply(_ data: inout Dataset, method: Pipeline.Imputation) throws(IndexError) {
        let group: [String]?
        let useMedian: Bool
        switch method {
        case .none: return
        case .mean: group = nil; useMedian = false
        case .median: group = nil; useMedian = true
        case .groupMean(let name), .groupMedian(let name):
            guard let column = data.groups[name] else {
                throw IndexError("impute.group '\(name)' is not a group column of the data; available: \(data.groups.keys.sorted().joined(separator: ", "))")
            }
            group = column
            if case .groupMedian = method { useMedian = true } else { useMedian = false }
        }
        for i in data.values.indices {
            let column = data.values[i]
            var cache: [String: Double] = [:]
            for u in column.indices where column[u].isNaN {
                let key = group?[u] ?? ""
                let fill = cache[key] ?? {
                    let peers = column.indices.filter { group == nil || group![$0] == key }.map { column[$0] }
                    return useMedian ? Statistics.median(peers) : Statistics.mean(peers)
                }()
                cache[key] = fill
                data.values[i][u] = fill
            }
        }
    }
}
