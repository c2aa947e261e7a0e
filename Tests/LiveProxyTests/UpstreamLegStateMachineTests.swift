@testable import LiveProxy
import Testing

@Suite struct UpstreamLegStateMachineTests {
    @Test("a client gone before the upstream is ready: the upstream leg is closed, never paired or answered")
    func clientGoneFirst() {
        var leg = UpstreamLegStateMachine()
        #expect(leg.clientClosed() == .closeUpstream)
        #expect(leg.clientClosed() == .none)
        #expect(leg.upstreamReady() == .closeUpstream)
        var failing = UpstreamLegStateMachine()
        _ = failing.clientClosed()
        #expect(failing.upstreamFailed() == .none)
    }

    @Test("an upstream ready first is paired once; the client's later close is the relay's to handle")
    func upstreamFirst() {
        var leg = UpstreamLegStateMachine()
        #expect(leg.upstreamReady() == .pair)
        #expect(leg.clientClosed() == .none)
        #expect(leg.upstreamReady() == .closeUpstream)
    }

    @Test("an upstream that fails while the client waits: the client is answered once")
    func upstreamFails() {
        var leg = UpstreamLegStateMachine()
        #expect(leg.upstreamFailed() == .refuseClient)
        #expect(leg.upstreamFailed() == .none)
        #expect(leg.clientClosed() == .none)
    }
}
