import Telemetry

/// How one attribute of a family's message is written.
public struct Attribute: Sendable {
    public enum Kind: Sendable {
        /// A measurement with this many decimals.
        case measure(Int)
        /// A cumulative meter total (SenML sum) with this many decimals.
        case sum(Int)
        case flag
        /// One of these texts, by index.
        case text([StaticBytes])
    }

    public let name: StaticBytes
    public let unit: StaticBytes?
    public let kind: Kind
    /// Whether sensor faults (stuck, drifting, spiking) act on it.
    public let sensed: Bool
    /// The physical range a sensor can report: a faulty one saturates at its ends.
    public let range: ClosedRange<Double>

    public init(_ name: StaticBytes, _ unit: StaticBytes?, _ kind: Kind, sensed: Bool = true, range: ClosedRange<Double> = -1e12...1e12) {
        self.name = name
        self.unit = unit
        self.kind = kind
        self.sensed = sensed
        self.range = range
    }
}

extension Attribute {
    /// The attribute as the wire contract defines it.
    init(_ schema: AttributeSchema) {
        let kind: Kind = switch schema.kind {
        case .number: .measure(schema.decimals)
        case .sum: .sum(schema.decimals)
        case .bool: .flag
        case .string: .text(schema.allowed.map { StaticBytes($0) })
        }
        self.init(StaticBytes(schema.name), schema.unit.map { StaticBytes($0) }, kind, sensed: schema.sensed, range: schema.range)
    }
}

/// A device family as the simulator writes it: its contract, and its entity type and
/// attributes as bytes made once for the life of the program.
public struct Family: Sendable {
    public let schema: EntitySchema
    public let entityType: StaticBytes
    public let attributes: [Attribute]

    init(_ schema: EntitySchema) {
        self.schema = schema
        entityType = StaticBytes(schema.type)
        attributes = schema.attributes.map(Attribute.init)
    }

    /// The family of an entity type of the standard contract. Models write their values in
    /// the contract's attribute order; text values are indices into its `allowed` list.
    static func standard(_ type: String) -> Family {
        guard let family = standardFamilies[type] else { preconditionFailure("\(type) is not in the telemetry schema") }
        return family
    }

    private static let standardFamilies = Dictionary(uniqueKeysWithValues: TelemetrySchema.standard.entities.map { ($0.type, Family($0)) })
}

/// One device as its model sees it.
public struct DeviceInfo {
    /// Index within its fleet (also the number in its id).
    public let index: Int
    /// Random-stream key from the seed and the device id.
    public let key: UInt64
    public let district: Int
}

/// A device family's behaviour. `State` is all a device remembers between reports (kept small:
/// the fleet stores one per device); everything else is derived from the device key, the city
/// context and the time, so any device can be computed alone.
protocol DeviceModel {
    associatedtype State
    var domain: Domain { get }
    var entityType: StaticBytes { get }
    /// Two letters in device ids.
    var code: String { get }
    var attributes: [Attribute] { get }
    /// Index of a battery level attribute (0-1), if the devices run on batteries.
    var batteryAttribute: Int? { get }
    func initialState(_ device: DeviceInfo, at time: Int64) -> State
    /// Advances the state to `time` (the previous report was `interval` seconds earlier) and
    /// writes one value per attribute.
    func report(_ state: inout State, _ device: DeviceInfo, time: Int64, interval: Int64,
                random: inout RandomStream, values: inout [Double])
    /// A reboot that loses volatile registers (meter totals restart at zero).
    func reboot(_ state: inout State)
    /// The city events under way at the device after `report` wrote `values` (before any
    /// fault touched them), for the ground-truth labels.
    func events(_ state: State, _ device: DeviceInfo, time: Int64, values: [Double], into events: inout [Activity])
}

extension DeviceModel {
    var batteryAttribute: Int? { nil }
    func reboot(_ state: inout State) {}
    func events(_ state: State, _ device: DeviceInfo, time: Int64, values: [Double], into events: inout [Activity]) {}
}
