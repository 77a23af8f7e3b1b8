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

final class TopicBuilderTests: XCTestCase {
    func testFiltersAndIndicatorTopicsFollowTheLayout() {
        XCTAssertEqual(TopicScheme.filter(), "city/+/+/+/+/+")
        XCTAssertEqual(TopicScheme.filter(city: "almaty", kind: .attributes), "city/almaty/+/+/+/attrs")
        XCTAssertEqual(TopicScheme.filter(domain: .water, kind: .status), "city/+/water/+/+/status")
        XCTAssertEqual(TopicScheme.indicator(city: "almaty", slug: "pm25"), "city/almaty/indicators/pm25")
        XCTAssertEqual(TopicScheme.indicator(city: "almaty", slug: "pm25", resolution: "hour"), "city/almaty/indicators/pm25/hour")
    }

    func testBytesAndStringsParseAlike() {
        let topic = TopicScheme.attributes(city: "almaty", domain: .waste, district: "medeu", device: "alm-wc-000001")
        var bytes = topic
        let levels = bytes.withUTF8 { TopicScheme.parse($0) }
        XCTAssertEqual(levels?.domain, .waste)
        XCTAssertEqual(levels?.kind, .attributes)
        XCTAssertEqual(levels.map { Array(Array(topic.utf8)[$0.device]) }, Array("alm-wc-000001".utf8))
        XCTAssertEqual(levels.map { Array(Array(topic.utf8)[$0.district]) }, Array("medeu".utf8))
        for bad in ["city/almaty/waste/medeu/x/attrs/extra", "city//waste/medeu/x/attrs", "town/almaty/waste/medeu/x/attrs", ""] {
            var b = bad
            XCTAssertNil(b.withUTF8 { TopicScheme.parse($0) }, bad)
        }
    }
}
