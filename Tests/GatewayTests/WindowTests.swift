@testable import Gateway
import Telemetry
import Foundation
import Testing
import TestSupport

/// Hand-made messages of one air-quality station and one water meter.
struct Feed {
    var aggregator: Aggregator
    var seq: [String: Int] = [:]

    init(window: Int64 = 900, lateness: Int64 = 600, quorum: Int = 1, maxSkew: Int64 = 3600) {
        var config = GatewayConfig()
        config.maxSkew = maxSkew
        config.window = window
        config.lateness = lateness
        // One station moves the clock here; the quorum has tests of its own below.
        config.watermarkQuorum = quorum
        config.cities = [CityFacts(id: "almaty", utcOffset: 0, population: 1000, areaKm2: 10, litStreetKm: 2)]
        config.acceptUnknownDevices = true
        aggregator = try! Aggregator(config: config)
    }

    @discardableResult
    mutating func pm25(_ value: Double, at t: Int64, device: String = "alm-aq-000001", seq s: Int? = nil) -> IngestOutcome {
        let n = s ?? (seq[device, default: 0] + 1)
        seq[device] = max(seq[device, default: 0], n)
        return aggregator.ingest("city/almaty/environment/north/\(device)/attrs",
            #"[{"bn":"urn:ngsi-ld:AirQualityObserved:\#(device):","bt":\#(t),"n":"pm25","u":"ug/m3","v":\#(value)},{"n":"seq","v":\#(n)},{"n":"sent","u":"s","v":\#(t)}]"#)
    }

    @discardableResult
    mutating func meter(_ total: Double, at t: Int64, device: String = "alm-wm-000001") -> IngestOutcome {
        let n = seq[device, default: 0] + 1
        seq[device] = n
        return aggregator.ingest("city/almaty/water/north/\(device)/attrs",
            #"[{"bn":"urn:ngsi-ld:WaterConsumptionObserved:\#(device):","bt":\#(t),"n":"waterConsumption","u":"m3","s":\#(total)},{"n":"seq","v":\#(n)},{"n":"sent","u":"s","v":\#(t)}]"#)
    }

    mutating func lamp(_ energy: Double, at t: Int64, device: String) {
        let n = seq[device, default: 0] + 1
        seq[device] = n
        _ = aggregator.ingest("city/almaty/lighting/north/\(device)/attrs",
            #"[{"bn":"urn:ngsi-ld:Streetlight:\#(device):","bt":\#(t),"n":"powerState","vb":true},{"n":"energy","u":"kWh","s":\#(energy)},{"n":"status","vs":"ok"},{"n":"seq","v":\#(n)},{"n":"sent","u":"s","v":\#(t)}]"#)
    }

    func windows(_ attribute: String, _ resolution: Resolution = .base) -> [WindowRecord] {
        aggregator.pending.windows.filter { $0.attribute == attribute && $0.resolution == resolution }
    }
}

@Suite struct WindowTests {
    let t0: Int64 = 1_768_176_000  // 2026-01-12T00:00:00Z, a multiple of a day

    @Test func aWindowIsEmittedWhenEventTimePassesItsEnd() {
        var f = Feed()
        f.pm25(10, at: t0 + 60)
        f.pm25(30, at: t0 + 600)
        #expect(f.windows("AirQualityObserved.pm25").isEmpty, "still open")
        f.pm25(50, at: t0 + 900)
        let w = f.windows("AirQualityObserved.pm25")
        #expect(w.count == 1)
        #expect(w.first?.start == t0 * 1000)
        #expect(w.first?.partial.count == 2)
        #expect(w.first?.partial.mean == 20)
        #expect(w.first?.partial.min == 10 && w.first?.partial.max == 30)
        #expect(w.first?.partial.firstValue == 10 && w.first?.partial.lastValue == 30)
        #expect(w.first?.revision == 1 && w.first?.closed == true)
    }

    @Test func lateDataInsideTheLatenessCorrectsItsWindowAndBeyondItIsTooLate() {
        var f = Feed(lateness: 600)
        f.pm25(10, at: t0 + 60)
        f.pm25(50, at: t0 + 1000)           // closes [t0, t0+900)
        // 700 s behind the newest: watermark = t0+400, the window ends at t0+900 > watermark.
        #expect(f.pm25(40, at: t0 + 300) == .acceptedLate)
        f.aggregator.flushCorrections()
        let w = f.windows("AirQualityObserved.pm25").filter { $0.start == t0 * 1000 }
        #expect(w.map(\.revision) == [1, 2])
        #expect(w.last?.partial.count == 2)
        #expect(w.last?.partial.mean == 25)
        #expect(f.aggregator.counters.late == 1 && f.aggregator.counters.corrections >= 1)
        // Event time moves on; the first window is now beyond the lateness.
        f.pm25(60, at: t0 + 1600)           // watermark t0+1000 >= t0+900
        #expect(f.pm25(99, at: t0 + 200) == .tooLate)
        #expect(f.aggregator.counters.tooLate == 1)
        f.aggregator.flushCorrections()
        #expect(f.windows("AirQualityObserved.pm25").filter { $0.start == t0 * 1000 }.last?.partial.count == 2, "too-late data changes nothing")
    }

    @Test func duplicatesAreCountedOnceWithinTheDeduplicationWindow() {
        var f = Feed(lateness: 86_400)
        for i in 1...200 { f.pm25(Double(i), at: t0 + Int64(i) * 10, seq: i) }
        #expect(f.pm25(80, at: t0 + 800, seq: 80) == .duplicate, "120 sequence numbers back")
        #expect(f.pm25(200, at: t0 + 2000, seq: 200) == .duplicate)
        #expect(f.pm25(199, at: t0 + 1990, seq: 199) == .duplicate)
        // Beyond 128 sequence numbers the gateway cannot tell: never counted twice, reported as too late.
        #expect(f.pm25(5, at: t0 + 50, seq: 5) == .tooLate)
        #expect(f.aggregator.counters.duplicates == 3)
        #expect(f.aggregator.counters.accepted == 200)
        // A gap: sequence numbers skipped are still accepted when they come.
        #expect(f.pm25(1, at: t0 + 2100, seq: 210) == .accepted)
        #expect(f.pm25(1, at: t0 + 2050, seq: 205) == .accepted)
        #expect(f.pm25(1, at: t0 + 2050, seq: 205) == .duplicate)
    }

    @Test func meterIncrementsHandleResetsRolloversAndOrder() {
        var f = Feed(lateness: 86_400)
        f.meter(99_990, at: t0 + 100)        // first reading: the baseline
        f.meter(99_998, at: t0 + 200)        // +8 over 100-200 s: first window
        f.meter(3, at: t0 + 1000)            // rollover at 100,000: +5 over 200-1000 s: 7/8 first, 1/8 second window
        f.meter(10, at: t0 + 1100)           // +7: second window
        f.meter(2, at: t0 + 1900)            // reset (reboot) to zero: +2 over 1100-1900 s: 7/8 second, 1/8 third
        f.meter(6, at: t0 + 2000)            // +4: third window
        f.aggregator.emitOpenWindows()
        let w = Dictionary(f.windows("WaterConsumptionObserved.waterConsumption").map { ($0.start, $0.partial.increment) }, uniquingKeysWith: { _, b in b })
        // Each increment is shared by the windows of its span in proportion to time.
        let first: Double = 8 + 5 * 7 / 8.0, second: Double = 5 / 8.0 + 7 + 2 * 7 / 8.0, third: Double = 2 / 8.0 + 4
        #expect(w[t0 * 1000] == first)
        #expect(w[(t0 + 900) * 1000] == second)
        #expect(w[(t0 + 1800) * 1000] == third)
        #expect(f.aggregator.counters.meterRollovers == 1 && f.aggregator.counters.meterResets == 1)
        let day = f.windows("WaterConsumptionObserved.waterConsumption", .day).last
        #expect(day?.partial.increment == 26)

        // The same readings out of order give the same increments per window.
        var g = Feed(lateness: 86_400)
        for (v, t) in [(99_990.0, 100), (3, 1000), (99_998, 200), (10, 1100), (6, 2000), (2, 1900)] { g.meter(v, at: t0 + Int64(t)) }
        g.aggregator.emitOpenWindows()
        let v = Dictionary(g.windows("WaterConsumptionObserved.waterConsumption").map { ($0.start, $0.partial.increment) }, uniquingKeysWith: { _, b in b })
        #expect(v == w)
    }

    @Test func indicatorsEqualAHandComputation() {
        var f = Feed(window: 900, lateness: 60)
        // Two stations: PM2.5 10 and 20 (station 1), 40 (station 2) in the first window.
        f.pm25(10, at: t0 + 100, device: "alm-aq-000001")
        f.pm25(20, at: t0 + 400, device: "alm-aq-000001")
        f.pm25(40, at: t0 + 500, device: "alm-aq-000002")
        // Two lamps: 1.5 kWh and 0.5 kWh burnt in the first window.
        f.lamp(100, at: t0 + 10, device: "alm-sl-000001")
        f.lamp(101.5, at: t0 + 800, device: "alm-sl-000001")
        f.lamp(7, at: t0 + 20, device: "alm-sl-000002")
        f.lamp(7.5, at: t0 + 820, device: "alm-sl-000002")
        f.pm25(1, at: t0 + 1000, device: "alm-aq-000001")  // closes the window
        let values = f.aggregator.pending.indicators.filter { $0.start == t0 * 1000 && $0.resolution == .base }
        func value(_ code: String) -> Double? { values.first { $0.code == code }?.value }
        #expect(value("ISO37120:8.1") == (10 + 20 + 40) / 3.0)
        #expect(value("ISO37122:8.2") == 2.0 / 10, "2 live stations over 10 km2")
        let energy: Double = (1.5 + 0.5) / 2 * 365 * 86_400 / 900
        #expect(abs((value("ISO37120:7.6") ?? 0) - energy) < 1e-6, "2 kWh over 2 km lit, scaled from 15 minutes to a year")
        #expect(value("ISO37122:7.6") == nil, "managed lights need the city's pole inventory, which this city does not give")
        #expect(value("HEALTH:environment:reporting") == 100)
        #expect(value("HEALTH:lighting:faulty") == 0)
    }
}

extension Feed {
    /// Sends one message of any family: `records` is the SenML after the base record's name.
    mutating func send(_ domain: String, _ entity: String, _ device: String, at t: Int64, _ records: String) {
        let n = seq[device, default: 0] + 1
        seq[device] = n
        // The records without the opening "[{" and the closing "]".
        let first = records.drop { $0 != "{" }.dropFirst().dropLast()
        let outcome = aggregator.ingest("city/almaty/\(domain)/north/\(device)/attrs",
            #"[{"bn":"urn:ngsi-ld:\#(entity):\#(device):","bt":\#(t),"# + first + #",{"n":"seq","v":\#(n)},{"n":"sent","u":"s","v":\#(t)}]"#)
        #expect(outcome == .accepted, "\(device): \(aggregator.pending.deadLetters.last?.detail ?? "\(outcome)")")
    }
}

@Suite struct IndicatorArithmeticTests {
    let t0: Int64 = 1_768_176_000

    /// Every domain's indicators on a handful of readings, against the arithmetic done by hand.
    @Test func everyDomainsIndicatorsEqualAHandComputation() throws {
        var f = Feed(window: 900, lateness: 60)
        var config = f.aggregator.config
        config.cities = [CityFacts(id: "almaty", utcOffset: 0, population: 1000, areaKm2: 10, litStreetKm: 2, majorStreetKm: 4,
                                   waterNetworkKm: 20, devices: [.mobility: 4, .waste: 4, .water: 10, .lighting: 5, .environment: 2],
                                   inventory: [.waste: 8, .water: 4], kmPerTrafficCounter: 1, kmPerNetworkSensor: 5)]
        f.aggregator = try Aggregator(config: config)
        func traffic(_ device: String, _ t: Int64, speed: Double, occupancy: Double) {
            f.send("mobility", "TrafficFlowObserved", device, at: t,
                   #"[{"n":"intensity","u":"count","v":20},{"n":"occupancy","u":"/","v":\#(occupancy)},{"n":"averageVehicleSpeed","u":"km/h","v":\#(speed)}]"#)
        }
        traffic("alm-tf-000001", t0 + 100, speed: 60, occupancy: 0.05)   // free flow
        traffic("alm-tf-000001", t0 + 400, speed: 30, occupancy: 0.5)
        traffic("alm-tf-000002", t0 + 200, speed: 40, occupancy: 0.3)
        func bin(_ device: String, _ t: Int64, cargo: Double, emptied: Int64, status: String = "ok", battery: Double = 0.9) {
            f.send("waste", "WasteContainer", device, at: t,
                   #"[{"n":"fillingLevel","u":"/","v":0.5},{"n":"cargoWeight","u":"kg","v":\#(cargo)},{"n":"status","vs":"\#(status)"},{"n":"dateLastEmptying","u":"s","v":\#(emptied)},{"n":"batteryLevel","u":"/","v":\#(battery)}]"#)
        }
        bin("alm-wc-000001", t0 + 100, cargo: 50, emptied: 1000)
        bin("alm-wc-000001", t0 + 700, cargo: 3, emptied: t0 + 600)      // emptied: 50 kg collected
        bin("alm-wc-000002", t0 + 300, cargo: 10, emptied: 1000, status: "burning", battery: 0.05)
        func meter(_ device: String, _ t: Int64, _ total: Double) {
            f.send("water", "WaterConsumptionObserved", device, at: t, #"[{"n":"waterConsumption","u":"m3","s":\#(total)}]"#)
        }
        meter("alm-wm-000001", t0 + 100, 100)
        meter("alm-wm-000001", t0 + 800, 103)                              // +3 m3
        meter("alm-wm-000002", t0 + 150, 50)
        meter("alm-wm-000002", t0 + 850, 51)                               // +1 m3
        f.send("water", "WaterObserved", "alm-wn-000001", at: t0 + 50, #"[{"n":"inflow","u":"m3","s":1000}]"#)
        f.send("water", "WaterObserved", "alm-wn-000001", at: t0 + 860, #"[{"n":"inflow","u":"m3","s":1020}]"#)  // +20 m3
        f.send("water", "WaterObserved", "alm-wn-000002", at: t0 + 500, #"[{"n":"pressure","u":"Pa","v":300000}]"#)
        f.pm25(12, at: t0 + 1000)                                          // closes the first window

        let values = f.aggregator.pending.indicators.filter { $0.start == t0 * 1000 && $0.resolution == .base }
        func value(_ code: String) throws -> Double { try #require(values.first { $0.code == code }?.value, "\(code)") }
        func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-9 * max(1, abs(b)) }
        let perYear: Double = 365 * 86_400 / 900
        #expect(close(try value("U4SSC:EC:ICT:T:2C"), 100 * 2 * 1 / 4.0), "2 counters x 1 km / 4 km")
        #expect(close(try value("ISO37120:16.2"), 50.0 * 8 / 2 / 1000 / 1000 * perYear), "50 kg from 2 of 8 containers, over 1,000 people, per year")
        #expect(close(try value("ISO37122:16.4"), 100 * 2 / 8.0), "2 containers of an inventory of 8")
        #expect(close(try value("HEALTH:waste:faulty"), 100 * 1 / 2.0), "the burning bin with a flat battery")
        #expect(close(try value("ISO37120:23.7"), 100 * (20 - 4 * 4 / 2.0) / 20.0), "inflow 20 m3; 4 m3 metered by 2 of the 4 meters")
        #expect(close(try value("ISO37120:23.3"), 8 * 1000 / 1000.0 / (900 / 86_400.0)), "8 m3 (4 m3 from half the meters) over 1,000 people in 15 minutes, per day")
        #expect(close(try value("U4SSC:EC:ICT:WS:1C"), 100 * 2 / 4.0), "2 of 4 meters read remotely")
        #expect(close(try value("ISO37122:23.3"), 100 * 2 * 5 / 20.0), "2 network sensors x 5 km / 20 km")
        #expect(close(try value("HEALTH:water:reporting"), 100 * 4 / 10.0))
        #expect(close(try value("HEALTH:mobility:reporting"), 100 * 2 / 4.0))
        #expect(close(try value("HEALTH:mobility:faulty"), 0))
        #expect(values.first { $0.code == "ISO37120:8.1" } == nil, "no station reported in that window")
    }
}

/// The travel time index from counts in the weekday peaks against each counter's free flow.
@Suite struct TravelTimeIndexTests {
    /// 2026-01-12, a Monday, 00:00 UTC; the city keeps UTC.
    let monday: Int64 = 1_768_176_000

    @Test func peakCountsWeighTheirDelayAgainstTheCountersOffPeakFreeFlow() throws {
        var f = Feed(window: 900, lateness: 86_400, maxSkew: 86_400)
        func count(_ device: String, at t: Int64, vehicles: Double, speed: Double) {
            f.send("mobility", "TrafficFlowObserved", device, at: t,
                   #"[{"n":"intensity","u":"count","v":\#(vehicles)},{"n":"averageVehicleSpeed","u":"km/h","v":\#(speed)}]"#)
        }
        // Night (off-peak): counter 1 runs at 60 km/h, counter 2 at 40; 85th percentiles are
        // the bins 60-62.5 and 40-42.5.
        for i in 0..<30 {
            count("alm-tf-000001", at: monday + 3600 + Int64(i) * 120, vehicles: 5, speed: 60)
            count("alm-tf-000002", at: monday + 3600 + Int64(i) * 120 + 60, vehicles: 2, speed: 40)
        }
        // The morning peak, 08:00-08:15: 100 vehicles at 30 km/h and 50 at 41.25 km/h.
        count("alm-tf-000001", at: monday + 8 * 3600 + 60, vehicles: 100, speed: 30)
        count("alm-tf-000002", at: monday + 8 * 3600 + 120, vehicles: 50, speed: 41.25)
        f.aggregator.emitOpenWindows()
        let values = f.aggregator.pending.indicators.filter { $0.code == "U4SSC:EC:I:T:5A" }
        let peak = try #require(values.last { $0.start == (monday + 8 * 3600) * 1000 && $0.resolution == .base })
        let expected = (100 * 61.25 / 30 + 50 * 41.25 / 41.25) / 150
        #expect(abs(peak.value - expected) < 1e-9, "vehicle-weighted free-flow over actual speed")
        #expect(!values.contains { $0.resolution == .base && $0.start < (monday + 6 * 3600) * 1000 }, "no index outside the peaks")
        let day = try #require(values.last { $0.resolution == .day })
        #expect(abs(day.value - expected) < 1e-9, "the day's index covers its peaks only")
    }
}

/// The city's clock follows what a quorum of its devices reached, not its most advanced one.
@Suite struct WatermarkQuorumTests {
    let t0: Int64 = 1_768_176_000

    func station(_ f: inout Feed, _ device: Int, _ value: Double, at t: Int64) -> IngestOutcome {
        let id = "alm-aq-00000\(device)"
        let n = f.seq[id, default: 0]
        f.seq[id] = n + 1
        return f.aggregator.ingest("city/almaty/environment/north/\(id)/attrs",
            #"[{"bn":"urn:ngsi-ld:AirQualityObserved:\#(id):","bt":\#(t),"n":"pm25","u":"ug/m3","v":\#(value)},{"n":"seq","v":\#(n)},{"n":"sent","u":"s","v":\#(t)}]"#)
    }

    /// One station dated almost a week ahead (inside max-skew) closed the city's windows and
    /// made every later reading of the others too late; with a quorum of 3 it moves nothing.
    @Test func oneDeviceAheadClosesNothingAndDiscardsNothing() {
        var f = Feed(lateness: 900, quorum: 3, maxSkew: 7 * 86_400)
        for d in 1...3 { #expect(station(&f, d, 10, at: t0 + 60) == .accepted) }
        #expect(station(&f, 4, 99, at: t0 + 6 * 86_400 + 23 * 3600) == .accepted, "accepted: inside max-skew")
        #expect(f.aggregator.pending.windows.isEmpty, "no window closed by the one device ahead")
        for d in 1...3 { #expect(station(&f, d, 20, at: t0 + 1000) == .accepted, "station \(d) is not too late") }
        #expect(f.aggregator.counters.tooLate == 0)
        let closed = f.aggregator.pending.windows.filter { $0.attribute == "AirQualityObserved.pm25" && $0.resolution == .base }
        #expect(closed.count == 1 && closed.first?.partial.count == 3, "the first window closes once three stations passed it")
    }

    func station(_ f: inout Feed, _ device: Int, at t: Int64, arrival: Int64) -> IngestOutcome {
        let id = "alm-aq-00000\(device)"
        let n = f.seq[id, default: 0]
        f.seq[id] = n + 1
        return f.aggregator.ingest(topic: "city/almaty/environment/north/\(id)/attrs", payload: Array(
            #"[{"bn":"urn:ngsi-ld:AirQualityObserved:\#(id):","bt":\#(t),"n":"pm25","u":"ug/m3","v":10},{"n":"seq","v":\#(n)},{"n":"sent","u":"s","v":\#(t)}]"#.utf8),
            arrivalMs: arrival * 1000)
    }

    /// Event time is bounded against arrival: the city's clock plus the wall time since it got
    /// there. A station a day ahead is refused; after a quiet two hours the next reading is not.
    @Test func aReadingAheadOfTheCityClockAtArrivalIsRefused() {
        var f = Feed(lateness: 900, quorum: 3)
        let wall = t0 + 30
        for d in 1...3 { #expect(station(&f, d, at: t0, arrival: wall) == .accepted) }
        #expect(station(&f, 4, at: t0 + 86_400, arrival: wall + 1) == .rejected(.timeSkew))
        #expect(station(&f, 4, at: t0 + 3000, arrival: wall + 2) == .accepted, "50 min ahead: inside max-skew")
        // Two quiet hours of wall time: the city's clock is expected two hours on.
        #expect(station(&f, 1, at: t0 + 2 * 3600 + 2000, arrival: wall + 2 * 3600) == .accepted)
        #expect(station(&f, 2, at: t0 + 3 * 3600 + 1800, arrival: wall + 2 * 3600 + 5) == .rejected(.timeSkew))
        #expect(f.aggregator.knownDevices == 4)
        // Nothing of the refused readings moved the clock: the first window is still open.
        #expect(f.aggregator.store.newest(city: 0) == t0 * 1000)
    }

    @Test func withFewerDevicesThanTheQuorumWindowsWaitForShutdown() {
        var f = Feed(quorum: 3)
        #expect(station(&f, 1, 10, at: t0) == .accepted)
        #expect(station(&f, 2, 10, at: t0 + 5000) == .accepted)
        #expect(f.aggregator.pending.windows.isEmpty)
        f.aggregator.emitOpenWindows()
        #expect(f.aggregator.pending.windows.contains { $0.attribute == "AirQualityObserved.pm25" && !$0.closed })
    }

    @Test func aCheckpointKeepsTheLeadingDevices() throws {
        var f = Feed(quorum: 2)
        _ = station(&f, 1, 10, at: t0)
        _ = station(&f, 2, 10, at: t0 + 2000)
        let restored = try Aggregator(config: f.aggregator.config)
        try restored.restore(f.aggregator.snapshot())
        // Station 1 reaching t0 + 1000 makes the quorum time t0 + 1000 in both: the same windows close.
        f.aggregator = restored
        _ = station(&f, 1, 10, at: t0 + 1000)
        #expect(f.aggregator.pending.windows.contains { $0.attribute == "AirQualityObserved.pm25" && $0.resolution == .base && $0.closed })
    }
}

