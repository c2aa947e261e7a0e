import Diagnosis
import WebSocketWire

/// One connection attempt as reconnect tracking sees it: who, when, whether it upgraded,
/// and how it ended.
public struct ConnectionAttempt: Sendable {
    public var connectionID: Int
    public var client: String
    public var path: String
    /// When the upgrade request was sent (the connection's start when none was seen).
    public var startedAt: Timestamp
    public var upgraded: Bool
    /// The answer's HTTP status (nil: not answered).
    public var status: Int?
    /// Seconds a refusal's Retry-After asked the client to wait (nil: none, or an HTTP date).
    public var retryAfter: Double?
    /// The token's claims, compared across attempts; the token itself is never kept.
    public var token: JSONWebTokenClaims?
    /// When the connection was over, as the client's backoff timer starts: when TCP started
    /// to end (the first FIN or RST; the server's, after its close), else its close frame;
    /// nil while open.
    public var endedAt: Timestamp?
    /// The close code the server (or wsdoctor's proxy) sent, when it closed first.
    public var serverCloseCode: UInt16?
    /// The end was the client's own choice: it sent the first close frame.
    public var closedByClient = false
    /// wsdoctor proxy closed it because wsdoctor itself stopped: nothing to come back from.
    public var closedByStop = false

    /// What `facts` tell of the attempt, grouped by `key`; nil for a connection that never
    /// tried to upgrade. `ended`: the connection is over (else its upgrade was just answered).
    public init?(_ facts: ConnectionFacts, key: ClientKey, ended: Bool) {
        guard let handshake = facts.handshake else { return nil }
        connectionID = facts.id
        client = key.client(of: facts)
        path = handshake.path
        startedAt = handshake.requestedAt
        upgraded = handshake.upgraded
        status = handshake.status
        token = JSONWebTokenClaims.find(in: handshake)
        if !upgraded { retryAfter = handshake.retryAfter.flatMap(Self.seconds) }
        if ended {
            // An upgraded connection with neither close frame nor TCP end was still open when
            // the capture (or wsdoctor) stopped: not a failure. A refusal ends with its answer.
            endedAt = handshake.upgraded ? facts.transport.firstEndAt ?? facts.firstClose?.at
                : handshake.answeredAt ?? facts.transport.firstEndAt ?? facts.closed ?? handshake.requestedAt
        }
        closedByStop = facts.proxyClose?.reason == .shutdown
        if let injected = facts.faults.first(where: { $0.endedConnection && $0.refusal != nil }), let refusal = injected.refusal {
            // wsdoctor's --faults answered the upgrade itself: to the client, the server refused
            // it. The analyzer saw no answer (the server was never asked).
            status = refusal.status
            retryAfter = refusal.retryAfter.map(Double.init) ?? retryAfter
            if ended { endedAt = handshake.answeredAt ?? injected.at }
            return
        }
        if let injected = facts.faults.first(where: { $0.endedConnection && $0.closeCodeToClient != nil }) {
            // wsdoctor's --faults closed it: the client saw that close as the server's.
            serverCloseCode = injected.closeCodeToClient
            if ended { endedAt = endedAt ?? injected.at }
            return
        }
        switch facts.closeInitiator {
        case .server: serverCloseCode = facts.firstClose?.code
        case .client: closedByClient = true
        case nil: break
        }
    }

    /// Retry-After in delta-seconds; nil for the HTTP-date form.
    private static func seconds(_ header: String) -> Double? {
        Double(header.filter { $0 != " " }).flatMap { $0 >= 0 && $0.isFinite ? $0 : nil }
    }

    /// Whether the attempt failed in a way a client must come back from: refused, closed by
    /// the server, or cut without a close frame.
    var failed: Bool { !closedByStop && (!upgraded || !closedByClient) }
}
