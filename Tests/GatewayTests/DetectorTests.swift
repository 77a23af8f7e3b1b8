@testable import Gateway
import Testing
import TestSupport

/// The detectors on hand-made readings: what raises an alarm and what, by the same thresholds,
/// must not.
@Suite struct DetectorTests {
    static let start: Int64 = 1_768_417_200

    func counter(_ a: Aggregator, _ device: String, _ n: Int, count: Double, occupancy: Double, speed: Double) -> IngestOutcome {
        let t = Self.start + Int64(n) * 300
        let payload = #"[{"bn":"urn:ngsi-ld:TrafficFlowObserved:\#(device):","bt":\#(t),"n":"intensity","u":"count","v":\#(count)},"#
            + #"{"n":"occupancy","u":"/","v":\#(occupancy)},{"n":"averageVehicleSpeed","u":"km/h","v":\#(speed)},"#
            + #"{"n":"laneCount","u":"count","v":2},{"n":"seq","v":\#(n)},{"n":"sent","u":"s","v":\#(t)}]"#
        return a.ingest(topic: "city/almaty/mobility/north/\(device)/attrs", payload: Array(payload.utf8))
    }

    func station(_ a: Aggregator, _ device: String, _ n: Int, pressure: Double) -> IngestOutcome {
        let t = Self.start + Int64(n) * 600
        let payload = #"[{"bn":"urn:ngsi-ld:AirQualityObserved:\#(device):","bt":\#(t),"n":"atmosphericPressure","u":"hPa","v":\#(pressure)},"#
            + #"{"n":"seq","v":\#(n)},{"n":"sent","u":"s","v":\#(t)}]"#
        return a.ingest(topic: "city/almaty/environment/north/\(device)/attrs", payload: Array(payload.utf8))
    }

    /// A counter's spike moves one measurement alone; traffic that really changes (a rush, a
    /// queue) moves count, occupancy and speed together and raises nothing.
    @Test func aSpikeIsOneMeasurementTheOthersDoNotFollow() {
        let a = try! Aggregator(config: openGatewayConfig())
        for n in 0..<5 {
            for d in ["c1", "c2", "c3", "c4"] { #expect(counter(a, "alm-tf-\(d)", n, count: 100, occupancy: 0.1, speed: 60) == .accepted) }
        }
        #expect(a.drain().alarms.isEmpty)
        _ = counter(a, "alm-tf-c1", 5, count: 600, occupancy: 0.1, speed: 60)     // the count spikes
        _ = counter(a, "alm-tf-c2", 5, count: 100, occupancy: 0.1, speed: 360)    // the speed spikes
        _ = counter(a, "alm-tf-c3", 5, count: 300, occupancy: 0.3, speed: 60)     // a rush: all in proportion
        _ = counter(a, "alm-tf-c4", 5, count: 100, occupancy: 0.6, speed: 12)     // a queue: occupancy up, speed down
        let spikes = a.drain().alarms.filter { $0.kind == "spike" }
        #expect(spikes.map(\.device).sorted() == ["alm-tf-c1", "alm-tf-c2"], "\(spikes)")
        #expect(spikes.allSatisfy { $0.cleared == $0.raised }, "a spike is over when raised")
        #expect(spikes.map(\.value).sorted() == [360, 600])
    }

    /// A station whose air pressure leaves its district's others is drifting, once it has done
    /// so for the readings the settings ask; it clears when it is back.
    @Test func aStationAwayFromItsDistrictDrifts() {
        let a = try! Aggregator(config: openGatewayConfig())
        let stations = (1...5).map { "alm-aq-d\($0)" }
        for n in 0..<4 {
            for (i, s) in stations.enumerated() { #expect(station(a, s, n, pressure: 920 + Double(i) * 0.3) == .accepted) }
        }
        for n in 4..<7 {
            for (i, s) in stations.enumerated() { _ = station(a, s, n, pressure: i == 0 ? 920 * (1 + 0.005 * Double(n - 2)) : 920 + Double(i) * 0.3) }
        }
        // 1.0 %, 1.5 %, 2.0 % away: the first is within the share, the next two are not yet three readings.
        #expect(a.drain().alarms.isEmpty)
        for (i, s) in stations.enumerated() { _ = station(a, s, 7, pressure: i == 0 ? 945 : 920 + Double(i) * 0.3) }
        let raised = a.drain().alarms
        #expect(raised.map(\.kind) == ["drift"] && raised.first?.device == "alm-aq-d1" && raised.first?.cleared == nil, "\(raised)")
        for (i, s) in stations.enumerated() { _ = station(a, s, 8, pressure: 920 + Double(i) * 0.3) }
        let cleared = a.drain().alarms
        #expect(cleared.map(\.kind) == ["drift"] && cleared.first?.cleared != nil)
    }

    /// A district of 500 stations is sampled, not read whole for every reading: the drifting
    /// stations still raise, and the others, a third of which read a little high, do not.
    @Test func aLargeDistrictIsSampledAndStillFindsTheDrift() {
        let a = try! Aggregator(config: openGatewayConfig())
        let stations = (0..<500).map { "alm-aq-l\($0)" }
        for n in 0..<6 {
            for (i, s) in stations.enumerated() {
                let drifting = i % 100 == 7 && n >= 2
                _ = station(a, s, n, pressure: drifting ? 950 : 920 + Double(i % 3) * 2)
            }
        }
        let raised = a.drain().alarms
        #expect(Set(raised.map(\.device)) == Set(stride(from: 7, to: 500, by: 100).map { "alm-aq-l\($0)" }), "\(raised.map(\.device))")
        #expect(raised.allSatisfy { $0.kind == "drift" })
    }

    /// With fewer than three other stations in the district there is no majority to depart from.
    @Test func twoPeersAreNotADistrict() {
        let a = try! Aggregator(config: openGatewayConfig())
        for n in 0..<8 {
            _ = station(a, "alm-aq-e1", n, pressure: 980)
            _ = station(a, "alm-aq-e2", n, pressure: 920)
            _ = station(a, "alm-aq-e3", n, pressure: 920)
        }
        #expect(a.drain().alarms.isEmpty)
    }
}
