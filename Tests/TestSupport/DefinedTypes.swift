/// `device-types:` and `indicators:` of a test scenario: parking bays (a Markov chain on a
/// daily profile, and a boolean computed from it), noise monitors (OU around a day/night
/// profile, and an expression of it) and EV chargers (a power profile and a meter that
/// integrates it), with an indicator over each.
public let definedTypesYAML = """
    device-types:
      - id: parking
        type: ParkingSpot
        domain: mobility
        code: pk
        interval: 5m
        attributes:
          - name: status
            kind: text
            values: [free, occupied]
            generator:
              markov:
                states: [free, occupied]
                rates:
                  free: {occupied: [0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.5, 1, 3, 5, 5, 5, 5, 5, 5, 5, 5, 4, 3, 2, 1, 0.5, 0.3, 0.2]}
                  occupied: {free: 0.75}
          - name: occupied
            kind: boolean
            generator: {expression: "status == 1"}
      - id: noise
        type: NoiseLevelObserved
        domain: environment
        code: nm
        interval: 10m
        attributes:
          - name: LAeq
            kind: number
            unit: dB
            range: [20, 140]
            decimals: 1
            generator:
              ou:
                mean: [52, 52, 52, 52, 52, 55, 60, 64, 66, 66, 66, 66, 66, 66, 66, 66, 66, 67, 67, 66, 64, 62, 59, 56]
                reversion: 3
                sd: 2
          - name: LAmax
            kind: number
            unit: dB
            range: [20, 150]
            decimals: 2
            generator: {expression: "LAeq + 10 + 0.1 * (LAeq - 50)"}
      - id: charger
        type: EVChargingStation
        domain: lighting
        code: ev
        interval: 15m
        attributes:
          - name: power
            kind: number
            unit: kW
            range: [0, 50]
            decimals: 3
            spread: 0.2
            generator: {profile: {daily: [2, 1, 1, 1, 1, 2, 5, 10, 14, 14, 12, 12, 12, 12, 12, 14, 18, 22, 22, 18, 12, 8, 5, 3]}}
          - name: energy
            kind: meter
            unit: kWh
            decimals: 3
            rollover: 100000
            generator: {meter: {rate: power, per: 1h}}
    indicators:
      - code: "SC:parking-occupancy"
        name: On-street parking occupancy
        unit: "%"
        domain: mobility
        direction: lower-is-better
        formula: "100 * share(ParkingSpot.occupied)"
      - code: "SC:charging-kwh-per-capita"
        name: Energy delivered by public chargers per 1000 inhabitants and day
        unit: "kWh"
        domain: lighting
        direction: higher-is-better
        formula: "increment(EVChargingStation.energy) / population * 1000 / window_days"
    """

public let definedFleetsYAML = """
              environment: {count: 4, interval: 10m, connection: device}
              parking: {count: 60, inventory: 200}
              noise: {count: 6, connection: device}
              charger: {count: 8}
    """

/// The test city with the three defined families (and one built-in fleet beside them).
public func definedTypesScenarioYAML(duration: String = "1d", faults: String = "") -> String {
    definedTypesYAML + "\n" + testScenarioYAML(duration: duration, fleets: definedFleetsYAML, faults: faults)
}
