import Foundation
import NIOCore
import NIOSSL

/// TLS for both legs: terminating clients' TLS, originating TLS to a `wss://` upstream.
public struct ProxyTLSOptions: Sendable {
    /// PEM certificate chain and key presented to clients; both or neither.
    public var certificatePath: String?
    public var keyPath: String?
    /// PEM file of certificate authorities trusted for the upstream (instead of the system store).
    public var upstreamCAPath: String?
    /// Skip verifying the upstream's certificate.
    public var upstreamInsecure = false
    /// Where to append TLS session secrets, NSS key log format, for Wireshark.
    public var keyLogPath: String?

    public init() {}

    var terminatesClientTLS: Bool { certificatePath != nil }
}

/// The NIOSSL contexts the proxy uses, built once before listening so that a bad
/// certificate or key stops start-up with one line.
struct ProxyTLSContexts: Sendable {
    let server: NIOSSLContext?
    let client: NIOSSLContext?

    init(options: ProxyTLSOptions, upstreamSecure: Bool) throws {
        let keyLog = try options.keyLogPath.map { try KeyLogFile(path: $0) }
        if let certificatePath = options.certificatePath {
            guard let keyPath = options.keyPath else { throw TLSSetupError("--tls-cert needs --tls-key") }
            let chain: [NIOSSLCertificate]
            let key: NIOSSLPrivateKey
            do {
                chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
            } catch {
                throw TLSSetupError("\(certificatePath): not a readable PEM certificate (\(error))")
            }
            do {
                key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
            } catch {
                throw TLSSetupError("\(keyPath): not a readable PEM private key (\(error))")
            }
            var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            if let keyLog { configuration.keyLogCallback = { line in keyLog.append(line) } }
            server = try NIOSSLContext(configuration: configuration)
        } else {
            if options.keyPath != nil { throw TLSSetupError("--tls-key needs --tls-cert") }
            server = nil
        }
        if upstreamSecure {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let ca = options.upstreamCAPath {
                guard FileManager.default.isReadableFile(atPath: ca) else { throw TLSSetupError("\(ca): cannot read the upstream CA file") }
                configuration.trustRoots = .file(ca)
            }
            if options.upstreamInsecure { configuration.certificateVerification = .none }
            if let keyLog { configuration.keyLogCallback = { line in keyLog.append(line) } }
            client = try NIOSSLContext(configuration: configuration)
        } else {
            client = nil
        }
    }
}

/// A TLS configuration problem found at start-up.
public struct TLSSetupError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Appends NSS key log lines (`CLIENT_RANDOM …`) from both legs to one file.
// @unchecked: the file handle is only used under `lock`.
final class KeyLogFile: @unchecked Sendable {
    private let handle: FileHandle
    private let lock = NSLock()

    init(path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw TLSSetupError("\(path): cannot create the key log file")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw TLSSetupError("\(path): cannot open the key log file") }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    func append(_ line: ByteBuffer) {
        var bytes = Data(line.readableBytesView)
        if bytes.last != 0x0A { bytes.append(0x0A) }
        lock.withLock { handle.write(bytes) }
    }
}
