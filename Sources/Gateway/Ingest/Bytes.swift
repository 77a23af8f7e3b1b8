#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Byte comparisons of the per-message path: topics and payload fields are compared where they
// lie, without making strings.

@inline(__always)
func equals(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
    guard a.count == b.count else { return false }
    guard a.count > 0 else { return true }
    return memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
}

@inline(__always)
func equals(_ a: UnsafeBufferPointer<UInt8>, _ b: [UInt8]) -> Bool {
    b.withUnsafeBufferPointer { equals(a, $0) }
}

@inline(__always)
func equals(_ a: UnsafeBufferPointer<UInt8>, _ b: StaticString) -> Bool {
    equals(a, UnsafeBufferPointer(start: b.utf8Start, count: b.utf8CodeUnitCount))
}

func equals(_ a: UnsafeBufferPointer<UInt8>, _ b: String) -> Bool {
    var s = b
    return s.withUTF8 { equals(a, $0) }
}

/// Index of the last `/` after the first byte, or nil.
@inline(__always)
func lastSlash(_ topic: UnsafeBufferPointer<UInt8>) -> Int? {
    var i = topic.count - 1
    while i > 0 {
        if topic[i] == UInt8(ascii: "/") { return i }
        i -= 1
    }
    return nil
}
