import Diagnosis
import WebSocketWire

/// Compares the two legs of one connection: handshake, messages and control frames in both
/// directions, close frames and how each leg ended. Returns the differences in time order
/// and the latency the intermediary added to each message.
public struct PairAligner {
    public let nearClient: LegConnection
    public let nearServer: LegConnection
    public let clock: ClockOffset

    /// How far ahead alignment looks for a message that was dropped or injected. 16: an
    /// intermediary that loses more in a row is reported as altering them instead.
    public static let lookahead = 16

    public struct Result: Sendable {
        public var changes: [Change] = []
        /// Seconds the intermediary added, per message, each way.
        public var latencies: [FlowDirection: [Double]] = [:]
        /// When the intermediary ended the connection (common clock), if it did.
        public var endedByIntermediaryAt: Timestamp?
        public var idleBeforeIntermediaryEnd: Double?
        /// Pongs the intermediary sent itself: keepalives answered in between.
        public var injectedPongs = 0
    }

    public init(nearClient: LegConnection, nearServer: LegConnection, clock: ClockOffset) {
        self.nearClient = nearClient
        self.nearServer = nearServer
        self.clock = clock
    }

    public func align() -> Result {
        var result = Result()
        compareHandshake(into: &result)
        for direction in FlowDirection.allCases {
            compareMessages(direction, into: &result)
            compareControls(direction, into: &result)
            compareClose(direction, into: &result)
        }
        findIntermediaryEnds(into: &result)
        result.changes.sort { $0.at < $1.at }
        return result
    }

    private func leg(_ leg: Leg) -> LegConnection { leg == .nearClient ? nearClient : nearServer }

    private func common(_ time: Timestamp, _ on: Leg) -> Timestamp { clock.common(time, on: on) }

    // MARK: Handshake

    private static let requestHeaders = ["Host", "Origin", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol", "Sec-WebSocket-Version"]
    private static let responseHeaders = ["Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol", "Sec-WebSocket-Accept"]

    private func compareHandshake(into result: inout Result) {
        guard let client = nearClient.facts.handshake, let server = nearServer.facts.handshake else { return }
        let requestAt = client.requestedAt
        if client.path != server.path {
            result.changes.append(Change(kind: .headerRewritten, direction: .clientToServer, at: requestAt,
                                         detail: "request path \(client.path) became \(server.path)"))
        }
        for name in Self.requestHeaders {
            if let change = headerChange(name, client.requestHeaders[name], server.requestHeaders[name], .clientToServer, requestAt) {
                result.changes.append(change)
            }
        }
        guard let clientAnswer = client.responseHeaders, let serverAnswer = server.responseHeaders,
              let answeredAt = client.answeredAt else { return }
        if client.status != server.status {
            result.changes.append(Change(kind: .statusRewritten, direction: .serverToClient, at: answeredAt,
                                         detail: "the server answered \(server.status.map(String.init) ?? "nothing"); the client got \(client.status.map(String.init) ?? "nothing")"))
        }
        for name in Self.responseHeaders {
            if let change = headerChange(name, serverAnswer[name], clientAnswer[name], .serverToClient, answeredAt) {
                result.changes.append(change)
            }
        }
    }

    /// `sent` as the sender's leg had it, `received` as the other leg had it.
    private func headerChange(_ name: String, _ sent: String?, _ received: String?, _ direction: FlowDirection,
                              _ at: Timestamp) -> Change? {
        guard sent != received else { return nil }
        let kind: Change.Kind = switch name {
        case "Sec-WebSocket-Extensions": .extensionsRewritten
        case "Sec-WebSocket-Protocol": .subprotocolRewritten
        default: .headerRewritten
        }
        let detail = switch (sent, received) {
        case (let sent?, nil): "\(name) \"\(sent)\" was removed"
        case (nil, let received?): "\(name) \"\(received)\" was added"
        case (let sent?, let received?): "\(name) \"\(sent)\" became \"\(received)\""
        case (nil, nil): ""
        }
        return Change(kind: kind, direction: direction, at: at, detail: detail)
    }

    // MARK: Messages

    private func compareMessages(_ direction: FlowDirection, into result: inout Result) {
        let up = leg(direction.upstream).sent(by: direction.sender).messages
        let down = leg(direction.downstream).sent(by: direction.sender).messages
        let pairs = Self.align(up, down) {
            $0.info.opcode == $1.info.opcode && $0.size == $1.size && ($0.info.invalidUTF8Offset == nil) == ($1.info.invalidUTF8Offset == nil)
                && Self.agree($0.info.contentDigest, $1.info.contentDigest)
        }
        for step in pairs {
            switch step {
            case .both(let u, let d):
                compare(up[u], down[d], direction, into: &result)
            case .upstreamOnly(let u):
                var change = Change(kind: .messageDropped, direction: direction, at: common(up[u].at, direction.upstream),
                                    detail: "\(direction.sender)'s \(describe(up[u])) never reached the \(direction.sender.peer)")
                change.setFrame(up[u].info.firstFrameIndex, on: direction.upstream)
                result.changes.append(change)
            case .downstreamOnly(let d):
                var change = Change(kind: .messageInjected, direction: direction, at: common(down[d].at, direction.downstream),
                                    detail: "\(describe(down[d])) reached the \(direction.sender.peer) that the \(direction.sender) never sent")
                change.setFrame(down[d].info.firstFrameIndex, on: direction.downstream)
                result.changes.append(change)
            }
        }
    }

    private func describe(_ message: SideTraffic.Message) -> String {
        "message \(message.info.index) (\(message.info.opcode.name), \(message.size) bytes)"
    }

    private func compare(_ up: SideTraffic.Message, _ down: SideTraffic.Message, _ direction: FlowDirection, into result: inout Result) {
        let upAt = common(up.at, direction.upstream)
        let downAt = common(down.at, direction.downstream)
        result.latencies[direction, default: []].append(downAt.seconds(since: upAt))
        func change(_ kind: Change.Kind, _ detail: String) {
            var change = Change(kind: kind, direction: direction, at: downAt, detail: "message \(up.info.index): " + detail)
            change.setFrame(up.info.firstFrameIndex, on: direction.upstream)
            change.setFrame(down.info.firstFrameIndex, on: direction.downstream)
            result.changes.append(change)
        }
        let upLeg = direction.upstream.spoken
        let downLeg = direction.downstream.spoken
        if up.info.opcode != down.info.opcode || up.size != down.size {
            change(.payloadAltered, "\(up.info.opcode.name) of \(up.size) bytes became \(down.info.opcode.name) of \(down.size) bytes")
        } else if up.info.invalidUTF8Offset == nil, let bad = down.info.invalidUTF8Offset {
            change(.payloadAltered, "valid UTF-8 text became invalid at byte \(bad) in between")
        } else if let bad = up.info.invalidUTF8Offset, down.info.invalidUTF8Offset == nil {
            change(.payloadAltered, "text invalid at byte \(bad) was repaired to valid UTF-8 in between")
        } else if !Self.agree(up.info.contentDigest, down.info.contentDigest) {
            change(.payloadAltered, "\(up.size) bytes of \(up.info.opcode.name) kept their length but not their content")
        }
        if up.info.frameCount != down.info.frameCount {
            let how = up.info.frameCount > down.info.frameCount ? "coalesced" : "re-fragmented"
            change(.reframed, "\(how): \(up.info.frameCount) frame\(up.info.frameCount == 1 ? "" : "s") on the \(upLeg) leg, \(down.info.frameCount) on the \(downLeg) leg")
        }
        if let remasked = Self.remasking(up.maskKey, down.maskKey, direction) { change(.remasked, remasked) }
        if up.info.compressed != down.info.compressed {
            change(.recompressed, "compressed on the \(up.info.compressed ? upLeg : downLeg) leg only")
        } else if up.info.compressed && up.info.wireSize != down.info.wireSize {
            change(.recompressed, "re-compressed: \(up.info.wireSize) bytes on the \(upLeg) leg, \(down.info.wireSize) on the \(downLeg) leg")
        } else if up.info.compressed && !Self.agree(up.info.wireDigest, down.info.wireDigest)
                    && Self.agree(up.info.contentDigest, down.info.contentDigest) {
            // Same content, same size, other bytes: another compressor (or its settings) in between.
            change(.recompressed, "re-compressed: the same \(up.size) bytes compressed to other \(up.info.wireSize) bytes on the \(downLeg) leg")
        }
    }

    /// Digests known on both legs must be equal; one unknown (not inflated) is no evidence.
    static func agree(_ up: UInt64?, _ down: UInt64?) -> Bool {
        guard let up, let down else { return true }
        return up == down
    }

    /// What changed in a frame's masking between the legs, or nil.
    static func remasking(_ up: UInt32?, _ down: UInt32?, _ direction: FlowDirection) -> String? {
        switch (up, down) {
        case (nil, nil):
            return nil
        case (let up?, let down?):
            // A relay copying bytes keeps the client's key; one that ends the WebSocket masks anew.
            return up == down ? nil : "a new mask key on the \(direction.downstream.spoken) leg"
        case (.some, nil):
            return "masked on the \(direction.upstream.spoken) leg only"
        case (nil, .some):
            return "masked on the \(direction.downstream.spoken) leg only"
        }
    }

    // MARK: Control frames

    private func compareControls(_ direction: FlowDirection, into result: inout Result) {
        let up = leg(direction.upstream).sent(by: direction.sender).controls
        let down = leg(direction.downstream).sent(by: direction.sender).controls
        for step in Self.align(up, down, same: { $0.kind == $1.kind && $0.payload == $1.payload }) {
            switch step {
            case .both(let u, let d):
                guard let remasked = Self.remasking(up[u].maskKey, down[d].maskKey, direction) else { continue }
                var change = Change(kind: .remasked, direction: direction, at: common(down[d].at, direction.downstream),
                                    detail: "\(up[u].kind.rawValue) (\(up[u].payload.count) bytes): " + remasked)
                change.setFrame(up[u].frameIndex, on: direction.upstream)
                change.setFrame(down[d].frameIndex, on: direction.downstream)
                result.changes.append(change)
            case .upstreamOnly(let u):
                var change = Change(kind: .controlDropped, direction: direction, at: common(up[u].at, direction.upstream),
                                    detail: "the \(direction.sender)'s \(up[u].kind.rawValue) (\(up[u].payload.count) bytes) never reached the \(direction.sender.peer)")
                change.setFrame(up[u].frameIndex, on: direction.upstream)
                result.changes.append(change)
            case .downstreamOnly(let d):
                var change = Change(kind: .controlInjected, direction: direction, at: common(down[d].at, direction.downstream),
                                    detail: "a \(down[d].kind.rawValue) (\(down[d].payload.count) bytes) reached the \(direction.sender.peer) that the \(direction.sender) never sent: the intermediary sent it")
                change.setFrame(down[d].frameIndex, on: direction.downstream)
                result.changes.append(change)
                if down[d].kind == .pong { result.injectedPongs += 1 }
            }
        }
    }

    // MARK: Close

    private func compareClose(_ direction: FlowDirection, into result: inout Result) {
        let upTraffic = leg(direction.upstream).sent(by: direction.sender)
        let downTraffic = leg(direction.downstream).sent(by: direction.sender)
        switch (upTraffic.close, downTraffic.close) {
        case (let up?, let down?):
            if let remasked = Self.remasking(upTraffic.closeMaskKey, downTraffic.closeMaskKey, direction) {
                var change = Change(kind: .remasked, direction: direction, at: common(downTraffic.closeAt!, direction.downstream),
                                    detail: "close frame: " + remasked)
                change.setFrame(up.frameIndex, on: direction.upstream)
                change.setFrame(down.frameIndex, on: direction.downstream)
                result.changes.append(change)
            }
            guard up.code != down.code || up.reason != down.reason else { return }
            var change = Change(kind: .closeRewritten, direction: direction, at: common(downTraffic.closeAt!, direction.downstream),
                                detail: "the \(direction.sender) closed with \(describe(up)); the \(direction.sender.peer) got \(describe(down))")
            change.setFrame(up.frameIndex, on: direction.upstream)
            change.setFrame(down.frameIndex, on: direction.downstream)
            result.changes.append(change)
        case (let up?, nil):
            var change = Change(kind: .closeDropped, direction: direction, at: common(upTraffic.closeAt!, direction.upstream),
                                detail: "the \(direction.sender)'s close \(describe(up)) never reached the \(direction.sender.peer)")
            change.setFrame(up.frameIndex, on: direction.upstream)
            result.changes.append(change)
        case (nil, let down?):
            var change = Change(kind: .closeInjected, direction: direction, at: common(downTraffic.closeAt!, direction.downstream),
                                detail: "the \(direction.sender.peer) got a close \(describe(down)) that the \(direction.sender) never sent: the intermediary made it up")
            change.setFrame(down.frameIndex, on: direction.downstream)
            result.changes.append(change)
        case (nil, nil):
            break
        }
    }

    private func describe(_ close: CloseFrameInfo) -> String {
        guard let code = close.code else { return "without a code (1005)" }
        return "\(code) (\(CloseCode.name(of: code)))" + (close.reason.isEmpty ? "" : " \"\(close.reason)\"")
    }

    // MARK: Endings

    /// A leg's first end (close frame, FIN or RST, whichever came first) sent by the
    /// intermediary's side — the server's near the client, the client's near the server — is
    /// the intermediary's own doing unless the endpoint it stands for had ended its own leg
    /// first, earlier on the aligned clocks: then it was relayed. (An endpoint's end a moment
    /// after the intermediary's is its answer, not the cause: HAProxy's tunnel timeout FINs
    /// the client and leaves the server's leg open until the server speaks.)
    private func findIntermediaryEnds(into result: inout Result) {
        for direction in FlowDirection.allCases {
            let role = direction.sender
            let intermediaryLeg = direction.downstream
            guard let first = leg(intermediaryLeg).firstEnd(), first.side == role else { continue }
            let at = common(first.at, intermediaryLeg)
            if let endpointFirst = leg(direction.upstream).firstEnd(), endpointFirst.side == role,
               common(endpointFirst.at, direction.upstream) <= at.adding(seconds: clock.uncertainty) { continue }
            let idle = leg(intermediaryLeg).lastActivity(before: first.at).map { first.at.seconds(since: $0) }
            let idleText = idle.map { " after \(Self.seconds($0)) s without traffic" } ?? ""
            var change = Change(kind: .closedByIntermediary, direction: direction, at: at,
                                detail: "the \(role.peer) got a \(first.how) on the \(intermediaryLeg.spoken) leg\(idleText); the \(role) had not ended the connection")
            if first.how.hasPrefix("close") { change.setFrame(leg(intermediaryLeg).sent(by: role).close?.frameIndex, on: intermediaryLeg) }
            result.changes.append(change)
            if result.endedByIntermediaryAt.map({ at < $0 }) ?? true {
                result.endedByIntermediaryAt = at
                result.idleBeforeIntermediaryEnd = idle
            }
        }
    }

    static func seconds(_ value: Double) -> String {
        String((value * 1000).rounded() / 1000)
    }

    // MARK: Sequence alignment

    enum Step: Hashable {
        case both(Int, Int)
        case upstreamOnly(Int)
        case downstreamOnly(Int)
    }

    /// Walks both sequences in order. An element without its like at the same place is
    /// looked for up to `lookahead` places ahead on either side; found ahead, what it skips
    /// was dropped (upstream) or injected (downstream); not found, the two are paired as altered.
    static func align<T>(_ up: [T], _ down: [T], same: (T, T) -> Bool) -> [Step] {
        var steps: [Step] = []
        var i = 0
        var j = 0
        while i < up.count && j < down.count {
            if same(up[i], down[j]) {
                steps.append(.both(i, j))
                i += 1
                j += 1
                continue
            }
            let dropped = (1...lookahead).first { i + $0 < up.count && same(up[i + $0], down[j]) }
            let injected = (1...lookahead).first { j + $0 < down.count && same(up[i], down[j + $0]) }
            switch (dropped, injected) {
            case (let skip?, let other) where other == nil || skip <= other!:
                for k in i..<(i + skip) { steps.append(.upstreamOnly(k)) }
                i += skip
            case (_, let skip?):
                for k in j..<(j + skip) { steps.append(.downstreamOnly(k)) }
                j += skip
            default:
                steps.append(.both(i, j))
                i += 1
                j += 1
            }
        }
        steps += (i..<up.count).map { .upstreamOnly($0) }
        steps += (j..<down.count).map { .downstreamOnly($0) }
        return steps
    }
}
