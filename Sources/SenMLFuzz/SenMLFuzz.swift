import Foundation
import Telemetry

/// Fuzzing the SenML reader and the topic parser: `make fuzz` builds this with libFuzzer
/// (`-sanitize=fuzzer,address -D FUZZING`), whose driver calls the entry point below with
/// generated inputs; a plain build runs the same checks over the files or
/// directories given as arguments (a corpus, or inputs libFuzzer saved as crashes).
///
/// Checks, beyond not crashing: a pack the reader accepts is JSON that Foundation accepts too,
/// has at most `maxRecords` records, finite numbers and texts inside their buffers, and reads
/// the same twice; an error's offset is inside the input. A topic the byte parser accepts has
/// six non-empty levels inside the input, and the string parser agrees with it.
enum Fuzz {
    nonisolated(unsafe) static var reader = SenMLReader(maxRecords: 64)

    static func check(_ input: UnsafeBufferPointer<UInt8>) {
        checkPack(input)
        checkTopic(input)
    }

    static func checkPack(_ input: UnsafeBufferPointer<UInt8>) {
        do {
            try reader.read(input)
        } catch {
            guard (0...input.count).contains(error.offset) else { fail("error offset \(error.offset) outside \(input.count) bytes") }
            return
        }
        let count = reader.count
        guard count >= 1, count <= reader.maxRecords else { fail("\(count) records") }
        func inside(_ text: SenMLText) {
            guard text.isPresent else { return }
            let limit = text.unescaped ? reader.scratch.count : input.count
            guard text.start >= 0, Int(text.start) + Int(text.count) <= limit else { fail("text \(text) outside its \(limit) bytes") }
        }
        inside(reader.baseName)
        inside(reader.baseUnit)
        guard reader.baseTime.isFinite else { fail("base time \(reader.baseTime)") }
        var values: [SenMLRecord.Value] = []
        for i in 0..<count {
            let r = reader[i]
            inside(r.name)
            inside(r.unit)
            guard r.time.isFinite else { fail("record time \(r.time)") }
            switch r.value {
            case .number(let v), .sum(let v): guard v.isFinite else { fail("value \(v)") }
            case .string(let t), .data(let t): inside(t)
            case .bool: break
            }
            values.append(r.value)
        }
        // Accepted JSON is JSON.
        let data = Data(buffer: input)
        if (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) == nil {
            fail("the reader accepted a pack Foundation does not read as JSON")
        }
        // The same bytes read again give the same records.
        do { try reader.read(input) } catch { fail("a second read failed: \(error)") }
        guard reader.count == count, (0..<count).map({ reader[$0].value }) == values else { fail("a second read differs") }
    }

    static func checkTopic(_ input: UnsafeBufferPointer<UInt8>) {
        guard input.count <= 4096 else { return }
        let levels = TopicScheme.parse(input)
        if let l = levels {
            for range in [l.city, l.district, l.device] {
                guard !range.isEmpty, range.lowerBound >= 0, range.upperBound <= input.count else { fail("topic level \(range) of \(input.count) bytes") }
            }
        }
        // Only valid UTF-8 makes the same string; the string parser must agree on it.
        guard let text = String(validating: input, as: UTF8.self) else { return }
        let parsed = TopicScheme.parse(text)
        guard (parsed == nil) == (levels == nil) else { fail("the byte and string topic parsers disagree on '\(text)'") }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("SenMLFuzz: \(message)\n".utf8))
        abort()
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    Fuzz.check(UnsafeBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}

#if FUZZING
/// libFuzzer's driver, given the command line and the entry point above.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// The executable's entry point (the package names it after the module): libFuzzer's driver.
@_cdecl("SenMLFuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzOne)
}
#else
@main
struct SenMLFuzzRunner {
    static func main() {
        var files: [String] = []
        for argument in CommandLine.arguments.dropFirst() {
            guard FileManager.default.fileExists(atPath: argument) else { Fuzz.fail("\(argument): no such file or directory") }
            if isDirectory(argument) {
                let names = (try? FileManager.default.subpathsOfDirectory(atPath: argument)) ?? []
                files += names.sorted().map { argument + "/" + $0 }.filter { !isDirectory($0) }
            } else {
                files.append(argument)
            }
        }
        for file in files {
            let bytes = [UInt8](FileManager.default.contents(atPath: file) ?? Data())
            bytes.withUnsafeBufferPointer { Fuzz.check($0) }
        }
        print("SenMLFuzz: \(files.count) inputs checked")
    }

    static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }
}
#endif
