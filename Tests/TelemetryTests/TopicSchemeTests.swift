import Telemetry
import XCTest

final class TopicSchemeTests: XCTestCase {
    func testRoundTrip() {
        let topic = TopicScheme.attributes(city: "almaty", domain: .waste, district: "medeu", device: "alm-wb-7")
        XCTAssertEqual(topic, "city/almaty/waste/medeu/alm-wb-7/attrs")
        XCTAssertEqual(TopicScheme.parse(topic),
                       .init(city: "almaty", domain: .waste, district: "medeu", device: "alm-wb-7", isStatus: false))
        XCTAssertEqual(TopicScheme.parse(TopicScheme.status(city: "a", domain: .water, district: "d", device: "x"))?.isStatus, true)
    }

    func testRejectsForeignTopics() {
        XCTAssertNil(TopicScheme.parse("city/almaty/unknown/d/x/attrs"))
        XCTAssertNil(TopicScheme.parse("/city/almaty/waste/d/x/attrs"))
        XCTAssertNil(TopicScheme.parse("city/almaty/waste/d/x"))
        XCTAssertNil(TopicScheme.parse("city/almaty/waste//x/attrs"))
    }
}
