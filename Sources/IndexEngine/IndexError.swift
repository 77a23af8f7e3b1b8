/// A problem with index input, naming the file, row and column where it can be fixed.
public struct IndexError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
