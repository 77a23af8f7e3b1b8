import CPlatform
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's limit on open files: simulated fleets hold thousands of connections, and the
/// gateway's HTTP server must leave room for its store and broker connection.
public enum OpenFiles {
    /// The soft limit, raised to the hard limit first.
    public static func limit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return Int(min(limit.rlim_cur, UInt(Int32.max)))
    }

    /// Raises the limit to at least `needed` where the process may: the soft limit up to the
    /// hard one, and the hard one too for a privileged process (up to the kernel's `nr_open`).
    /// Returns the limit now (below `needed` when it could not be raised that far).
    public static func limit(atLeast needed: Int) -> Int {
        let now = limit()
        guard now < needed else { return now }
        // The same raise as for another process (the private broker), applied to this one.
        _ = cprocess_open_files(0, Int64(needed))
        return limit()
    }

    /// The kernel's ceiling on one process's open files (`/proc/sys/fs/nr_open`).
    public static var kernelMaximum: Int {
        (try? String(contentsOfFile: "/proc/sys/fs/nr_open", encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 1_048_576
    }

    /// Ephemeral ports one local address has towards one broker (`ip_local_port_range`).
    public static var ephemeralPorts: Int {
        guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8) else { return 28_232 }
        let bounds = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }
        return bounds.count == 2 && bounds[1] > bounds[0] ? bounds[1] - bounds[0] + 1 : 28_232
    }
}
