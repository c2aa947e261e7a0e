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
