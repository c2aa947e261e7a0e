import Diagnosis
import Reporting
import Testing
import WebSocketWire

@Suite struct FormattingTests {
    @Test func timestampsAreISO8601InUTCWithMicroseconds() {
        #expect(Timestamp(nanoseconds: 0).iso8601 == "1970-01-01T00:00:00.000000Z")
        // 2026-11-25T01:52:33.123456789Z
        #expect(Timestamp(seconds: 1_795_571_553, nanoseconds: 123_456_789).iso8601 == "2026-11-25T01:52:33.123456Z")
        #expect(Timestamp(seconds: 951_782_400, nanoseconds: 0).iso8601 == "2000-02-29T00:00:00.000000Z")
    }

    @Test func jsonStringsAreEscaped() {
        var json = JSONWriter()
        json.beginObject()
        json.string("reason", "quote \" backslash \\ newline \n bell \u{07} ünïcode")
        json.number("code", UInt16(1000))
        json.string("missing", nil)
        json.beginArray("list")
        json.bool(nil, true)
        json.number(nil, 1.5)
        json.endArray()
        json.endObject()
        #expect(json.output == #"{"reason":"quote \" backslash \\ newline \n bell \u0007 ünïcode","code":1000,"missing":null,"list":[true,1.5]}"#)
    }

    @Test func durationsAndSizesReadNaturally() {
        #expect(formatDuration(0.00025) == "0.3 ms")
        #expect(formatDuration(0.25) == "250 ms")
        #expect(formatDuration(12.44) == "12.4 s")
        #expect(formatDuration(185) == "3 min 5 s")
        #expect(formatBytes(512) == "512 B")
        #expect(formatBytes(1536) == "1.5 KiB")
        #expect(formatBytes(3 * 1024 * 1024) == "3.0 MiB")
    }
}

/// Times from a capture's clock can be anything: before the connection's start, before 1970,
/// or at either end of 64 bits. Each formats; none traps.
@Suite struct ClockFormattingTests {
    @Test func relativeTimesBeforeTheStartAreNegative() {
        #expect(formatSignedSeconds(1.00025) == "+1.000250")
        #expect(formatSignedSeconds(-4.998246) == "-4.998246")
        #expect(formatSignedSeconds(-0.000001) == "-0.000001")
        #expect(formatSignedSeconds(0) == "+0.000000")
        #expect(formatSignedSeconds(-9.3e9).hasPrefix("-9300000000."))
        #expect(formatDuration(-0.25) == "-250 ms")
        #expect(formatDuration(-185) == "-3 min 5 s")
        #expect(formatDuration(-0.00025) == "-0.3 ms")
    }

    @Test func everySixtyFourBitTimestampFormats() {
        #expect(Timestamp(nanoseconds: -1).iso8601 == "1969-12-31T23:59:59.999999Z")
        #expect(Timestamp(nanoseconds: .max).iso8601 == "2262-04-11T23:47:16.854775Z")
        #expect(Timestamp(nanoseconds: .min).iso8601 == "1677-09-21T00:12:43.145224Z")
    }
}
