/// The parameters of a permessage-deflate offer or response (RFC 7692 §7.1).
public struct PerMessageDeflateParameters: Sendable, Hashable {
    /// The extension name as registered.
    public static let extensionName = "permessage-deflate"

    /// The server resets its compression context after each message.
    public var serverNoContextTakeover: Bool
    /// The client resets its compression context after each message.
    public var clientNoContextTakeover: Bool
    /// The server's LZ77 window, 8...15 when present; absent means 15.
    public var serverMaxWindowBits: Int?
    /// The client's LZ77 window, 8...15 when a value is given; absent means 15.
    public var clientMaxWindowBits: Int?
    /// An offer carried `client_max_window_bits` with no value: the client can
    /// honour a limit the server picks (RFC 7692 §7.1.2.2). Never set in a response.
    public var clientMaxWindowBitsWithoutValue: Bool

    public init(
        serverNoContextTakeover: Bool = false,
        clientNoContextTakeover: Bool = false,
        serverMaxWindowBits: Int? = nil,
        clientMaxWindowBits: Int? = nil,
        clientMaxWindowBitsWithoutValue: Bool = false
    ) {
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
        self.clientMaxWindowBitsWithoutValue = clientMaxWindowBitsWithoutValue
    }

    /// Window bits the server compresses with, as negotiated (15 when unrestricted).
    public var effectiveServerWindowBits: Int { serverMaxWindowBits ?? 15 }

    /// Window bits the client compresses with, as negotiated (15 when unrestricted).
    public var effectiveClientWindowBits: Int { clientMaxWindowBits ?? 15 }

    /// Where a parameter list was found; the rules differ (RFC 7692 §7.1.2.2).
    package enum Context: Sendable {
        case offer
        case response
    }

    /// Reads `element`'s parameters, describing every rule broken in `problems`.
    ///
    /// The result is lenient: a parameter that breaks a rule is left out and the
    /// rest is still read, so a decoder can follow what the peer went on to do.
    package static func parse(_ element: ExtensionOffer, in context: Context) -> (parameters: Self, problems: [String]) {
        var result = Self()
        var problems: [String] = []
        var seen: Set<String> = []
        for parameter in element.parameterList {
            let name = parameter.name
            if !seen.insert(name).inserted {
                problems.append("\(name) appears more than once")
                continue
            }
            switch name {
            case "server_no_context_takeover", "client_no_context_takeover":
                if let value = parameter.value {
                    problems.append("\(name) must have no value, got \(value)")
                } else if name == "server_no_context_takeover" {
                    result.serverNoContextTakeover = true
                } else {
                    result.clientNoContextTakeover = true
                }
            case "server_max_window_bits":
                if let bits = windowBits(parameter.value) {
                    result.serverMaxWindowBits = bits
                } else {
                    problems.append("server_max_window_bits must be 8 to 15, got \(parameter.value ?? "no value")")
                }
            case "client_max_window_bits":
                if let bits = windowBits(parameter.value) {
                    result.clientMaxWindowBits = bits
                } else if parameter.value == nil {
                    switch context {
                    case .offer: result.clientMaxWindowBitsWithoutValue = true
                    case .response: problems.append("client_max_window_bits needs a value in a response")
                    }
                } else {
                    problems.append("client_max_window_bits must be 8 to 15, got \(parameter.value ?? "")")
                }
            default:
                problems.append("unknown parameter \(name)")
            }
        }
        return (result, problems)
    }

    /// 8...15 written as in RFC 7692's ABNF: no sign, no leading zero.
    private static func windowBits(_ value: String?) -> Int? {
        switch value {
        case "8": return 8
        case "9": return 9
        case "10": return 10
        case "11": return 11
        case "12": return 12
        case "13": return 13
        case "14": return 14
        case "15": return 15
        default: return nil
        }
    }

    /// Why `response` is not a valid acceptance of `offer`; empty when it is.
    package static func problems(accepting offer: Self, with response: Self) -> [String] {
        var problems: [String] = []
        if offer.serverNoContextTakeover, !response.serverNoContextTakeover {
            problems.append("offer asked for server_no_context_takeover but the response lacks it")
        }
        if let offered = offer.serverMaxWindowBits {
            if let answered = response.serverMaxWindowBits {
                if answered > offered {
                    problems.append("server_max_window_bits=\(answered) exceeds the offered \(offered)")
                }
            } else {
                problems.append("offer asked for server_max_window_bits=\(offered) but the response lacks it")
            }
        }
        if let answered = response.clientMaxWindowBits {
            if let offered = offer.clientMaxWindowBits {
                if answered > offered {
                    problems.append("client_max_window_bits=\(answered) exceeds the offered \(offered)")
                }
            } else if !offer.clientMaxWindowBitsWithoutValue {
                problems.append("client_max_window_bits in the response but the client did not offer it")
            }
        }
        return problems
    }
}
