import Testing
import WebSocketWire

@Suite struct CloseCodeTests {
    @Test func codesReservedForReportingAreNotAllowedOnTheWire() {
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            #expect(!CloseCode.isAllowedOnWire(code), "\(code)")
        }
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999] {
            #expect(CloseCode.isAllowedOnWire(code), "\(code)")
        }
    }

    @Test func namesComeFromTheRegistry() {
        #expect(CloseCode.name(of: 1013) == "Try Again Later")
        #expect(CloseCode.name(of: 4001) == "Private Use")
    }

    @Test func reservedOpcodesAreRecognised() {
        #expect(Opcode(rawValue: 0x3).isReserved)
        #expect(Opcode(rawValue: 0xB).isReserved && Opcode(rawValue: 0xB).isControl)
        #expect(!Opcode.text.isReserved && !Opcode.text.isControl)
    }
}
