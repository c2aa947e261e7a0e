import Testing
import WebSocketWire

@Suite struct ExtensionHeaderTests {
    private func offer(_ name: String, _ parameters: [(name: String, value: String?)] = []) -> ExtensionOffer {
        ExtensionOffer(name: name, parameters: parameters)
    }

    @Test func rfc7692FallbackOffer() {
        // RFC 7692 §7.1.3: a preferred offer and a fallback, in one header value.
        let value = "permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits"
        #expect(ExtensionHeader.parse([value]) == [
            offer("permessage-deflate", [("client_max_window_bits", nil), ("server_max_window_bits", "10")]),
            offer("permessage-deflate", [("client_max_window_bits", nil)]),
        ])
    }

    @Test func rfc7692GenericOffers() {
        // RFC 7692 §5.1 style: several extensions, some repeated with other parameters, across header lines.
        #expect(ExtensionHeader.parse(["permessage-foo, permessage-bar", "permessage-foo; use_y"]) == [
            offer("permessage-foo"), offer("permessage-bar"), offer("permessage-foo", [("use_y", nil)]),
        ])
    }

    @Test func quotedValuesAreUnquoted() {
        #expect(ExtensionHeader.parse(["permessage-deflate; client_max_window_bits=\"10\""])
            == [offer("permessage-deflate", [("client_max_window_bits", "10")])])
        #expect(ExtensionHeader.parse(["x; a=\"b\\c\""]) == [offer("x", [("a", "bc")])])
    }

    @Test func whitespaceAndEmptyElementsAreTolerated() {
        #expect(ExtensionHeader.parse([" , permessage-deflate ;server_no_context_takeover ;  client_max_window_bits = 12 ,, "])
            == [offer("permessage-deflate", [("server_no_context_takeover", nil), ("client_max_window_bits", "12")])])
        #expect(ExtensionHeader.parse([]) == [])
    }

    @Test func malformedElementsAreSkippedAndReported() {
        let cases: [(String, [ExtensionOffer])] = [
            ("x; a=\"1 2\", y", [offer("y")]),            // quoted value not a token
            ("x; a=\"unterminated, y", []),                // the quote swallows the rest
            ("x; =1, y", [offer("y")]),                    // no parameter name
            ("x y, z", [offer("z")]),                      // junk after the name
            ("x; a=, y", [offer("y")]),                    // no value after =
            ("; a, y", [offer("y")]),                      // no extension name
        ]
        for (value, expected) in cases {
            var problems: [String] = []
            #expect(ExtensionHeader.parse([value], problems: &problems) == expected, "\(value)")
            #expect(problems.count == 1, "\(value): \(problems)")
        }
    }

    @Test func descriptionRoundTrips() {
        let element = offer("permessage-deflate", [("client_max_window_bits", nil), ("server_max_window_bits", "10")])
        #expect(element.description == "permessage-deflate; client_max_window_bits; server_max_window_bits=10")
        #expect(ExtensionHeader.parse([element.description]) == [element])
    }

    @Test func parametersAccessorMatchesTheList() {
        var element = offer("x", [("a", "1")])
        element.parameters.append((name: "b", value: nil))
        #expect(element.parameterList == [.init(name: "a", value: "1"), .init(name: "b", value: nil)])
        #expect(element.parameters.map(\.name) == ["a", "b"])
    }
}
