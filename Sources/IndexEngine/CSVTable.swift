import Foundation

/// A CSV file read into a header and rows of strings (RFC 4180 quoting).
public struct CSVTable: Sendable {
    public var name: String
    public var header: [String]
    public var rows: [[String]]

    public init(name: String, header: [String], rows: [[String]]) {
        self.name = name
        self.header = header
        self.rows = rows
    }

    public init(contentsOf path: String) throws(IndexError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw IndexError("\(path): cannot read the file; check the path")
        }
        try self.init(name: path, text: String(decoding: data, as: UTF8.self))
    }

    public init(name: String, text: String) throws(IndexError) {
        var records: [[String]] = []
        var field = ""
        var record: [String] = []
        var quoted = false
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = iterator.next()
        while let c = pending {
            pending = iterator.next()
            if quoted {
                if c == "\"" {
                    if pending == "\"" { field.unicodeScalars.append("\""); pending = iterator.next() } else { quoted = false }
                } else {
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"": quoted = true
            case ",": record.append(field); field = ""
            case "\r": continue
            case "\n":
                record.append(field); field = ""
                if !(record.count == 1 && record[0].isEmpty) { records.append(record) }
                record = []
            default: field.unicodeScalars.append(c)
            }
        }
        if quoted { throw IndexError("\(name): a quoted field is not closed; add the missing \"") }
        if !field.isEmpty || !record.isEmpty { record.append(field); records.append(record) }
        guard let header = records.first else { throw IndexError("\(name): the file is empty; it needs a header row") }
        self.name = name
        self.header = header.map { $0.trimmingCharacters(in: .whitespaces) }
        rows = Array(records.dropFirst())
        for (i, row) in rows.enumerated() where row.count != header.count {
            throw IndexError("\(name): row \(i + 2) has \(row.count) fields, the header has \(header.count); fix the row")
        }
    }

    public func column(_ name: String) -> Int? { header.firstIndex(of: name) }

    /// Row `row`'s value in column `column`; row numbers in errors count the header as row 1.
    public func value(_ row: Int, _ column: Int) -> String { rows[row][column].trimmingCharacters(in: .whitespaces) }

    /// A numeric cell: empty, NA or NaN give nil; anything else non-numeric is an error.
    public func number(_ row: Int, _ column: Int) throws(IndexError) -> Double? {
        let text = value(row, column)
        if text.isEmpty || text == "NA" || text == "NaN" { return nil }
        guard let value = Double(text), value.isFinite else {
            throw IndexError("\(name): row \(row + 2), column '\(header[column])': '\(text)' is not a number; write a number or leave the cell empty for a missing value")
        }
        return value
    }
}
