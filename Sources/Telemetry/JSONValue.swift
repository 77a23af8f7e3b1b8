/// A JSON document as a tree, read with the same byte-level parser as SenML (exact numbers,
/// UTF-8 checked, nesting at most 32 deep): what the gateway reads flat JSON and NGSI-LD
/// payloads with.
public indirect enum JSONValue: Sendable, Equatable {
    case bool(Bool), number(Double), string(String), object([String: JSONValue]), array([JSONValue]), null

    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(SenMLParseError) -> JSONValue {
        var parser = SenMLParser(bytes: bytes)
        var scratch: [UInt8] = []
        let value = try parser.value(depth: 0, &scratch)
        parser.skipSpace()
        guard parser.at == bytes.count else { throw parser.fail(.malformedJSON, "text after the JSON value") }
        return value
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}

extension SenMLParser {
    private func text(_ t: SenMLText, _ scratch: [UInt8]) -> String {
        let range = Int(t.start)..<Int(t.start + t.count)
        return t.unescaped ? String(decoding: scratch[range], as: UTF8.self) : String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    mutating func value(depth: Int, _ scratch: inout [UInt8]) throws(SenMLParseError) -> JSONValue {
        guard depth < 32 else { throw fail(.malformedJSON, "nesting deeper than 32") }
        skipSpace()
        switch peek {
        case UInt8(ascii: "\""):
            scratch.removeAll(keepingCapacity: true)
            return .string(text(try string(&scratch), scratch))
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let object = peek == UInt8(ascii: "{")
            let close = object ? UInt8(ascii: "}") : UInt8(ascii: "]")
            at += 1
            var members: [String: JSONValue] = [:]
            var items: [JSONValue] = []
            skipSpace()
            if peek == close {
                at += 1
                return object ? .object(members) : .array(items)
            }
            while true {
                skipSpace()
                if object {
                    scratch.removeAll(keepingCapacity: true)
                    let key = text(try string(&scratch), scratch)
                    skipSpace()
                    guard peek == UInt8(ascii: ":") else { throw fail(.malformedJSON, "expected ':'") }
                    at += 1
                    members[key] = try value(depth: depth + 1, &scratch)
                } else {
                    items.append(try value(depth: depth + 1, &scratch))
                }
                skipSpace()
                guard at < bytes.count else { throw fail(.malformedJSON, "a value ends without '\(Character(Unicode.Scalar(close)))'") }
                let c = bytes[at]
                at += 1
                if c == UInt8(ascii: ",") { continue }
                if c == close { return object ? .object(members) : .array(items) }
                throw fail(.malformedJSON, "expected ',' or '\(Character(Unicode.Scalar(close)))'")
            }
        case UInt8(ascii: "t"):
            guard matchLiteral("true") else { throw fail(.malformedJSON, "bad literal") }
            return .bool(true)
        case UInt8(ascii: "f"):
            guard matchLiteral("false") else { throw fail(.malformedJSON, "bad literal") }
            return .bool(false)
        case UInt8(ascii: "n"):
            guard matchLiteral("null") else { throw fail(.malformedJSON, "bad literal") }
            return .null
        default:
            return .number(try number())
        }
    }
}
