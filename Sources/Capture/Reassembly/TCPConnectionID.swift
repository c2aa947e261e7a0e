/// Identifies one TCP connection in a capture; numbered from 1 in order of opening.
///
/// A 4-tuple reused by a later connection gets a new ID.
public struct TCPConnectionID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: Int

    @inlinable
    public init(rawValue: Int) { self.rawValue = rawValue }

    @inlinable
    public static func < (lhs: TCPConnectionID, rhs: TCPConnectionID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "tcp#\(rawValue)" }
}
