import Foundation
import Telemetry
import Yams

/// One node of a YAML settings file (a scenario, the gateway's config, an index definition,
/// a pipeline) with its dotted path and position, so every error can say where it is and what
/// was expected: `scenario.yaml:14:5: cities[0].fleets.lighting.interval: '...' is not a duration`.
///
/// ```swift
/// let root = try YAMLField.document(yaml: text, file: "gateway.yaml")
/// let top = try root.mapping(allowed: ["window", "lateness"])
/// let window = try top["window"]?.duration()
/// ```
public struct YAMLField {
    public let node: Node
    public let path: String
    public let file: String

    public init(node: Node, path: String, file: String) {
        self.node = node
        self.path = path
        self.file = file
    }

    /// The root of a YAML text; `empty` says what to write when the text has no content.
    public static func document(yaml: String, file: String, empty: String = "the file is empty") throws(ConfigError) -> YAMLField {
        let root: Node?
        do { root = try Yams.compose(yaml: yaml) } catch {
            throw ConfigError(file: file, field: "", "not valid YAML: \(error)")
        }
        guard let root else { throw ConfigError(file: file, field: "", empty) }
        return YAMLField(node: root, path: "", file: file)
    }

    /// Reads a file and returns its root.
    public static func document(contentsOf path: String, what: String = "file", empty: String = "the file is empty") throws(ConfigError) -> YAMLField {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, field: "", "cannot read the \(what); check the path")
        }
        return try document(yaml: String(decoding: data, as: UTF8.self), file: path, empty: empty)
    }

    public func error(_ message: String) -> ConfigError {
        ConfigError(file: file, line: node.mark.map { $0.line }, column: node.mark.map { $0.column },
                      field: path, message)
    }

    private func child(_ key: String, _ node: Node) -> YAMLField {
        YAMLField(node: node, path: path.isEmpty ? key : "\(path).\(key)", file: file)
    }

    /// The mapping's entries, after checking that every key is one of `allowed`.
    public func mapping(allowed: [String]) throws(ConfigError) -> YAMLMapping {
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

    public func list() throws(ConfigError) -> [YAMLField] {
        guard case .sequence(let items) = node else { throw error("expected a list (lines starting with '- ')") }
        return items.enumerated().map { YAMLField(node: $1, path: "\(path)[\($0)]", file: file) }
    }

    public func string() throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node else { throw error("expected text") }
        return scalar.string
    }

    /// A name used in topics and identifiers: lower-case letters, digits and '-'.
    public func identifier() throws(ConfigError) -> String {
        let text = try string()
        guard !text.isEmpty, text.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }) else {
            throw error("'\(text)' is not a valid identifier; use lower-case letters, digits and '-' (it becomes a topic level)")
        }
        return text
    }

    public func double(in range: ClosedRange<Double>? = nil) throws(ConfigError) -> Double {
        guard case .scalar(let scalar) = node, let value = Double(scalar.string.replacingOccurrences(of: "_", with: "")),
              value.isFinite else {
            throw error("expected a number, got '\(node.string ?? "a \(kindName)")'")
        }
        if let range, !range.contains(value) {
            throw error("\(value) is out of range; allowed \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    public func int(in range: ClosedRange<Int>? = nil) throws(ConfigError) -> Int {
        guard case .scalar(let scalar) = node, let value = Int(scalar.string.replacingOccurrences(of: "_", with: "")) else {
            throw error("expected a whole number, got '\(node.string ?? "a \(kindName)")'")
        }
        if let range, !range.contains(value) {
            throw error("\(value) is out of range; allowed \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    public func bool() throws(ConfigError) -> Bool {
        guard case .scalar(let scalar) = node else { throw error("expected true or false") }
        switch scalar.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false, got '\(scalar.string)'")
        }
    }

    public func choice<T: RawRepresentable & CaseIterable>(_ type: T.Type) throws(ConfigError) -> T where T.RawValue == String {
        let text = try string()
        guard let value = T(rawValue: text) else {
            throw error("'\(text)' is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    /// A duration like `90s`, `15m`, `2h`, `1d`, `1w` or a number of seconds.
    public func duration(minimum: Int64 = 1) throws(ConfigError) -> Int64 {
        let text = try string()
        guard let seconds = Durations.parse(text) else { throw error(Durations.problem(text) ?? "'\(text)' is not a duration") }
        guard seconds >= minimum else { throw error("'\(text)' is too short; it must be at least \(minimum) s") }
        return seconds
    }

    /// Whether the node is YAML's null (`~`, `null` or nothing).
    public var isNull: Bool {
        guard case .scalar(let scalar) = node else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string) && scalar.style == .plain
    }

    /// A list of numbers, like `[0, 100]`.
    public func doubles() throws(ConfigError) -> [Double] {
        var out: [Double] = []
        for item in try list() { out.append(try item.double()) }
        return out
    }

    private var kindName: String {
        switch node {
        case .mapping: "mapping"
        case .sequence: "list"
        default: "value"
        }
    }

    public static func closest(_ name: String, in options: [String]) -> String? {
        let lower = name.lowercased()
        return options.first { $0.lowercased() == lower }
            ?? options.first { $0.lowercased().hasPrefix(String(lower.prefix(4))) && lower.count >= 4 }
    }
}

/// A mapping's entries by key, each a field of its own.
public struct YAMLMapping {
    public let owner: YAMLField
    public let entries: [String: YAMLField]

    public subscript(key: String) -> YAMLField? { entries[key] }

    public func required(_ key: String) throws(ConfigError) -> YAMLField {
        guard let value = entries[key] else {
            throw owner.error("the field '\(key)' is missing")
        }
        return value
    }
}
