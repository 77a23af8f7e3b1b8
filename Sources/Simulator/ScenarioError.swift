@_exported import YAMLReader

/// A scenario problem, located: `file:line:column: field: what is wrong and what to write instead`.
public typealias ScenarioError = ConfigError
