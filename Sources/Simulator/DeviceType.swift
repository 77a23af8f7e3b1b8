import Foundation
import Telemetry

/// A device family defined in a scenario (`device-types:`) rather than in code: its contract
/// (entity type, domain, attributes) and a generator per attribute built from the processes the
/// built-in models use. The simulator runs it as `DefinedDevice`; the gateway validates and
/// aggregates it by `schema`, the same definition.
public struct DeviceType: Sendable {
    /// The key under a city's `fleets:` (`parking`).
    public var id: String
    public var schema: EntitySchema
    /// Seconds between reports unless the fleet says otherwise.
    public var interval: Int64
    public var attributes: [DefinedAttribute]
    /// The battery level attribute (0-1), which `battery-sag` faults drain.
    public var battery: Int?
    /// Attributes in the order a report computes them: every one after those it reads.
    public var order: [Int]
}

/// A value over the day: a constant, or a daily profile of points evenly spaced from local
/// midnight (24 for hours, interpolated linearly and wrapping), with another for weekends.
public struct Signal: Sendable, Equatable {
    public var daily: [Double]
    public var weekend: [Double]?

    public static func constant(_ value: Double) -> Signal { Signal(daily: [value], weekend: nil) }

    @inline(__always)
    func value(hour: Double, weekend isWeekend: Bool) -> Double {
        let points = isWeekend ? (weekend ?? daily) : daily
        if points.count == 1 { return points[0] }
        let position = hour / 24 * Double(points.count)
        let low = Int(position) % points.count
        let fraction = position - position.rounded(.down)
        return points[low] + (points[(low + 1) % points.count] - points[low]) * fraction
    }
}

/// How one attribute of a defined device gets its value at each report.
public enum AttributeProcess: Sendable {
    /// The signal itself (a constant or a profile), times the device's factor.
    case profile(Signal)
    /// AR(1) / Ornstein-Uhlenbeck around the signal: pulled back at `reversion` per hour, with
    /// a stationary standard deviation `sd`.
    case ou(mean: Signal, reversion: Double, sd: Double)
    /// A random walk from `start`, steps of `step` standard deviation per hour.
    case randomWalk(start: Double, step: Double)
    /// A meter integrating a rate per `per` seconds: another attribute (`rate`), or a signal.
    case meter(rate: Int?, signal: Signal, per: Double, start: Double)
    /// A Markov chain over `states` (the values written), leaving state i for j at
    /// `rates[i][j]` per hour (a signal, so rates may follow the day).
    case markov(states: [Double], rates: [[Signal?]], initial: Int)
    /// The sun's elevation at the city in degrees.
    case solar
    /// A formula over other attributes of the same report and `hour`, `weekend`, `elevation`.
    case expression(Formula.Program, text: String)
}

public struct DefinedAttribute: Sendable {
    public var process: AttributeProcess
    /// Standard deviation of measurement noise added to each value written.
    public var noise: Double
    /// Relative standard deviation of a device's own factor on its signal (lognormal).
    public var spread: Double
}

extension DeviceType {
    /// Names an expression may read besides the attributes: local hour (0-24), 1 on
    /// weekends, and the sun's elevation in degrees.
    public static let contextNames = ["hour", "weekend", "elevation"]
}

/// A device of a `DeviceType`. Its state is one number per attribute (the process's level,
/// a meter total or a chain's state) and one more (the device's factor, or for a meter the
/// rate at the previous report, which the meter integrates by the trapezoid rule).
struct DefinedDevice: DeviceModel {
    typealias State = [Double]

    let type: DeviceType
    let city: CityContext
    let family: Family
    var domain: Domain { type.schema.domain }
    var entityType: StaticBytes { family.entityType }
    var code: String { type.schema.deviceCode }
    var attributes: [Attribute] { family.attributes }
    var batteryAttribute: Int? { type.battery }
    private let needsElevation: Bool

    init(type: DeviceType, city: CityContext) {
        self.type = type
        self.city = city
        family = Family(type.schema)
        needsElevation = type.attributes.contains {
            switch $0.process {
            case .solar: true
            case .expression(_, let text): text.contains("elevation")
            default: false
            }
        }
    }

    func initialState(_ device: DeviceInfo, at time: Int64) -> State {
        let n = type.attributes.count
        var state = [Double](repeating: 0, count: 2 * n)
        var random = RandomStream(key: device.key ^ 0x6465_6669, counter: 0)
        let hour = city.localHour(time)
        let weekend = city.isWeekend(time)
        for (i, attribute) in type.attributes.enumerated() {
            let factor = attribute.spread > 0 ? exp(attribute.spread * random.normal() - attribute.spread * attribute.spread / 2) : 1
            state[n + i] = factor
            switch attribute.process {
            case .ou(let mean, _, let sd): state[i] = mean.value(hour: hour, weekend: weekend) * factor + sd * random.normal()
            case .randomWalk(let start, _): state[i] = start * factor
            case .meter(_, _, _, let start):
                state[i] = start * factor
                state[n + i] = .nan
            case .markov(_, _, let initial): state[i] = Double(initial)
            default: break
            }
        }
        return state
    }

    func report(_ state: inout State, _ device: DeviceInfo, time: Int64, interval: Int64,
                random: inout RandomStream, values: inout [Double]) {
        let n = type.attributes.count
        let hours = Double(interval) / 3600
        let hour = city.localHour(time)
        let weekend = city.isWeekend(time)
        let elevation = needsElevation ? Solar.elevation(at: Double(time), latitude: city.city.latitude, longitude: city.city.longitude) : 0
        if values.count < n + 3 { values += [Double](repeating: 0, count: n + 3 - values.count) }
        values[n] = hour
        values[n + 1] = weekend ? 1 : 0
        values[n + 2] = elevation
        for i in type.order {
            let attribute = type.attributes[i]
            var value: Double
            switch attribute.process {
            case .profile(let signal):
                value = signal.value(hour: hour, weekend: weekend) * state[n + i]
            case .ou(let mean, let reversion, let sd):
                let target = mean.value(hour: hour, weekend: weekend) * state[n + i]
                let phi = exp(-reversion * hours)
                state[i] = target + (state[i] - target) * phi + sd * (1 - phi * phi).squareRoot() * random.normal()
                value = state[i]
            case .randomWalk(_, let step):
                state[i] += step * hours.squareRoot() * random.normal()
                value = state[i]
            case .meter(let rateIndex, let signal, let per, _):
                let rate = rateIndex.map { values[$0] } ?? signal.value(hour: hour, weekend: weekend)
                let previous = state[n + i].isNaN ? rate : state[n + i]
                state[n + i] = rate
                state[i] += max(0, (previous + rate) / 2) * Double(interval) / per
                if let rollover = type.schema.attributes[i].rollover, state[i] >= rollover {
                    state[i] = state[i].truncatingRemainder(dividingBy: rollover)
                }
                value = state[i]
            case .markov(let states, let rates, _):
                let current = Int(state[i])
                var total = 0.0
                for (j, rate) in rates[current].enumerated() where j != current {
                    if let rate { total += rate.value(hour: hour, weekend: weekend) }
                }
                if total > 0, random.unit() < 1 - exp(-total * hours) {
                    var pick = random.unit() * total
                    for (j, rate) in rates[current].enumerated() where j != current {
                        guard let rate else { continue }
                        pick -= rate.value(hour: hour, weekend: weekend)
                        if pick <= 0 {
                            state[i] = Double(j)
                            break
                        }
                    }
                }
                value = states[Int(state[i])]
            case .solar:
                value = elevation
            case .expression(let program, _):
                value = values.withUnsafeBufferPointer { program.evaluate($0) }
            }
            if attribute.noise > 0 { value += attribute.noise * random.normal() }
            values[i] = value
        }
        // What a sensor can report, after every attribute has read the others' raw values.
        for (i, schema) in type.schema.attributes.enumerated() {
            values[i] = values[i].isFinite ? min(max(values[i], schema.range.lowerBound), schema.range.upperBound) : .nan
        }
    }

    func reboot(_ state: inout State) {
        let n = type.attributes.count
        for (i, attribute) in type.attributes.enumerated() {
            if case .meter = attribute.process {
                state[i] = 0
                state[n + i] = .nan
            }
        }
    }
}

final class DefinedFleet: FleetRunner {
    let model: DefinedDevice
    var states: [DefinedDevice.State] = []
    init(_ model: DefinedDevice, city: CityContext, settings: FleetSettings, districtStarts: [Int], scenario: Scenario, shard: Shard) {
        self.model = model
        super.init(model: model, city: city, settings: settings, districtStarts: districtStarts, scenario: scenario, shard: shard)
        states = makeStates(model)
    }
    override func emit(into report: inout DeviceReport, values: inout [Double]) { self.report(model, &states, into: &report, values: &values) }
}
