import Foundation

/// The bad-input corpus under `Tests/Corpus`: payloads by expected outcome, topics, HTTP
/// requests and scenario files, each replayed by a test.
public enum Corpus {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Corpus").path

    /// Files of a corpus directory (sorted), with their bytes.
    public static func files(_ directory: String, ext: String) -> [(name: String, bytes: [UInt8])] {
        let path = root + "/" + directory
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { $0.hasSuffix("." + ext) }.sorted().map { name in
            (String(name.dropLast(ext.count + 1)), [UInt8](FileManager.default.contents(atPath: path + "/" + name) ?? Data()))
        }
    }

    /// Subdirectories of a corpus directory (sorted).
    public static func directories(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root + "/" + directory)) ?? []).sorted()
    }

    /// Tab-separated lines of a corpus file, without comments.
    public static func lines(_ file: String) -> [[String]] {
        let text = (try? String(contentsOfFile: root + "/" + file, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
    }
}
