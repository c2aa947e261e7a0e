// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "wsdoctor",
    products: [
        .executable(name: "wsdoctor", targets: ["wsdoctor"]),
        .executable(name: "wsdoctor-fuzz", targets: ["wsdoctor-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CPcap",
            providers: [.apt(["libpcap-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(
            name: "WebSocketWire",
            dependencies: ["CZlib"]
        ),
        .target(
            name: "Diagnosis",
            dependencies: ["WebSocketWire", .product(name: "Yams", package: "Yams")]
        ),
        // Reading captures: files and interfaces, link layers, IP, TCP reassembly. Knows
        // nothing of rules or diagnoses.
        .target(
            name: "Capture",
            dependencies: ["WebSocketWire", "CPcap"]
        ),
        // Writing what the proxy relayed as a pcap file; shares the packet value types
        // (addresses, TCP flags) of reading, nothing else.
        .target(
            name: "PcapRecording",
            dependencies: ["Capture", "WebSocketWire", "CPcap"]
        ),
        // The capture feeder: reassembled streams into analyzers and the one Diagnoser.
        .target(
            name: "CaptureAnalysis",
            dependencies: ["Capture", "Diagnosis", "WebSocketWire"]
        ),
        // Faults injected on purpose by the proxy: the model, its file and API schema, and the
        // per-connection state machines; no channels.
        .target(
            name: "FaultInjection",
            dependencies: [
                "WebSocketWire", .product(name: "Yams", package: "Yams"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .target(
            name: "LiveProxy",
            dependencies: [
                "Diagnosis", "WebSocketWire", "PcapRecording", "MetricsReporting", "FaultInjection", "Reporting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Prometheus /metrics, /healthz and /readyz: a reporter shared by proxy and sniff.
        .target(
            name: "MetricsReporting",
            dependencies: [
                "Diagnosis", "WebSocketWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(
            name: "Reporting",
            dependencies: ["Diagnosis", "WebSocketWire"]
        ),
        // How clients come back after a close: attempts grouped by client, episodes judged by rules.
        .target(
            name: "Reconnects",
            dependencies: ["Diagnosis", "WebSocketWire"]
        ),
        // wsdoctor compare: two captures of one traffic, taken on each side of an intermediary.
        .target(
            name: "Comparison",
            dependencies: ["Capture", "CaptureAnalysis", "Diagnosis", "Reporting", "WebSocketWire"]
        ),
        .executableTarget(
            name: "wsdoctor",
            dependencies: [
                "WebSocketWire", "Diagnosis", "Capture", "CaptureAnalysis", "PcapRecording", "Reporting", "LiveProxy",
                "MetricsReporting", "Comparison", "FaultInjection", "Reconnects",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Builders for frames and streams, and where the repository and the built binary are,
        // shared by the test targets.
        .target(name: "WireTestSupport", dependencies: ["WebSocketWire"], path: "Tests/WireTestSupport"),
        // libFuzzer target; Fuzz/run.sh builds it with the fuzzer flags, plain builds get a corpus replayer.
        .executableTarget(name: "wsdoctor-fuzz", dependencies: ["Capture", "CaptureAnalysis", "Diagnosis", "Reporting", "WebSocketWire"]),
        .testTarget(name: "WebSocketWireTests", dependencies: ["WebSocketWire", "WireTestSupport"]),
        .testTarget(name: "DiagnosisTests", dependencies: ["Diagnosis", "WebSocketWire", "WireTestSupport"]),
        .testTarget(
            name: "LiveProxyTests",
            dependencies: ["LiveProxy", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(name: "FaultInjectionTests", dependencies: ["FaultInjection", "WebSocketWire"]),
        .testTarget(name: "ReportingTests", dependencies: ["Reporting", "Diagnosis", "WebSocketWire"]),
        .testTarget(
            name: "CaptureTests",
            dependencies: ["Capture", "CaptureAnalysis", "PcapRecording", "Diagnosis", "WebSocketWire", "CPcap"]
        ),
        .testTarget(
            name: "ReplayTests",
            dependencies: ["Capture", "CaptureAnalysis", "Diagnosis", "PcapRecording", "Reporting", "WebSocketWire", "WireTestSupport"],
            exclude: ["browser"],
            resources: []
        ),
        .testTarget(
            name: "ProxyTests",
            dependencies: [
                "WireTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            exclude: ["peers"]
        ),
        .testTarget(name: "ReconnectsTests", dependencies: ["Reconnects", "Diagnosis", "WebSocketWire"]),
        .testTarget(name: "ContainerTests", dependencies: ["WireTestSupport"]),
        .testTarget(
            name: "ComparisonTests",
            dependencies: ["Comparison", "CaptureAnalysis", "Diagnosis", "WebSocketWire", "WireTestSupport"],
            exclude: ["intermediaries"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
