import Foundation
import Telemetry
import Yams

/// One node of a scenario file with its dotted path and position, so every error can say
/// where it is and what was expected.
struct YAMLField {
    let node: Node
    let path: String
    let file: String

    func error(_ message: String) -> ScenarioError {
        ScenarioError(file: file, line: node.mark.map { $0.line }, column: node.mark.map { $0.column },
                      field: path, message)
    }

    private func child(_ key: String, _ node: Node) -> YAMLField {
        YAMLField(node: node, path: path.isEmpty ? key : "\(path).\(key)", file: file)
    }

    /// The mapping's entries, after checking that every key is one of `allowed`.
    func mapping(allowed: [String]) throws(ScenarioError) -> YAMLMapping {
        guard case .mapping(let map) = node else {
            throw error("expected a mapping with keys \(allowed.joined(separator: ", "))")
        }
        var entries: [String: YAMLField] = [:]
        for (key, value) in map {
            guard let name = key.string else {
                throw YAMLField(node: key, path: path, file: file).error("keys must be plain names")
            }
            guard allowed.contains(name) else {
                let hint = YAMLField.closest(name, in: allowed).map { " (did you mean '\($0)'?)" } ?? ""
                throw child(name, key).error("unknown field '\(name)'\(hint); allowed here: \(allowed.joined(separator: ", "))")
            }
            entries[name] = child(name, value)
        }
        return YAMLMapping(owner: self, entries: entries)
    }

    func list() throws(ScenarioError) -> [YAMLField] {
        guard case .sequence(let items) = node else { throw error("expected a list (lines starting with '- ')") }
        return items.enumerated().map { YAMLField(node: $1, path: "\(path)[\($0)]", file: file) }
    }

    func string() throws(ScenarioError) -> String {
        guard case .scalar(let scalar) = node else { throw error("expected text") }
        return scalar.string
    }

    /// A name used in topics and identifiers: lower-case letters, digits and '-'.
    func identifier() throws(ScenarioError) -> String {
        let text = try string()
        guard !text.isEmpty, text.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }) else {
            throw error("'\(text)' is not a valid identifier; use lower-case letters, digits and '-' (it becomes a topic level)")
        }
        return text
    }

    func double(in range: ClosedRange<Double>? = nil) throws(ScenarioError) -> Double {
        guard case .scalar(let scalar) = node, let value = Double(scalar.string.replacingOccurrences(of: "_", with: "")),
              value.isFinite else {
            throw error("expected a number, got '\(node.string ?? "a \(kindName)")'")
        }
        if let range, !range.contains(value) {
            throw error("\(value) is out of range; allowed \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    func int(in range: ClosedRange<Int>? = nil) throws(ScenarioError) -> Int {
        guard case .scalar(let scalar) = node, let value = Int(scalar.string.replacingOccurrences(of: "_", with: "")) else {
            throw error("expected a whole number, got '\(node.string ?? "a \(kindName)")'")
        }
        if let range, !range.contains(value) {
            throw error("\(value) is out of range; allowed \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    func bool() throws(ScenarioError) -> Bool {
        guard case .scalar(let scalar) = node else { throw error("expected true or false") }
        switch scalar.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false, got '\(scalar.string)'")
        }
    }

    func choice<T: RawRepresentable & CaseIterable>(_ type: T.Type) throws(ScenarioError) -> T where T.RawValue == String {
        let text = try string()
        guard let value = T(rawValue: text) else {
            throw error("'\(text)' is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    /// A duration like `90s`, `15m`, `2h`, `1d`, `1w` or a number of seconds.
    func duration(minimum: Int64 = 1) throws(ScenarioError) -> Int64 {
        let text = try string()
        guard let seconds = Durations.parse(text) else {
            throw error("'\(text)' is not a duration; write it like 30s, 15m, 2h, 1d or 1w")
        }
        guard seconds >= minimum else { throw error("'\(text)' is too short; it must be at least \(minimum) s") }
        return seconds
    }

    private var kindName: String {
        switch node {
        case .mapping: "mapping"
        case .sequence: "list"
        default: "value"
        }
    }

    static func closest(_ name: String, in options: [String]) -> String? {
        let lower = name.lowercased()
        return options.first { $0.lowercased() == lower }
            ?? options.first { $0.lowercased().hasPrefix(String(lower.prefix(4))) && lower.count >= 4 }
    }
}

struct YAMLMapping {
    let owner: YAMLField
    let entries: [String: YAMLField]

    subscript(key: String) -> YAMLField? { entries[key] }

    func required(_ key: String) throws(ScenarioError) -> YAMLField {
        guard let value = entries[key] else {
            throw owner.error("the field '\(key)' is missing")
        }
        return value
    }
}
