import Foundation
@testable import Telemetry
import Testing

/// Timestamps written and read by hand agree with Foundation's ISO 8601 formatter.
@Suite struct TimestampTests {
    @Test func theHandParserAgreesWithTheFormatter() {
        let formatter = ISO8601DateFormatter()
        var state: UInt64 = 0x5eed
        for _ in 0..<50_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            // 1900 to 2200.
            let seconds = Int64(state >> 33) % (300 * 365 * 86400) - 70 * 365 * 86400
            let text = Timestamps.format(seconds)
            #expect(Timestamps.utc(text) == seconds, "\(text)")
            #expect(formatter.date(from: text).map { Int64($0.timeIntervalSince1970) } == seconds, "\(text)")
        }
    }

    @Test func onlyRealTimesOfTheOneShapeTakeTheFastPath() {
        for text in ["2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00+05:00", "2026-01-01", "2026-01-01T00:00:0xZ"] {
            #expect(Timestamps.utc(text) == nil, "\(text)")
        }
        #expect(Timestamps.utc("2024-02-29T23:59:59Z") == 1_709_251_199)
        #expect(Timestamps.parse("2026-01-15T00:00:00+05:00") == Timestamps.parse("2026-01-14T19:00:00Z"))
    }
}
