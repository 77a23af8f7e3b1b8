import Foundation
import Telemetry

/// SplitMix64's finaliser: a bijective 64-bit mix with full avalanche.
@inline(__always)
func mix64(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// FNV-1a 64 of a text: stable keys for cities, fleets and faults, and the scenario hash.
func nameKey(_ text: String) -> UInt64 { fnv1a(text.utf8) }

/// A counter-based random stream: value n is a pure function of (key, counter + n). Each device
/// keys its own stream by seed and device id and starts each report's draws at a counter given
/// by the report's absolute period, so no draw depends on any other device, on thread count,
/// shard or timing.
public struct RandomStream {
    public let key: UInt64
    public var counter: UInt64

    @inline(__always)
    public init(key: UInt64, counter: UInt64) {
        self.key = key
        self.counter = counter
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        counter &+= 1
        return mix64(key &+ counter &* 0x9E37_79B9_7F4A_7C15)
    }

    /// Uniform in (0, 1): never exactly 0, so logarithms are safe.
    @inline(__always)
    public mutating func unit() -> Double {
        (Double(next() >> 11) + 0.5) * 0x1.0p-53
    }

    @inline(__always)
    public mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * unit()
    }

    @inline(__always)
    public mutating func chance(_ p: Double) -> Bool { unit() < p }

    /// Standard normal (Box-Muller, one value per call so the draw count stays fixed).
    @inline(__always)
    public mutating func normal() -> Double {
        let u1 = unit()
        let u2 = unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Poisson counts; exact for small means, normal approximation above 30.
    public mutating func poisson(_ mean: Double) -> Double {
        guard mean > 0 else { return 0 }
        if mean > 30 {
            return max(0, (mean + mean.squareRoot() * normal()).rounded())
        }
        let limit = exp(-mean)
        var product = unit()
        var count = 0.0
        while product > limit {
            product *= unit()
            count += 1
        }
        return count
    }

    /// Negative-binomial counts with the given mean and shape: Poisson over a gamma-like
    /// (log-normal, same mean and variance) rate, so variance exceeds the mean as on real roads.
    public mutating func overdispersed(_ mean: Double, shape: Double) -> Double {
        guard mean > 0 else { return 0 }
        let variance = log(1 + 1 / shape)
        let factor = exp(variance.squareRoot() * normal() - variance / 2)
        return poisson(mean * factor)
    }
}

extension UInt64 {
    /// The top 53 bits as a uniform number in [0, 1).
    @inline(__always)
    var unitInterval: Double { Double(self >> 11) * 0x1.0p-53 }
}
