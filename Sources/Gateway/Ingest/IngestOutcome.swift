import Telemetry

/// Why a message was not used. The raw values are the `reason` label on `/metrics` and in
/// the dead-letter table.
public enum RejectReason: String, Sendable, CaseIterable {
    case tooLarge = "too-large"
    case badTopic = "bad-topic"
    case malformedJSON = "malformed-json"
    case notSenML = "not-senml"
    case notFinite = "not-finite"
    case tooManyRecords = "too-many-records"
    case entityMismatch = "entity-mismatch"
    case unknownAttribute = "unknown-attribute"
    case repeatedAttribute = "repeated-attribute"
    case wrongType = "wrong-type"
    case wrongUnit = "wrong-unit"
    case outOfRange = "out-of-range"
    case missingField = "missing-field"
    case badStatus = "bad-status"
    case timeSkew = "time-skew"
    case unknownCity = "unknown-city"
    case unknownDistrict = "unknown-district"
    case unknownDevice = "unknown-device"
    /// A payload that is not in the format its topic is configured for (`payload-formats`).
    case wrongFormat = "wrong-format"

    var index: Int { RejectReason.allCases.firstIndex(of: self)! }
}

/// What happened to one message.
public enum IngestOutcome: Hashable, Sendable {
    case accepted
    /// Accepted, and it changed a window that had already been emitted.
    case acceptedLate
    case duplicate
    case tooLate
    case status
    case rejected(RejectReason)
}

/// A message the gateway refused, kept with its raw payload.
public struct DeadLetter: Sendable, Equatable {
    /// The message's position in the journal: unique, so a replay does not store it twice.
    public var position: UInt64
    public var topic: String
    public var reason: RejectReason
    public var detail: String
    public var payload: [UInt8]
}

/// Why one message was refused: the reason (a metric label) and a sentence for its dead letter.
public struct Rejection: Error, Equatable, Sendable {
    public var reason: RejectReason
    public var detail: String

    public init(_ reason: RejectReason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }
}
