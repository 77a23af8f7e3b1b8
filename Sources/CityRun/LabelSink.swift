import Simulator

/// Writes a generator's ground-truth labels to a file (CSV for `.csv`, else JSON Lines) as
/// the episodes close; `close` ends the ones still open and reports how many were written.
public final class LabelSink: @unchecked Sendable {
    private let writer: LabelWriter
    private var failure: SimulationError?
    public let path: String
    /// Every label written, kept for scoring when `keep` is set.
    public private(set) var labels: [GroundTruthLabel] = []

    public init(path: String, generator: Generator, keep: Bool = false) throws {
        self.path = path
        writer = try LabelWriter(path: path)
        generator.recordLabels { [unowned self] label in
            if keep { labels.append(label) }
            guard failure == nil else { return }
            do throws(SimulationError) { try writer.write(label) } catch { failure = error }
        }
    }

    /// Closes the episodes still open at the simulated time reached and the file.
    @discardableResult
    public func close(generator: Generator) throws -> Int {
        generator.finishLabels()
        if let failure { throw failure }
        try writer.close()
        return writer.written
    }
}
