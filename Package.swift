// swift-tools-version:6.1
// 6.1: grpc-swift-protobuf uses package traits.
import PackageDescription

/// One strict settings list for every target of ours.
let strict: [SwiftSetting] = [
  .swiftLanguageMode(.v6),
  .enableUpcomingFeature("ExistentialAny"),
  .enableUpcomingFeature("InternalImportsByDefault"),
  .enableUpcomingFeature("MemberImportVisibility"),
]

extension Target.Dependency {
  static let grpcCore = Target.Dependency.product(name: "GRPCCore", package: "grpc-swift-2")
  static let grpcInProcess = Target.Dependency.product(
    name: "GRPCInProcessTransport",
    package: "grpc-swift-2"
  )
  static let grpcHTTP2 = Target.Dependency.product(
    name: "GRPCNIOTransportHTTP2",
    package: "grpc-swift-nio-transport"
  )
  static let grpcProtobuf = Target.Dependency.product(
    name: "GRPCProtobuf",
    package: "grpc-swift-protobuf"
  )
  static let swiftProtobuf = Target.Dependency.product(
    name: "SwiftProtobuf",
    package: "swift-protobuf"
  )
  static let lifecycle = Target.Dependency.product(
    name: "ServiceLifecycle",
    package: "swift-service-lifecycle"
  )
  static let unixSignals = Target.Dependency.product(
    name: "UnixSignals",
    package: "swift-service-lifecycle"
  )
  static let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
  static let metrics = Target.Dependency.product(name: "Metrics", package: "swift-metrics")
  static let postgres = Target.Dependency.product(name: "PostgresNIO", package: "postgres-nio")
  static let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")
  static let nioPosix = Target.Dependency.product(name: "NIOPosix", package: "swift-nio")
  static let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
  static let hummingbird = Target.Dependency.product(name: "Hummingbird", package: "hummingbird")
  static let httpTypes = Target.Dependency.product(name: "HTTPTypes", package: "swift-http-types")
  static let jwtKit = Target.Dependency.product(name: "JWTKit", package: "jwt-kit")
  static let httpClient = Target.Dependency.product(
    name: "AsyncHTTPClient",
    package: "async-http-client"
  )
  static let cryptoExtras = Target.Dependency.product(
    name: "_CryptoExtras",
    package: "swift-crypto"
  )
  static let nioSSL = Target.Dependency.product(name: "NIOSSL", package: "swift-nio-ssl")
  static let nioHTTP1 = Target.Dependency.product(name: "NIOHTTP1", package: "swift-nio")
  static let prometheus = Target.Dependency.product(name: "Prometheus", package: "swift-prometheus")
  static let tracing = Target.Dependency.product(
    name: "Tracing",
    package: "swift-distributed-tracing"
  )
  static let otel = Target.Dependency.product(name: "OTel", package: "swift-otel")
}

let package = Package(
  name: "guance-marketplace-suite",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "workspace-console", targets: ["workspace-console"]),
    .executable(name: "billing-center", targets: ["billing-center"]),
    .executable(name: "marketplace-emulator", targets: ["marketplace-emulator"]),
    .executable(name: "marketplace-gateway", targets: ["marketplace-gateway"]),
    .executable(name: "guancectl", targets: ["guancectl"]),
  ],
  dependencies: [
    .package(url: "https://github.com/grpc/grpc-swift-2.git", exact: "2.4.3"),
    .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", exact: "2.9.2"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", exact: "2.4.1"),
    .package(url: "https://github.com/apple/swift-protobuf.git", exact: "1.39.0"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
    .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
    .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
    .package(url: "https://github.com/apple/swift-distributed-tracing.git", exact: "1.7.3"),
    .package(url: "https://github.com/swift-otel/swift-otel.git", exact: "1.6.0"),
    .package(url: "https://github.com/apple/swift-nio.git", exact: "2.101.3"),
    .package(url: "https://github.com/apple/swift-nio-ssl.git", exact: "2.37.6"),
    .package(url: "https://github.com/apple/swift-nio-http2.git", exact: "1.46.0"),
    .package(url: "https://github.com/apple/swift-crypto.git", exact: "4.5.2"),
    .package(url: "https://github.com/vapor/postgres-nio.git", exact: "1.33.2"),
    .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1"),
    .package(url: "https://github.com/vapor/jwt-kit.git", exact: "5.8.0"),
    .package(url: "https://github.com/swift-server/async-http-client.git", exact: "1.37.0"),
    .package(url: "https://github.com/apple/swift-http-types.git", exact: "1.8.0"),
    .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
  ],
  targets: [
    // Debian's libargon2 (apt libargon2-dev) for argon2id password hashes.
    // zlib (apt zlib1g-dev) for gRPC messages compressed with gzip or deflate.
    .systemLibrary(
      name: "CZlib",
      pkgConfig: "zlib",
      providers: [.apt(["zlib1g-dev"])]
    ),
    // HTTP/2 under the suite's gRPC server transport (NGHTTP2ServerCodec).
    .systemLibrary(
      name: "CNGHTTP2",
      pkgConfig: "libnghttp2",
      providers: [.apt(["libnghttp2-dev"])]
    ),
    .systemLibrary(
      name: "CArgon2",
      pkgConfig: "libargon2",
      providers: [.apt(["libargon2-dev"])]
    ),
    // libpq (apt libpq-dev) in pipeline mode, for the hottest reads (PipelinedReads).
    .systemLibrary(
      name: "CLibPQ",
      pkgConfig: "libpq",
      providers: [.apt(["libpq-dev"])]
    ),
    // The suite's error vocabulary (field violations, not-found, conflicts...), free of transport.
    .target(name: "SuiteErrors", swiftSettings: strict),
    // Generated protobuf and gRPC code for every contract under Protos/ (committed).
    .target(
      name: "GuanceContracts",
      dependencies: [.grpcCore, .grpcProtobuf, .swiftProtobuf],
      swiftSettings: strict
    ),
    // What every process shares, with no gRPC: configuration, logging, the start-up gate,
    // the worker loop, the service main, the request context and trace spans.
    .target(
      name: "SuiteKit",
      dependencies: [.lifecycle, .unixSignals, .logging, .tracing, .nioCore, .crypto],
      swiftSettings: strict
    ),
    // The suite's gRPC server transport over HTTP/2 (libnghttp2, or swift-nio-http2): a
    // GRPCCore `ServerTransport` that answers unary routes itself (README in its folder).
    .target(
      name: "SuiteTransport",
      dependencies: [
        "SuiteKit", .grpcCore, .nioCore, .nioPosix, .nioSSL, .nioHTTP1, "CZlib", "CNGHTTP2",
        .product(name: "NIOHTTP2", package: "swift-nio-http2"),
        .product(name: "NIOHPACK", package: "swift-nio-http2"),
      ],
      exclude: ["README.md"],
      swiftSettings: strict
    ),
    // The RPC layer: the gRPC server and clients of every service, interceptors (request
    // context, credential, error mapping), health, reflection, the unary pipeline.
    .target(
      name: "SuiteRPC",
      dependencies: [
        "SuiteKit", "SuiteTransport", "SuiteErrors", "GuanceContracts", .grpcCore, .grpcHTTP2,
        .grpcProtobuf, .swiftProtobuf, .lifecycle, .logging, .metrics, .tracing, .nioCore,
        .nioPosix,
      ],
      swiftSettings: strict
    ),
    // What operators see of a process: Prometheus metrics on an operator port (`/metrics`),
    // the process's own figures, gauges read when scraped.
    .target(
      name: "SuiteTelemetry",
      dependencies: [
        "SuiteKit", .prometheus, .metrics, .logging, .lifecycle, .nioCore, .nioPosix,
        .nioHTTP1, .otel, .tracing,
      ],
      swiftSettings: strict
    ),
    // PostgreSQL: client from config, migrations, retrying transactions.
    .target(
      name: "SuitePersistence",
      dependencies: [
        "SuiteKit", "SuiteErrors", .postgres, .nioCore, .nioPosix, .nioSSL, .logging,
        .lifecycle, .metrics, .tracing,
      ],
      swiftSettings: strict
    ),
    // A service's hottest reads through libpq in pipeline mode (PipelinedReads). Its own module,
    // so that only the service that uses it links libpq and its libraries (~5 MiB of RSS each).
    .target(
      name: "PostgresPipeline",
      dependencies: ["CLibPQ", "SuitePersistence", .postgres, .logging],
      swiftSettings: strict
    ),
    // Account rules shared by console and billing center: identity fields, password policy
    // and hashing, verification codes, session tokens.
    .target(
      name: "AccountKit",
      dependencies: ["CArgon2", "SuiteErrors", "SuiteKit", .crypto, .nioPosix],
      exclude: ["Resources/NOTICE.md"],
      resources: [.copy("Resources/common-passwords.txt")],
      swiftSettings: strict
    ),
    // Signing in and emailed codes, shared by the console and the billing center.
    .target(
      name: "AccountAccess",
      dependencies: [
        "AccountKit", "SuiteErrors", "SuitePersistence", "SuiteKit", "Mailer", .postgres,
        .logging,
      ],
      resources: [.copy("Migrations")],
      swiftSettings: strict
    ),
    // The mail outbox and its senders (development mailbox, SMTP).
    .target(
      name: "Mailer",
      dependencies: [
        "SuitePersistence", "SuiteKit", .postgres, .logging, .lifecycle, .nioCore, .nioPosix,
        .nioSSL,
      ],
      resources: [.copy("Migrations")],
      swiftSettings: strict
    ),
    // The Guance console platform: accounts, workspaces, sessions.
    .target(
      name: "WorkspaceConsole",
      dependencies: [
        "GuanceContracts", "SuiteKit", "SuitePersistence", "PostgresPipeline", "AccountKit",
        "AccountAccess",
        "SuiteErrors", "Mailer",
        .grpcCore, .grpcProtobuf, .postgres, .logging, .crypto,
      ],
      resources: [.copy("Migrations")],
      swiftSettings: strict
    ),
    // The Guance billing center: billing accounts, cloud accounts, settlement, usage, bills.
    .target(
      name: "BillingCenter",
      dependencies: [
        "GuanceContracts", "SuiteKit", "SuiteRPC", "SuitePersistence", "AccountKit",
        "AccountAccess",
        "SuiteErrors", "Mailer", .grpcCore, .grpcProtobuf, .swiftProtobuf, .postgres, .logging,
        .lifecycle,
      ],
      resources: [.copy("Migrations")],
      swiftSettings: strict
    ),
    .executableTarget(
      name: "billing-center",
      dependencies: [
        "SuiteTelemetry",
        "BillingCenter", "SuiteKit", "SuiteTransport", "SuiteRPC", "SuitePersistence", "Mailer",
        "AccountKit",
        "AccountAccess", .grpcCore, .grpcHTTP2, .lifecycle, .unixSignals, .logging, .postgres,
      ],
      swiftSettings: strict
    ),
    // The emulated marketplace (Entra token endpoint, SaaS Fulfillment v2, metering).
    .target(
      name: "MarketplaceEmulator",
      dependencies: [
        "SuiteKit", "SuitePersistence", .hummingbird, .httpTypes, .jwtKit, .crypto,
        .cryptoExtras,
        .postgres, .logging, .nioCore, .httpClient, .lifecycle,
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ],
      resources: [.copy("Migrations")],
      swiftSettings: strict
    ),
    .executableTarget(
      name: "marketplace-emulator",
      dependencies: [
        "SuiteTelemetry",
        "MarketplaceEmulator", "SuiteKit", "SuitePersistence", .hummingbird, .lifecycle,
        .unixSignals, .logging, .postgres,
      ],
      swiftSettings: strict
    ),
    // The gateway's client of the marketplace APIs (or of the emulator).
    .target(
      name: "MarketplaceClient",
      dependencies: [
        .httpClient, .logging, .nioCore, .tracing, .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOFoundationCompat", package: "swift-nio"),
      ],
      swiftSettings: strict
    ),
    // The marketplace gateway: subscriptions, activation sessions, the activation flow.
    .target(
      name: "MarketplaceGateway",
      dependencies: [
        "MarketplaceClient", "SuitePersistence", "SuiteKit", "SuiteRPC", "SuiteErrors",
        "AccountKit",
        "GuanceContracts", .grpcCore, .grpcProtobuf, .swiftProtobuf, .postgres, .logging,
        .hummingbird, .httpTypes, .nioCore, .crypto, .lifecycle, .jwtKit, .httpClient, .metrics,
        .product(name: "NIOFoundationCompat", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ],
      // The reference activation page, served as shipped (no build step).
      resources: [.copy("Migrations"), .copy("Activation/WebApp")],
      swiftSettings: strict
    ),
    .executableTarget(
      name: "marketplace-gateway",
      dependencies: [
        "SuiteTelemetry",
        "MarketplaceGateway", "MarketplaceClient", "SuiteKit", "SuiteTransport", "SuiteRPC",
        "SuitePersistence", .hummingbird,
        .product(name: "HummingbirdTLS", package: "hummingbird"),
        .lifecycle, .unixSignals, .logging, .postgres,
      ],
      swiftSettings: strict
    ),
    // protoc plugin (`make protos`): each contract's unary registrations (into GuanceContracts)
    // and reflection's descriptors (into SuiteRPC).
    .executableTarget(
      name: "protoc-gen-suite-unary",
      dependencies: [
        .product(name: "SwiftProtobufPluginLibrary", package: "swift-protobuf"), .swiftProtobuf,
      ],
      swiftSettings: strict
    ),
    // Operators' command line over the gateway's admin service.
    .executableTarget(
      name: "guancectl",
      dependencies: [
        "GuanceContracts", "SuiteKit", "SuiteRPC", .grpcCore, .grpcHTTP2, .grpcProtobuf,
        .swiftProtobuf,
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: strict
    ),
    // Load generator for `make bench`: RecordUsage batches against a running billing-center.
    .executableTarget(
      name: "usage-load",
      dependencies: ["GuanceContracts", .grpcCore, .grpcHTTP2, .swiftProtobuf],
      swiftSettings: strict
    ),
    // grpc's interop TestService on the suite's server configuration (driven by make test).
    .executableTarget(
      name: "interop-server",
      dependencies: [
        "GuanceContracts", "SuiteKit", "SuiteTransport", "SuiteRPC", .grpcCore, .grpcProtobuf,
        .swiftProtobuf, .lifecycle,
        .unixSignals, .logging,
      ],
      swiftSettings: strict
    ),
    // `make bench`'s Greeter: bare grpc-swift-2, or behind the suite's runtime.
    .executableTarget(
      name: "bench-greeter",
      dependencies: [
        "GuanceContracts", "SuiteKit", "SuiteTransport", "SuiteRPC", .grpcCore, .grpcHTTP2,
        .swiftProtobuf, .lifecycle,
        .unixSignals,
        .logging,
      ],
      swiftSettings: strict
    ),
    // Load generator for `make bench`: bind-path activations through the gateway's public API.
    .executableTarget(
      name: "activation-load",
      dependencies: [
        "AccountKit", "GuanceContracts", .grpcCore, .grpcHTTP2, .swiftProtobuf, .httpClient,
        .nioCore,
        .product(name: "NIOFoundationCompat", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ],
      swiftSettings: strict
    ),
    .executableTarget(
      name: "workspace-console",
      dependencies: [
        "SuiteTelemetry",
        "WorkspaceConsole", "SuiteKit", "SuiteTransport", "SuiteRPC", "SuitePersistence",
        "PostgresPipeline", "Mailer",
        "AccountKit",
        "AccountAccess",
        .lifecycle, .unixSignals, .logging, .postgres,
      ],
      swiftSettings: strict
    ),
    // Test support: throwaway databases, processes on free ports, in-process servers and
    // clients (`TestServer`), the emulator as a process (`EmulatorProcess`), the whole suite as
    // processes (`SuiteHarness`).
    .target(
      name: "SuiteTesting",
      dependencies: [
        "MarketplaceClient", .httpClient, .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOFoundationCompat", package: "swift-nio"),
        "GuanceContracts", "SuiteKit", "SuiteTransport", "SuiteRPC", "SuitePersistence", .grpcCore,
        .grpcInProcess,
        .grpcHTTP2, .postgres, .logging, .nioCore, .swiftProtobuf,
        .lifecycle,
      ],
      swiftSettings: strict
    ),
    .testTarget(
      name: "AccountKitTests",
      dependencies: ["AccountKit", "SuiteErrors"],
      swiftSettings: strict
    ),
    .testTarget(
      name: "MailerTests",
      dependencies: ["Mailer", "SuiteTesting", .logging],
      swiftSettings: strict
    ),
    .testTarget(
      name: "SuiteTransportTests",
      dependencies: [
        "SuiteKit", "SuiteTransport", "SuiteRPC", "SuiteTesting", "GuanceContracts", .grpcCore,
        .grpcHTTP2, .swiftProtobuf, .logging, .lifecycle, .nioCore, .nioPosix,
      ],
      swiftSettings: strict
    ),
    .testTarget(
      name: "SuiteRPCTests",
      dependencies: [
        "SuiteKit", "SuiteTransport", "SuiteRPC", "SuitePersistence", "SuiteTesting", "SuiteErrors",
        "GuanceContracts", .grpcCore, .grpcHTTP2, .grpcProtobuf, .swiftProtobuf, .postgres,
        .logging,
      ],
      swiftSettings: strict
    ),
    .testTarget(
      name: "SuitePersistenceTests",
      dependencies: [
        "SuiteKit", "SuiteErrors", "SuiteRPC", "SuitePersistence", "PostgresPipeline",
        "SuiteTesting",
        .grpcCore, .postgres, .logging,
      ],
      swiftSettings: strict
    ),
    .testTarget(
      name: "SuiteTelemetryTests",
      dependencies: ["SuiteTelemetry", "SuiteTesting", .prometheus, .lifecycle, .logging],
      swiftSettings: strict
    ),
    .testTarget(
      name: "WorkspaceConsoleTests",
      dependencies: [
        "WorkspaceConsole", "SuiteTesting", "SuiteKit", "SuiteTransport", "SuiteRPC",
        "SuitePersistence", "Mailer",
        "AccountAccess", "AccountKit",
        "GuanceContracts", .grpcCore, .grpcInProcess, .grpcProtobuf, .swiftProtobuf, .postgres,
        .logging,
      ],
      swiftSettings: strict
    ),
    .testTarget(
      name: "BillingCenterTests",
      dependencies: [
        "BillingCenter", "WorkspaceConsole", "SuiteTesting", "SuiteKit", "SuiteTransport",
        "SuiteRPC", "SuitePersistence",
        "Mailer", "AccountAccess", "AccountKit", "SuiteErrors", "GuanceContracts", .grpcCore,
        .grpcInProcess,
        .grpcProtobuf, .swiftProtobuf, .postgres, .logging,
      ],
      swiftSettings: strict
    ),
    .testTarget(
      name: "MarketplaceGatewayTests",
      dependencies: [
        "SuiteTesting", "SuitePersistence", "MarketplaceClient", "MarketplaceEmulator",
        "MarketplaceGateway",
        "SuiteKit", "SuiteTransport", "SuiteRPC", "SuiteErrors", "AccountKit", "GuanceContracts",
        .grpcCore, .grpcInProcess,
        .grpcHTTP2, .grpcProtobuf, .swiftProtobuf,
        .postgres, .httpClient, .jwtKit, .nioCore, .nioSSL,
        .hummingbird, .httpTypes, .logging,
        .product(name: "NIOFoundationCompat", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ],
      swiftSettings: strict
    ),
    .testTarget(
      name: "MarketplaceEmulatorTests",
      dependencies: [
        "SuiteTesting", "MarketplaceEmulator", .httpClient, .jwtKit, .nioCore, .logging,
        .product(name: "NIOFoundationCompat", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ],
      swiftSettings: strict
    ),
    .testTarget(
      name: "MarketplaceClientTests",
      dependencies: [
        "SuiteTesting", "MarketplaceClient", .httpClient, .nioCore, .logging,
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ],
      swiftSettings: strict
    ),
    .testTarget(
      name: "EndToEndTests",
      dependencies: [
        "SuiteTesting", "SuitePersistence", "SuiteKit", "SuiteTransport", "SuiteRPC",
        "GuanceContracts", .grpcCore,
        .grpcHTTP2, .grpcProtobuf,
        .swiftProtobuf,
      ],
      swiftSettings: strict
    ),
  ]
)
