import Foundation

/// The process's own figures in the names every Prometheus client library uses
/// (`process_cpu_seconds_total`, `process_resident_memory_bytes`, ...), read from `/proc` when
/// scraped: nothing is sampled between scrapes.
enum ProcessFigures {
  struct Reading: Equatable {
    var cpuSeconds: Double
    var residentBytes: Int
    var virtualBytes: Int
    var openFileDescriptors: Int
    var maxFileDescriptors: Int?
    var startTimeSeconds: Double
  }

  /// nil where `/proc` is not Linux's (the figures are then left out, not made up).
  static func read() -> Reading? {
    guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
      let bootTime = bootTime()
    else { return nil }
    return parse(
      stat: stat,
      openFileDescriptors: (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?
        .count ?? 0,
      maxFileDescriptors: maxFileDescriptors(),
      bootTime: bootTime,
      ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))),
      pageSize: Int(sysconf(Int32(_SC_PAGESIZE)))
    )
  }

  /// `/proc/self/stat` (proc(5)): the command in parentheses may hold spaces and parentheses,
  /// so the fields are counted from the last ")". Fields 14-15 are user and system time in
  /// clock ticks, 22 the start in ticks after boot, 23 the virtual size in bytes, 24 the
  /// resident pages.
  static func parse(
    stat: String,
    openFileDescriptors: Int,
    maxFileDescriptors: Int?,
    bootTime: Double,
    ticksPerSecond: Double,
    pageSize: Int
  ) -> Reading? {
    guard let commandEnd = stat.lastIndex(of: ")") else { return nil }
    // After ")": field 3 (state) onwards.
    let fields = stat[stat.index(after: commandEnd)...].split(separator: " ")
    func field(_ number: Int) -> Double? { Double(fields.dropFirst(number - 3).first ?? "") }
    guard ticksPerSecond > 0, let user = field(14), let system = field(15),
      let start = field(22), let virtual = field(23), let resident = field(24)
    else { return nil }
    return Reading(
      cpuSeconds: (user + system) / ticksPerSecond,
      residentBytes: Int(resident) * pageSize,
      virtualBytes: Int(virtual),
      openFileDescriptors: openFileDescriptors,
      maxFileDescriptors: maxFileDescriptors,
      startTimeSeconds: bootTime + start / ticksPerSecond
    )
  }

  /// The exposition of a reading, HELP and TYPE included.
  static func exposition(_ reading: Reading) -> String {
    var lines: [String] = []
    func add(_ name: String, _ type: String, _ help: String, _ value: String) {
      lines += ["# HELP \(name) \(help)", "# TYPE \(name) \(type)", "\(name) \(value)"]
    }
    add(
      "process_cpu_seconds_total",
      "counter",
      "User and system CPU time spent, in seconds.",
      "\(reading.cpuSeconds)"
    )
    add(
      "process_resident_memory_bytes",
      "gauge",
      "Resident memory size in bytes.",
      "\(reading.residentBytes)"
    )
    add(
      "process_virtual_memory_bytes",
      "gauge",
      "Virtual memory size in bytes.",
      "\(reading.virtualBytes)"
    )
    add(
      "process_open_fds",
      "gauge",
      "Number of open file descriptors.",
      "\(reading.openFileDescriptors)"
    )
    if let max = reading.maxFileDescriptors {
      add("process_max_fds", "gauge", "Maximum number of open file descriptors.", "\(max)")
    }
    add(
      "process_start_time_seconds",
      "gauge",
      "Start time of the process since the Unix epoch, in seconds.",
      "\(reading.startTimeSeconds)"
    )
    return lines.joined(separator: "\n") + "\n"
  }

  /// `btime` of `/proc/stat`: when the machine booted, in seconds since the epoch.
  private static func bootTime() -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
    for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
      return Double(line.dropFirst("btime ".count))
    }
    return nil
  }

  private static func maxFileDescriptors() -> Int? {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
    // RLIM_INFINITY is all ones; Glibc imports it as a signed -1, which rlim_t cannot hold.
    return limit.rlim_cur == rlim_t.max ? nil : Int(limit.rlim_cur)
  }
}
