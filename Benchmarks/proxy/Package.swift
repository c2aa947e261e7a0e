// swift-tools-version: 6.1
// wsbench: WebSocket echo server and load generators for Benchmarks/proxy/run.sh.
// A package of its own so that the project's build and CI never build it.
import PackageDescription

let package = Package(
    name: "wsbench",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "wsbench", targets: ["wsbench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
    ],
    targets: [
        .executableTarget(
            name: "wsbench",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
