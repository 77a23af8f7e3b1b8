import Telemetry

/// Produces a scenario's messages in send-time order, one at a time, without a broker.
///
/// Every device of this shard first announces `online` (retained); then the fleets' reports
/// are merged by time (ties by fleet order, then by device phase); delayed and duplicated
/// messages and fault statuses wait in a queue until their send time; at the end every device
/// says `offline`. The output is a pure function of the scenario, its seed and the shard.
public final class Generator {
    public let scenario: Scenario
    public let shard: Shard
    /// The current message after `next()` returned true. Its buffers are reused by the next call.
    public private(set) var message = SimMessage()
    public private(set) var stats = SimulationStats()
    /// Simulated time of the last message (seconds since 1970).
    public private(set) var simulatedTime: Int64

    let fleets: [FleetRunner]
    let cities: [CityContext]
    private var values = [Double](repeating: 0, count: 16)
    private var report = DeviceReport()
    private let writer = SenMLWriter(capacity: 1024)
    private var deviceID: [UInt8] = []
    private var pending = PendingQueue()
    private var phase = Phase.statuses(online: true, fleet: 0, position: 0)
    private let includeStatus: Bool
    private var labels: LabelRecorder?

    /// Records the ground truth: every fault episode and city event of this shard's devices,
    /// handed to `emit` as each closes (the last ones when the run ends). Set before the
    /// first `next()`; the messages are the same with or without it.
    public func recordLabels(_ emit: @escaping (GroundTruthLabel) -> Void) {
        labels = LabelRecorder(emit: emit)
        for fleet in fleets { fleet.labelling = true }
    }

    /// Closes the episodes still open at the simulated time reached, for a run that ends early.
    public func finishLabels() {
        labels?.finish(fleets: fleets, end: simulatedTime)
    }

    enum Phase {
        /// Every device's `online` (before the run) or `offline` (after it), fleet by fleet.
        case statuses(online: Bool, fleet: Int, position: Int)
        case run
        case done
    }

    /// - Parameter includeStatus: whether to produce the `online`/`offline` status messages.
    public init(scenario: Scenario, shard: Shard = .whole, includeStatus: Bool = true) {
        self.scenario = scenario
        self.shard = shard
        self.includeStatus = includeStatus
        simulatedTime = scenario.start
        var cities: [CityContext] = []
        var fleets: [FleetRunner] = []
        for (cityIndex, city) in scenario.cities.enumerated() {
            let context = CityContext(city: city, index: cityIndex, seed: scenario.seed)
            cities.append(context)
            fleets += Generator.makeFleets(context, scenario: scenario, shard: shard)
        }
        self.cities = cities
        for (slot, fleet) in fleets.enumerated() { fleet.slot = slot }
        self.fleets = fleets
        stats.devices = fleets.reduce(0) { $0 + $1.localCount }
        if !includeStatus { phase = .run }
    }

    /// District boundaries for `count` devices spread by the districts' shares.
    static func districtStarts(_ city: City, count: Int) -> [Int] {
        let total = city.districts.reduce(0) { $0 + $1.share }
        var starts = [0]
        var cumulative = 0.0
        for district in city.districts.dropLast() {
            cumulative += district.share
            starts.append(Int((Double(count) * cumulative / total).rounded()))
        }
        starts.append(count)
        return starts
    }

    static func makeFleets(_ context: CityContext, scenario: Scenario, shard: Shard) -> [FleetRunner] {
        let city = context.city
        var fleets: [FleetRunner] = []
        if let traffic = city.fleets.traffic {
            fleets.append(TrafficFleet(TrafficCounter(settings: traffic, city: context), city: context, settings: traffic.fleet,
                                districtStarts: districtStarts(city, count: traffic.fleet.count), scenario: scenario, shard: shard))
        }
        if let lighting = city.fleets.lighting {
            fleets.append(LightingFleet(Streetlight(settings: lighting, city: context), city: context, settings: lighting.fleet,
                                districtStarts: districtStarts(city, count: lighting.fleet.count), scenario: scenario, shard: shard))
        }
        if let waste = city.fleets.waste {
            fleets.append(WasteFleet(WasteContainer(settings: waste, city: context), city: context, settings: waste.fleet,
                                districtStarts: districtStarts(city, count: waste.fleet.count), scenario: scenario, shard: shard))
        }
        if let water = city.fleets.water {
            let meters = WaterMeter(settings: water, city: context)
            let meterStarts = districtStarts(city, count: water.fleet.count)
            let meterFleet = WaterMeterFleet(meters, city: context, settings: water.fleet, districtStarts: meterStarts,
                                   scenario: scenario, shard: shard)
            fleets.append(meterFleet)
            // The district inflow meters need every meter's size, whichever shard runs it, and the
            // mean use of the meters that are not connected.
            var districtDaily = [Double](repeating: 0, count: city.districts.count)
            let inventoryStarts = districtStarts(city, count: max(water.fleet.inventory ?? 0, water.fleet.count))
            for district in city.districts.indices {
                for index in meterStarts[district]..<meterStarts[district + 1] {
                    districtDaily[district] += meters.meanDaily * WaterMeter.size(meterFleet.deviceKey(index))
                }
                let unconnected = (inventoryStarts[district + 1] - inventoryStarts[district]) - (meterStarts[district + 1] - meterStarts[district])
                districtDaily[district] += meters.meanDaily * Double(max(0, unconnected))
            }
            let perDistrict = water.networkSensorsPerDistrict
            var network = FleetSettings(count: perDistrict * city.districts.count, interval: water.networkInterval,
                                        connection: water.fleet.connection, perConnection: water.fleet.perConnection)
            network.payload = water.fleet.payload
            fleets.append(WaterNetworkFleet(WaterNetworkSensor(settings: water, city: context, districtDaily: districtDaily),
                                city: context, settings: network,
                                districtStarts: (0...city.districts.count).map { $0 * perDistrict }, scenario: scenario, shard: shard))
        }
        if let environment = city.fleets.environment {
            fleets.append(AirQualityFleet(AirQualityStation(city: context), city: context, settings: environment.fleet,
                                districtStarts: districtStarts(city, count: environment.fleet.count), scenario: scenario, shard: shard))
        }
        for defined in city.fleets.defined {
            fleets.append(DefinedFleet(DefinedDevice(type: defined.type, city: context), city: context, settings: defined.fleet,
                                       districtStarts: districtStarts(city, count: defined.fleet.count), scenario: scenario, shard: shard))
        }
        return fleets
    }

    /// Moves to the next message; false when the run is over.
    public func next() -> Bool {
        while true {
            switch phase {
            case .statuses(let online, let fleetIndex, let position):
                guard fleetIndex < fleets.count else {
                    phase = online ? .run : .done
                    continue
                }
                let fleet = fleets[fleetIndex]
                guard position < fleet.localCount else {
                    phase = .statuses(online: online, fleet: fleetIndex + 1, position: 0)
                    continue
                }
                phase = .statuses(online: online, fleet: fleetIndex, position: position + 1)
                let time = online ? scenario.start : scenario.start + scenario.duration
                fleet.writeStatus(Int(fleet.order[position]), online: online, at: time, abrupt: false, into: &message)
                finish()
                return true
            case .run:
                var earliest = Int64.max
                var chosen = -1
                for (i, fleet) in fleets.enumerated() where fleet.nextTime < earliest {
                    earliest = fleet.nextTime
                    chosen = i
                }
                if let due = pending.peekTime, chosen < 0 || due <= earliest &* 1000 {
                    pending.pop(into: &message)
                    finish()
                    return true
                }
                guard chosen >= 0 else {
                    labels?.finish(fleets: fleets, end: scenario.start + scenario.duration)
                    phase = includeStatus ? .statuses(online: false, fleet: 0, position: 0) : .done
                    continue
                }
                let fleet = fleets[chosen]
                fleet.emit(into: &report, values: &values)
                labels?.observe(fleet, report)
                for change in report.statusChanges {
                    schedule(status: change.online, fleet: fleet, device: report.device, at: change.time, sendMs: change.sendMs, abrupt: change.abrupt)
                }
                for kind in report.faults { stats.faults[kind, default: 0] += 1 }
                if report.silent { continue }
                encode(fleet: fleet, report: report, values: values)
                if report.isDeferred {
                    pending.push(message)
                    if report.duplicate { pending.push(message) }
                    continue
                }
                finish()
                return true
            case .done:
                return false
            }
        }
    }

    private func finish() {
        simulatedTime = max(simulatedTime, message.sendTime / 1000)
        stats.bytes += message.payload.count
        if message.kind == .status { stats.statuses += 1 } else { stats.perDomain[message.domain.ordinal] += 1 }
    }

    /// Encodes a report into `message`.
    private func encode(fleet: FleetRunner, report: DeviceReport, values: [Double]) {
        let (device, time, sendMs, sequence, attributes) = (report.device, report.time, report.sendMs, report.sequence, fleet.attributes)
        writer.reset()
        writer.format = fleet.connection.payload
        deviceID.removeAll(keepingCapacity: true)
        fleet.writeDeviceID(device, into: &deviceID)
        writer.begin(entityType: fleet.entityType, deviceID: deviceID, time: time)
        for (i, attribute) in attributes.enumerated() {
            let value = values[i]
            if value.isNaN { continue }
            switch attribute.kind {
            case .measure(let decimals): writer.number(attribute.name, unit: attribute.unit, value, decimals: decimals)
            case .sum(let decimals): writer.sum(attribute.name, unit: attribute.unit, value, decimals: decimals)
            case .flag: writer.bool(attribute.name, value != 0)
            case .text(let options): writer.string(attribute.name, options[min(options.count - 1, max(0, Int(value)))])
            }
        }
        writer.number(Generator.sequenceName, unit: nil, Double(sequence), decimals: 0)
        writer.number(Generator.sentName, unit: Generator.secondsUnit, Double(sendMs) / 1000, decimals: 3)
        writer.end()
        message.kind = .telemetry
        fleet.writeTopic(device, status: false, into: &message.topic)
        message.payload.removeAll(keepingCapacity: true)
        message.payload.append(contentsOf: writer.bytes)
        message.retain = false
        message.eventTime = time
        message.sendTime = sendMs
        message.domain = fleet.domain
        message.fleet = fleet.slot
        message.device = device
        message.abrupt = false
    }

    static let sequenceName = StaticBytes(Envelope.sequence.description)
    static let sentName = StaticBytes(Envelope.sent.description)
    static let secondsUnit = StaticBytes(Envelope.sentUnit.description)

    private func schedule(status online: Bool, fleet: FleetRunner, device: Int, at time: Int64, sendMs: Int64, abrupt: Bool) {
        guard includeStatus else { return }
        var status = SimMessage()
        fleet.writeStatus(device, online: online, at: time, abrupt: abrupt, into: &status)
        status.sendTime = sendMs
        pending.push(status)
    }
}

/// Messages waiting for their send time: a binary heap ordered by (send time, arrival).
struct PendingQueue {
    private var heap: [(time: Int64, order: Int, message: SimMessage)] = []
    private var arrivals = 0

    var peekTime: Int64? { heap.first?.time }

    mutating func push(_ message: SimMessage) {
        arrivals += 1
        heap.append((message.sendTime, arrivals, message))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(child, parent) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop(into message: inout SimMessage) {
        message = heap[0].message
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, less(left, smallest) { smallest = left }
            if right < heap.count, less(right, smallest) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        (heap[a].time, heap[a].order) < (heap[b].time, heap[b].order)
    }
}
