import Telemetry
import Foundation
import Testing

@Suite final class TopicSchemeTests {
    @Test func roundTrip() {
        let topic = TopicScheme.attributes(city: "almaty", domain: .waste, district: "medeu", device: "alm-wb-7")
        #expect(topic == "city/almaty/waste/medeu/alm-wb-7/attrs")
        #expect(TopicScheme.parse(topic) == .init(city: "almaty", domain: .waste, district: "medeu", device: "alm-wb-7", isStatus: false))
        #expect((TopicScheme.parse(TopicScheme.status(city: "a", domain: .water, district: "d", device: "x"))?.isStatus) == true)
    }

    @Test func rejectsForeignTopics() {
        #expect(TopicScheme.parse("city/almaty/unknown/d/x/attrs") == nil)
        #expect(TopicScheme.parse("/city/almaty/waste/d/x/attrs") == nil)
        #expect(TopicScheme.parse("city/almaty/waste/d/x") == nil)
        #expect(TopicScheme.parse("city/almaty/waste//x/attrs") == nil)
    }
}

@Suite final class TopicBuilderTests {
    @Test func filtersAndIndicatorTopicsFollowTheLayout() {
        #expect(TopicScheme.filter() == "city/+/+/+/+/+")
        #expect(TopicScheme.filter(city: "almaty", kind: .attributes) == "city/almaty/+/+/+/attrs")
        #expect(TopicScheme.filter(domain: .water, kind: .status) == "city/+/water/+/+/status")
        #expect(TopicScheme.indicator(city: "almaty", slug: "pm25") == "city/almaty/indicators/pm25")
        #expect(TopicScheme.indicator(city: "almaty", slug: "pm25", resolution: "hour") == "city/almaty/indicators/pm25/hour")
    }

    @Test func bytesAndStringsParseAlike() {
        let topic = TopicScheme.attributes(city: "almaty", domain: .waste, district: "medeu", device: "alm-wc-000001")
        var bytes = topic
        let levels = bytes.withUTF8 { TopicScheme.parse($0) }
        #expect(levels?.domain == .waste)
        #expect(levels?.kind == .attributes)
        #expect((levels.map { Array(Array(topic.utf8)[$0.device]) }) == Array("alm-wc-000001".utf8))
        #expect((levels.map { Array(Array(topic.utf8)[$0.district]) }) == Array("medeu".utf8))
        for bad in ["city/almaty/waste/medeu/x/attrs/extra", "city//waste/medeu/x/attrs", "town/almaty/waste/medeu/x/attrs", ""] {
            var b = bad
            #expect((b.withUTF8 { TopicScheme.parse($0) }) == nil, "\(bad)")
        }
    }
}
