import NIOConcurrencyHelpers

/// The faults in force, shared by every connection and the control API, with how many
/// connections each has claimed (for `count`).
public final class FaultBook: Sendable {
    public struct Entry: Sendable, Equatable {
        public var fault: Fault
        /// Connections it has been given to so far.
        public var claimed: Int
    }

    private let entries: NIOLockedValueBox<[Entry]>

    public init(_ faults: [Fault] = []) {
        entries = NIOLockedValueBox(faults.map { Entry(fault: $0, claimed: 0) })
    }

    public var all: [Entry] { entries.withLockedValue { $0 } }

    public func fault(id: String) -> Fault? {
        entries.withLockedValue { $0.first { $0.fault.id == id }?.fault }
    }

    /// Adds faults; all or none: a duplicate id or going past `FaultParser.maxFaults` adds nothing.
    public func add(_ faults: [Fault]) throws(FaultsError) {
        let problem: String? = entries.withLockedValue { entries in
            if entries.count + faults.count > FaultParser.maxFaults { return "at most \(FaultParser.maxFaults) faults at once" }
            var ids = Set(entries.map(\.fault.id))
            for fault in faults where !ids.insert(fault.id).inserted { return "a fault with id `\(fault.id)` exists already" }
            entries += faults.map { Entry(fault: $0, claimed: 0) }
            return nil
        }
        if let problem { throw FaultsError(file: "request", line: 1, message: problem) }
    }

    /// Removes a fault for connections to come; returns whether there was one with that id.
    @discardableResult
    public func remove(id: String) -> Bool {
        entries.withLockedValue { entries in
            guard let index = entries.firstIndex(where: { $0.fault.id == id }) else { return false }
            entries.remove(at: index)
            return true
        }
    }

    /// The faults that apply to a connection upgrading to `target`, each counted as claimed.
    public func claim(target: String) -> [Fault] {
        entries.withLockedValue { entries in
            var claimed: [Fault] = []
            for index in entries.indices where entries[index].fault.match.matches(target: target) {
                if let count = entries[index].fault.count, entries[index].claimed >= count { continue }
                entries[index].claimed += 1
                claimed.append(entries[index].fault)
            }
            return claimed
        }
    }
}
