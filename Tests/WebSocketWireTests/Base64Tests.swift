import Testing
@testable import WebSocketWire

@Suite struct Base64Tests {
    @Test func rfc4648Vectors() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8))
        }
        #expect(Base64.encode([0xFB, 0xFF]) == "+/8=")
    }

    @Test func decodeRefusesNonCanonicalInput() {
        #expect(Base64.decode("Zg") == nil)        // unpadded
        #expect(Base64.decode("Zh==") == nil)      // unused bits set
        #expect(Base64.decode("Z===") == nil)      // too much padding
        #expect(Base64.decode("Zg==Zg==") == nil)  // padding in the middle
        #expect(Base64.decode("Zm9v YmFy") == nil)
        #expect(Base64.decode("dGhlIHNhbXBsZSBub25jZQ==")?.count == 16)
    }
}
