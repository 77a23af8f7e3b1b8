import Telemetry

extension FleetRunner {
    /// A concentrator's device id (`alm-sl-gw-north-0`), which names its status topic.
    static func concentratorName(city: City, code: String, district: String, group: Int) -> String {
        "\(city.code)-\(code)-gw-\(district)-\(group)"
    }

    /// The concentrator of a device: its district and group number within the district.
    func concentrator(of index: Int) -> (district: Int, group: Int) {
        let district = district(of: index)
        let per = connection.perConnection
        return (district, per == 0 ? 0 : (index - districtStarts[district]) / per)
    }

    /// The status topic of a concentrator: the scenario's template with its name as the device.
    func statusTopic(concentrator name: String, district: Int) -> String {
        let (prefix, suffix) = topicParts[district].status
        return String(decoding: prefix + Array(name.utf8) + suffix, as: UTF8.self)
    }
}
