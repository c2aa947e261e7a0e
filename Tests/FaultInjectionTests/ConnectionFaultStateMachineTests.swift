import Testing
@testable import FaultInjection

@Suite struct ConnectionFaultStateMachineTests {
    let close = Fault(id: "c", action: .close(code: 1013, reason: "", toward: .client), trigger: .afterMessages(2))
    let timed = Fault(id: "t", action: .reset, trigger: .afterSeconds(3))
    let atUpgrade = Fault(id: "u", action: .dropPongs(toward: .client))

    @Test func triggersFireInTheirTurn() {
        var machine = ConnectionFaultStateMachine()
        #expect(machine.requestHead(faults: [close, timed, atUpgrade]).isEmpty)
        #expect(machine.messageSeen().isEmpty)
        #expect(machine.response(status: 101) == [.armTimer(timed, seconds: 3), .fire(atUpgrade)])
        #expect(machine.messageSeen().isEmpty)
        #expect(machine.messageSeen() == [.fire(close)])
        #expect(machine.messageSeen().isEmpty)
        #expect(machine.timerFired(timed) == [.fire(timed)])
        machine.ended()
        #expect(machine.timerFired(timed).isEmpty)
    }

    @Test func aRefusalFiresOnTheRequestAndNothingAfter() {
        let refuse = Fault(id: "r", action: .refuse(status: 429, retryAfter: 1))
        var machine = ConnectionFaultStateMachine()
        #expect(machine.requestHead(faults: [atUpgrade, refuse]) == [.fire(refuse)])
        #expect(machine.response(status: 101).isEmpty)
    }

    @Test func noFaultFiresWithoutA101() {
        var machine = ConnectionFaultStateMachine()
        _ = machine.requestHead(faults: [atUpgrade])
        #expect(machine.response(status: 403).isEmpty)
        #expect(!machine.isUpgraded)
    }
}
