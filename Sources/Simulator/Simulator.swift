import Telemetry
import MQTT

/// The city simulator: scenarios, virtual clock, device models and publishing.
public enum Simulator {
    /// The device families a scenario can declare, one per telemetry domain.
    public static let families: [Domain] = Domain.allCases
}
