import Diagnosis
import Reporting
import Testing

@Suite struct RedactionTests {
    @Test func credentialQueryParametersAreHidden() {
        let redaction = Redaction()
        #expect(redaction.target("/chat?room=1&token=abc.def.ghi&access_token=x") == "/chat?room=1&token=REDACTED&access_token=REDACTED")
        #expect(redaction.target("/ws?JWT=eyJ&Password=hunter2&page=2") == "/ws?JWT=REDACTED&Password=REDACTED&page=2")
        #expect(redaction.target("/plain") == "/plain")
        #expect(redaction.target("/flag?debug&key=1") == "/flag?debug&key=REDACTED")
    }

    @Test func credentialHeadersAreHiddenButKeepTheirScheme() {
        let redaction = Redaction()
        #expect(redaction.header(name: "Authorization", value: "Bearer eyJhbGciOi") == "Bearer REDACTED")
        #expect(redaction.header(name: "Cookie", value: "session=1") == "REDACTED")
        #expect(redaction.header(name: "User-Agent", value: "curl") == "curl")
    }

    @Test func showingSecretsIsAnOptIn() {
        let redaction = Redaction(showSecrets: true)
        #expect(redaction.target("/chat?token=abc") == "/chat?token=abc")
        #expect(redaction.header(name: "Authorization", value: "Bearer abc") == "Bearer abc")
    }
}

@Suite struct RedactionListTests {
    let redaction = Redaction()

    @Test(arguments: ["pw", "pass", "passwd", "password", "auth", "apikey", "api_key", "api-key", "access_token", "access-token",
                      "token", "secret", "signature", "sig", "X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "key",
                      "session", "jwt", "code", "X-Goog-Signature", "client_secret", "csrf_token", "PHPSESSID", "db_password"])
    func everyCommonCredentialNameIsHidden(_ name: String) {
        #expect(redaction.target("/ws?room=1&\(name)=hunter2") == "/ws?room=1&\(name)=REDACTED")
        #expect(redaction.target("/ws?\(name.uppercased())=hunter2") == "/ws?\(name.uppercased())=REDACTED")
        #expect(redaction.header(name: name, value: "hunter2") == "REDACTED")
    }

    @Test(arguments: ["room", "page", "v", "debug", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Host", "User-Agent", "monkey"])
    func ordinaryNamesAreKept(_ name: String) {
        #expect(redaction.target("/ws?\(name)=42") == "/ws?\(name)=42")
        #expect(redaction.header(name: name, value: "42") == "42")
    }

    @Test func encodedNamesAndTokenShapedValuesAreHidden() {
        #expect(redaction.target("/ws?api%5Fkey=1&x=2") == "/ws?api%5Fkey=REDACTED&x=2")
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"
        #expect(redaction.target("/ws?t=\(jwt)") == "/ws?t=REDACTED")
        #expect(redaction.target("/ws?\(jwt)") == "/ws?REDACTED")
        #expect(redaction.header(name: "X-Anything", value: "Bearer \(jwt)") == "REDACTED")
    }

    @Test func passwordsInAbsoluteTargetsAreHidden() {
        #expect(redaction.target("ws://alice:hunter2@example.com/chat?room=1") == "ws://alice:REDACTED@example.com/chat?room=1")
        #expect(redaction.target("http://example.com/a@b:c") == "http://example.com/a@b:c")
    }

    @Test func bearerTokensInSubprotocolsAreHidden() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"
        #expect(redaction.subprotocols("graphql-transport-ws") == "graphql-transport-ws")
        #expect(redaction.subprotocols("v12.stomp, wamp.2.json") == "v12.stomp, wamp.2.json")
        #expect(redaction.subprotocols("access_token, \(jwt)") == "access_token, REDACTED")
        #expect(redaction.subprotocols("chat, Bearer, abc") == "chat, Bearer, REDACTED")
        #expect(redaction.subprotocols("base64url.bearer.authorization.k8s.io.c2VjcmV0, base64.binary.k8s.io")
                == "base64url.bearer.authorization.k8s.io.REDACTED, base64.binary.k8s.io")
        #expect(redaction.subprotocols("chat, 3f2a9c0d8e7b6a5f4e3d2c1b0a9f8e7d") == "chat, REDACTED")
        #expect(redaction.header(name: "Sec-WebSocket-Protocol", value: "json, \(jwt)") == "json, REDACTED")
        #expect(Redaction(showSecrets: true).subprotocols("access_token, \(jwt)") == "access_token, \(jwt)")
    }

    @Test func theUserExtendsTheList() {
        let extended = Redaction(alsoRedact: ["room", "X-Tenant"])
        #expect(extended.target("/ws?Room=1&page=2") == "/ws?Room=REDACTED&page=2")
        #expect(extended.header(name: "x_tenant", value: "acme") == "REDACTED")
        #expect(Redaction().target("/ws?room=1") == "/ws?room=1")
        #expect(Redaction(showSecrets: true, alsoRedact: ["room"]).target("/ws?room=1") == "/ws?room=1")
    }

    @Test func listedEvidenceIsRedactedUnlessEmptyOrAskedFor() {
        let reason = ConnectionDiagnosis.Evidence(fact: "close.reason", value: .string("user 42 banned"), redacted: true)
        let noReason = ConnectionDiagnosis.Evidence(fact: "close.reason", value: .string(""), redacted: true)
        let code = ConnectionDiagnosis.Evidence(fact: "close.code", value: .int(1008))
        #expect(Redaction().evidence(reason) == .string("REDACTED"))
        // An empty reason hides nothing: "REDACTED" would say there was one.
        #expect(Redaction().evidence(noReason) == .string(""))
        #expect(Redaction().evidence(code) == .int(1008))
        #expect(Redaction(showSecrets: true).evidence(reason) == .string("user 42 banned"))
    }
}
