import Diagnosis
import WebSocketWire

extension Timestamp {
    /// ISO 8601 in UTC with microseconds, e.g. `2026-11-25T01:52:33.123456Z`.
    ///
    /// Any 64-bit value formats: a capture's clock can say anything, and years before 1 or
    /// after 9999 get a sign or more digits, as ISO 8601's expanded years do.
    public var iso8601: String {
        // Floor division by remainder, never by subtracting first: that overflows near Int64.min.
        var seconds = nanoseconds / 1_000_000_000
        var nanosecondOfSecond = nanoseconds % 1_000_000_000
        if nanosecondOfSecond < 0 {
            seconds -= 1
            nanosecondOfSecond += 1_000_000_000
        }
        let micros = nanosecondOfSecond / 1000
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            days -= 1
            secondOfDay += 86_400
        }
        let (year, month, day) = Self.civilDate(daysSinceEpoch: days)
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay % 3600 / 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(micros, 6))Z"
    }

    /// Gregorian date from days since 1970-01-01 (Howard Hinnant's civil_from_days).
    static func civilDate(daysSinceEpoch: Int64) -> (Int64, Int64, Int64) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// `value` with zeros in front up to `width` digits; a minus sign goes before the zeros.
func pad(_ value: Int64, _ width: Int) -> String {
    let digits = String(value.magnitude)
    let zeros = String(repeating: "0", count: max(0, width - digits.count))
    return (value < 0 ? "-" : "") + zeros + digits
}

/// Seconds as a short human string: `850 ms`, `12.4 s`, `3 min 5 s`; `-2.0 s` when a
/// capture's clock stepped back.
public func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "\(seconds) s" }
    if seconds < 0 { return "-" + formatDuration(-seconds) }
    if seconds < 0.01 { return "\((seconds * 10_000).rounded() / 10) ms" }
    if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
    if seconds < 60 { return "\((seconds * 10).rounded() / 10) s" }
    // Past Int's range (about 2.9e11 years) print the seconds as they are rather than trap.
    guard seconds < 9e18 else { return "\(seconds.rounded()) s" }
    let whole = Int(seconds.rounded())
    if whole < 3600 { return "\(whole / 60) min \(whole % 60) s" }
    return "\(whole / 3600) h \(whole % 3600 / 60) min"
}

/// Seconds with a sign and microseconds: `+1.000250`, `-0.500000` (before the start).
public func formatSignedSeconds(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "\(seconds)" }
    let sign = seconds < 0 ? "-" : "+"
    let magnitude = (abs(seconds) * 1_000_000).rounded()
    guard magnitude < 9e18 else { return sign + "\(abs(seconds))" }
    let micros = Int64(magnitude)
    return sign + "\(micros / 1_000_000)." + pad(micros % 1_000_000, 6)
}

/// Bytes as a short human string: `512 B`, `1.5 KiB`, `3.2 MiB`.
public func formatBytes(_ bytes: Int64) -> String {
    if bytes < 1024 { return "\(bytes) B" }
    let units = ["KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes) / 1024
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return "\((value * 10).rounded() / 10) \(units[unit])"
}
