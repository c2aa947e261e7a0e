import Diagnosis
import WebSocketWire

/// What one side sent on one leg, kept small for alignment: per message its shape, per
/// control frame its payload (at most 125 bytes), and the close. Payload bytes of data
/// messages are never kept.
public struct SideTraffic: Sendable {
    public struct Message: Sendable, Hashable {
        public var info: MessageInfo
        public var at: Timestamp
        /// The masking key of the message's first frame; nil when it was not masked.
        public var maskKey: UInt32?
        public var masked: Bool { maskKey != nil }
        /// Size after inflation (the wire size when it could not be inflated).
        public var size: Int64 { info.size ?? info.wireSize }
    }

    public struct Control: Sendable, Hashable {
        public enum Kind: String, Sendable { case ping, pong }
        public var kind: Kind
        public var frameIndex: Int
        public var payload: [UInt8]
        public var at: Timestamp
        /// The frame's masking key; nil when it was not masked.
        public var maskKey: UInt32?
    }

    public var messages: [Message] = []
    public var controls: [Control] = []
    public var close: CloseFrameInfo?
    public var closeAt: Timestamp?
    /// The close frame's masking key; nil when it was not masked.
    public var closeMaskKey: UInt32?
    /// The latest frame time, for idle measurements.
    public var lastFrameAt: Timestamp?

    /// Splits a recorded timeline into what each side sent.
    public static func split(_ timeline: [TimelineEntry]) -> [Side: SideTraffic] {
        var traffic: [Side: SideTraffic] = [.client: SideTraffic(), .server: SideTraffic()]
        var openingMaskKey: [Side: UInt32] = [:]
        // A control frame's own event follows its frame's.
        var lastMaskKey: [Side: UInt32] = [:]
        for entry in timeline {
            switch entry.event {
            case .frame(let frame):
                traffic[frame.side]!.lastFrameAt = entry.at
                lastMaskKey[frame.side] = frame.maskKey
                if frame.opcode == .text || frame.opcode == .binary { openingMaskKey[frame.side] = frame.maskKey }
            case .message(let message):
                traffic[message.side]!.messages.append(Message(info: message, at: entry.at, maskKey: openingMaskKey[message.side]))
            case .ping(let ping):
                traffic[ping.side]!.controls.append(Control(kind: .ping, frameIndex: ping.frameIndex, payload: ping.payload, at: entry.at,
                                                          maskKey: lastMaskKey[ping.side]))
            case .pong(let pong):
                traffic[pong.side]!.controls.append(Control(kind: .pong, frameIndex: pong.frameIndex, payload: pong.payload, at: entry.at,
                                                          maskKey: lastMaskKey[pong.side]))
            case .close(let close):
                if traffic[close.side]!.close == nil {
                    traffic[close.side]!.close = close
                    traffic[close.side]!.closeAt = entry.at
                    traffic[close.side]!.closeMaskKey = lastMaskKey[close.side]
                }
            case .request, .response, .handshake, .resynchronised, .violation, .notice, .stopped, .tally:
                break
            }
        }
        return traffic
    }
}
