/// A plain-text table with columns padded to their widest cell.
public final class TextTable {
    private var rows: [[String]]
    public init(_ header: [String]) { rows = [header] }
    public func add(_ row: [String]) { rows.append(row) }
    public func render() -> String {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 || column == 1 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
