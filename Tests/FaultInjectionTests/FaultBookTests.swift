import Testing
@testable import FaultInjection

@Suite struct FaultBookTests {
    @Test func countLimitsTheConnectionsAFaultIsGivenTo() throws {
        let book = FaultBook([Fault(id: "once", action: .reset, match: FaultMatch(path: .exact("/a")), count: 1),
                              Fault(id: "always", action: .reset)])
        #expect(book.claim(target: "/b").map(\.id) == ["always"])
        #expect(book.claim(target: "/a?q=1").map(\.id) == ["once", "always"])
        #expect(book.claim(target: "/a").map(\.id) == ["always"])
        #expect(throws: FaultsError.self) { try book.add([Fault(id: "once", action: .reset)]) }
        #expect(book.remove(id: "always"))
        #expect(!book.remove(id: "always"))
        #expect(book.claim(target: "/a").isEmpty)
    }
}
