import Foundation
@testable import Simulator
import Testing
import TestSupport

/// The load profile's arithmetic: when each simulated second is due on the wall clock, and
/// which share of the devices publishes, for steps and ramps on either clock.
@Suite struct LoadProfileTests {
    func stage(_ at: Double, _ length: Double, speed: (Double, Double), active: (Double, Double) = (1, 1)) -> LoadProfile.Stage {
        LoadProfile.Stage(at: at, length: length, speed: speed, active: active)
    }

    @Test func stepsOnTheWallClock() {
        let p = LoadProfile(clock: .wall, stages: [stage(0, 10, speed: (60, 60)), stage(10, 10, speed: (120, 120))])
        #expect(p.wallOffset(simulated: 0) == 0)
        #expect(p.wallOffset(simulated: 600) == 10, "10 s at 60")
        #expect(p.wallOffset(simulated: 1200) == 15, "then 120 a second")
        #expect(p.wallOffset(simulated: 1800 + 1200) == 30, "the last speed holds after the last stage")
    }

    @Test func aRampOnTheWallClockIsAQuadratic() {
        let p = LoadProfile(clock: .wall, stages: [stage(0, 10, speed: (60, 120))])
        // 60 t + 3 t^2 simulated seconds by wall second t.
        #expect(abs(p.wallOffset(simulated: 375) - 5) < 1e-9)
        #expect(abs(p.wallOffset(simulated: 900) - 10) < 1e-9)
        #expect(abs(p.wallOffset(simulated: 900 + 1200) - 20) < 1e-9, "120 a second after the ramp")
    }

    @Test func stagesOnTheSimulatedClock() {
        let p = LoadProfile(clock: .simulated, stages: [stage(0, 600, speed: (60, 60)), stage(600, 600, speed: (120, 120))])
        #expect(p.wallOffset(simulated: 600) == 10)
        #expect(p.wallOffset(simulated: 1200) == 15)
        let ramp = LoadProfile(clock: .simulated, stages: [stage(0, 600, speed: (60, 120))])
        // d(wall) = du / (60 + u / 10): wall = 10 ln(1 + u / 600).
        #expect(abs(ramp.wallOffset(simulated: 600) - 10 * log(2.0)) < 1e-9)
    }

    @Test func theActiveShareRampsAndHoldsThroughGaps() {
        let p = LoadProfile(clock: .wall, stages: [stage(0, 10, speed: (60, 60), active: (0.5, 1)), stage(20, 10, speed: (60, 60), active: (0.2, 0.2))])
        #expect(p.activeShare(simulated: 0, wall: 5) == 0.75)
        #expect(p.activeShare(simulated: 0, wall: 15) == 1, "the gap holds the stage before")
        #expect(p.activeShare(simulated: 0, wall: 25) == 0.2)
        #expect(p.activeShare(simulated: 0, wall: 1e6) == 0.2)
    }

    @Test func aScenarioReadsItsProfileAndItsConnectionRate() throws {
        let yaml = testScenarioYAML().replacingOccurrences(of: "  qos: 1", with: "  qos: 1\n  connect-rate: 30000/m\n  handshakes: 64")
            + "\nload:\n  clock: simulated\n  stages:\n    - {for: 1h, speed: 60..600}\n    - {at: 2h, for: 1h, active: 0.5}\n"
        let s = try Scenario(yaml: yaml)
        #expect(s.mqtt.connectRate == 500 && s.mqtt.handshakes == 64)
        let load = try #require(s.load)
        #expect(load.clock == .simulated)
        #expect(load.stages == [stage(0, 3600, speed: (60, 600)), stage(7200, 3600, speed: (600, 600), active: (0.5, 0.5))])
    }
}
