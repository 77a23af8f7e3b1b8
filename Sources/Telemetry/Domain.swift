/// The city domains that devices report into; each is one topic level.
public enum Domain: String, Sendable, Codable, CaseIterable {
    case mobility
    case lighting
    case waste
    case water
    case environment
}

extension Domain {
    /// Position in `allCases`, for per-domain counters kept in arrays.
    public var ordinal: Int {
        switch self {
        case .mobility: 0
        case .lighting: 1
        case .waste: 2
        case .water: 3
        case .environment: 4
        }
    }

    /// The short code used in device identifiers (`alm-tf-000042`).
    public var deviceCode: String {
        switch self {
        case .mobility: "tf"
        case .lighting: "sl"
        case .waste: "wc"
        case .water: "wm"
        case .environment: "aq"
        }
    }
}
