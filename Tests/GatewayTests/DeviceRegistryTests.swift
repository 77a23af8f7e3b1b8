@testable import Gateway
import Telemetry
import Testing

/// The device registry alone: device keys in, dense numbers for devices, groups and cities out.
@Suite struct DeviceRegistryTests {
    func register(_ registry: inout DeviceRegistry, _ topic: String) -> Int? {
        var text = topic
        return text.withUTF8 { bytes -> Int? in
            guard let levels = TopicScheme.parse(bytes), let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return nil }
            let key = UnsafeBufferPointer(rebasing: bytes[0..<slash])
            let hash = ByteInterner.hash(key)
            if let known = registry.find(key, hash: hash) { return known }
            let cityName = String(decoding: UnsafeBufferPointer(rebasing: bytes[levels.city]), as: UTF8.self)
            let city = registry.city(named: cityName) ?? registry.addCity(cityName)
            return registry.register(key, hash: hash, levels: levels, city: city)
        }
    }

    @Test func devicesGroupsAndCitiesAreNumberedInOrderOfFirstSight() throws {
        var r = DeviceRegistry()
        let a = try #require(register(&r, "city/almaty/water/medeu/alm-wm-000001/attrs"))
        let b = try #require(register(&r, "city/almaty/water/medeu/alm-wm-000002/attrs"))
        let c = try #require(register(&r, "city/almaty/water/auezov/alm-wm-000003/attrs"))
        let d = try #require(register(&r, "city/bilbao/lighting/abando/bio-sl-000001/status"))
        #expect([a, b, c, d] == [0, 1, 2, 3])
        #expect(register(&r, "city/almaty/water/medeu/alm-wm-000001/status") == a, "attrs and status share the device")
        #expect(r.cities == ["almaty", "bilbao"] && r.groups.count == 3)
        #expect(r.domain(ofDevice: d) == .lighting && r.city(ofDevice: d) == 1)
        #expect(r.district(ofGroup: Int(r.devices[c].group)) == "auezov")
        #expect(r.devices(city: 0, domain: .water) == 3 && r.devices(city: 0, domain: .lighting) == 0)
        var topic = "city/almaty/water/medeu/alm-wm-000002"
        let id = topic.withUTF8 { Array($0[r.deviceRange(b)]) }
        #expect(String(decoding: id, as: UTF8.self) == "alm-wm-000002")
    }
}
