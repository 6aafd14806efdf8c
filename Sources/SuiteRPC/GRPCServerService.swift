public import GRPCCore
import GRPCNIOTransportHTTP2
public import Logging
import NIOCore
public import ServiceLifecycle
public import SuiteKit
public import SuiteTransport

/// Runs one executable's gRPC server under ServiceLifecycle: prepares its dependencies
/// (migrations and the like) first, then serves with the suite's limits, the health and
/// reflection services and the standard interceptors, and drains gracefully on SIGTERM.
public struct GRPCServerService: Service {
  /// The services of this executable and which of them only the suite may call.
  public struct Services: Sendable {
    public var open: [any RegistrableRPCService]
    public var `internal`: [any RegistrableRPCService]
    /// Fully qualified names reported by the health service.
    public var names: [String]
    /// Open services whose unary methods browsers may call too (Connect, gRPC-Web), by full
    /// name: the ones a web page is built on. Admin and internal services stay gRPC only.
    public var browser: Set<String>

    public init(
      open: [any RegistrableRPCService],
      internal: [any RegistrableRPCService],
      names: [String],
      browser: Set<String> = []
    ) {
      self.open = open
      self.internal = `internal`
      self.names = names
      self.browser = browser
    }
  }

  private let settings: ServerSettings
  private let services: Services
  private let internalCredential: String
  private let health: HealthStatusBoard
  private let logger: Logger
  private let readyFile: String?
  private let prepare: @Sendable () async throws -> Void
  private let started: StartupGate

  public init(
    settings: ServerSettings,
    services: Services,
    internalCredential: String,
    health: HealthStatusBoard,
    logger: Logger,
    readyFile: String?,
    started: StartupGate = StartupGate(),
    prepare: @escaping @Sendable () async throws -> Void = {}
  ) {
    self.settings = settings
    self.services = services
    self.internalCredential = internalCredential
    self.health = health
    self.logger = logger
    self.readyFile = readyFile
    self.prepare = prepare
    self.started = started
  }

  public func run() async throws {
    health.set(.notServing, for: [""] + services.names)
    do {
      // A stop asked for while still preparing (say, the database not reachable yet) ends the
      // wait instead of leaving the process deaf to SIGTERM.
      try await cancelWhenGracefulShutdown { try await prepare() }
    } catch {
      started.abandon()
      guard Task.isShuttingDownGracefully else { throw error }
      logger.notice("stopped before serving", metadata: ["error": "\(error)"])
      return
    }
    started.open()

    let healthService = HealthService(board: health)
    let served =
      (services.open + services.internal + [healthService]).flatMap(Self.serviceDescriptors)
      .map(\.fullyQualifiedService) + ReflectionService.names
    let reflection = ReflectionService(serving: served)
    let openServices =
      services.open + [healthService, reflection, reflection.v1alpha]
    let allServices = openServices + services.internal
    let pipeline = Self.pipeline(
      internalServices: services.internal,
      credential: internalCredential,
      logger: logger,
      trustedProxies: settings.trustedProxies
    )
    if settings.transport != .grpcSwift {
      let transport = try SuiteServerTransport(
        settings: settings,
        unaryRoutes: UnaryMethods.routes(
          open: openServices,
          internal: services.internal,
          shared: .init(
            logger: logger,
            credential: InternalCredential(internalCredential),
            trustedProxies: settings.trustedProxies
          )
        ),
        browserServices: services.browser
      )
      try await serve(
        GRPCServer(transport: transport, services: allServices, interceptorPipeline: pipeline)
      ) {
        let address = try await transport.listeningAddress
        return "\(address.ipAddress ?? settings.host):\(address.port ?? settings.port)"
      }
      return
    }
    let transport = HTTP2ServerTransport.Posix(
      address: .ipv4(host: settings.host, port: settings.port),
      transportSecurity: settings.tls?.transportSecurity ?? .plaintext,
      config: .defaults { config in
        config.rpc.maxRequestPayloadSize = settings.maxRequestBytes
        config.http2.maxConcurrentStreams = settings.maxConcurrentStreams
        config.connection.maxIdleTime = settings.maxIdleTime
        config.connection.maxAge = settings.maxConnectionAge
        config.connection.maxGraceTime = settings.maxConnectionGrace
        config.connection.keepalive = .init(
          time: settings.keepaliveInterval,
          timeout: settings.keepaliveTimeout,
          clientBehavior: .defaults
        )
        config.connection.flushCoalescing = settings.flushDelay.map {
          .init(maxFlushDelay: $0, maxBytes: 64 * 1024)
        }
      }
    )
    try await serve(
      GRPCServer(transport: transport, services: allServices, interceptorPipeline: pipeline)
    ) {
      guard let address = try await transport.listeningAddress.ipv4 else {
        throw ServerStartError.notListeningOnIPv4
      }
      return "\(address.host):\(address.port)"
    }
  }

  private func serve<Transport: ServerTransport>(
    _ server: GRPCServer<Transport>,
    endpoint: @escaping @Sendable () async throws -> String
  ) async throws {
    try await withGracefulShutdownHandler {
      try await withThrowingDiscardingTaskGroup { group in
        group.addTask { try await server.serve() }
        let endpoint = try await endpoint()
        logger.notice("serving gRPC", metadata: ["address": "\(endpoint)"])
        // Serving before the ready file appears: whoever waits for it may check health at once.
        health.set(.serving, for: [""] + services.names)
        try writeReadyFile(endpoint: endpoint)
      }
    } onGracefulShutdown: {
      logger.notice("draining gRPC server")
      health.setAll(.notServing)
      health.finishWatchers()
      server.beginGracefulShutdown()
    }
  }

  /// The interceptors every executable runs, outermost first (tests use the same).
  public static func pipeline(
    internalServices: [any RegistrableRPCService],
    credential: String,
    logger: Logger,
    trustedProxies: TrustedProxies = .noProxies
  ) -> [ConditionalInterceptor<any ServerInterceptor>] {
    var pipeline: [ConditionalInterceptor<any ServerInterceptor>] = [
      .apply(RequestContextInterceptor(logger: logger, trustedProxies: trustedProxies), to: .all)
    ]
    let internalNames = internalServices.flatMap(Self.serviceDescriptors)
    if !internalNames.isEmpty {
      pipeline.append(
        .apply(
          InternalCredentialInterceptor(credential: credential),
          to: .services(Set(internalNames))
        )
      )
    }
    // Outside the error mapping: its refusals are thrown where the handler reads the request,
    // so the mapping (inside) turns them into INVALID_ARGUMENT.
    pipeline.append(.apply(StorableTextInterceptor(), to: .all))
    pipeline.append(.apply(ErrorMappingInterceptor(), to: .all))
    return pipeline
  }

  static func serviceDescriptors(
    of service: any RegistrableRPCService
  )
    -> [ServiceDescriptor]
  {
    var router = RPCRouter<HTTP2ServerTransport.Posix>()
    service.registerMethods(with: &router)
    return Array(Set(router.methods.map(\.service)))
  }

  /// Tells whoever started us (tests, `make run`) where we listen, once we do.
  private func writeReadyFile(endpoint: String) throws {
    guard let readyFile else { return }
    try ReadyFile.write(readyFile, endpoint: endpoint)
  }
}

/// Why the server could not start.
enum ServerStartError: Error, CustomStringConvertible {
  case notListeningOnIPv4

  var description: String { "the gRPC server is not listening on an IPv4 address" }
}
