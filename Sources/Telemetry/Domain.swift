/// The city domains that devices report into; each is one topic level.
public enum Domain: String, Sendable, Codable, CaseIterable {
    case mobility
    case lighting
    case waste
    case water
    case environment
}
