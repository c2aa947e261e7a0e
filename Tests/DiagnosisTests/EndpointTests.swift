import Testing
import Diagnosis
import WebSocketWire

@Suite struct EndpointTests {
    @Test func ipv6EndpointsAreBracketed() {
        #expect(Endpoint(address: "::1", port: 8080).description == "[::1]:8080")
        #expect(Endpoint(address: "127.0.0.1", port: 80).description == "127.0.0.1:80")
    }

    @Test func timestampDifferencesAreInSeconds() {
        let start = Timestamp(seconds: 10, nanoseconds: 500_000_000)
        let end = Timestamp(seconds: 12, nanoseconds: 0)
        #expect(end.seconds(since: start) == 1.5)
    }
}
