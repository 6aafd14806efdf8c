public import NIOSSL
public import SuiteKit

/// TLS for a service's gRPC server: its certificate chain and key and, for mutual TLS, the CA
/// whose client certificates it accepts — a client without one, or with one from another CA,
/// is then refused during the handshake. With TLS configured, plaintext connections fail.
public struct ServerTLS: Sendable, Equatable {
  public var certificateFile: String
  public var keyFile: String
  /// Set: clients must present a certificate signed by this CA.
  public var clientCAFile: String?

  public init(certificateFile: String, keyFile: String, clientCAFile: String?) {
    self.certificateFile = certificateFile
    self.keyFile = keyFile
    self.clientCAFile = clientCAFile
  }

  /// `GRPC_TLS_CERT_FILE` and `GRPC_TLS_KEY_FILE` (PEM; both or neither), and
  /// `GRPC_TLS_CLIENT_CA_FILE` to require client certificates. Nil: plaintext. Another
  /// `prefix` names another server's variables (e.g. `LANDING_TLS` for the gateway's HTTP).
  public init?(config: ConfigReader, prefix: String = "GRPC_TLS") throws(ConfigError) {
    let certificate = try PEMFile.read("\(prefix)_CERT_FILE", config)
    let key = try PEMFile.read("\(prefix)_KEY_FILE", config)
    let clientCA = try PEMFile.read("\(prefix)_CLIENT_CA_FILE", config)
    switch (certificate, key) {
    case (nil, nil):
      guard clientCA == nil else {
        throw .invalid(
          variable: "\(prefix)_CLIENT_CA_FILE",
          value: clientCA ?? "",
          expected: "to be set with \(prefix)_CERT_FILE and \(prefix)_KEY_FILE"
        )
      }
      return nil
    case (let certificate?, let key?):
      self.init(certificateFile: certificate, keyFile: key, clientCAFile: clientCA)
    case (nil, _):
      throw .missing(variable: "\(prefix)_CERT_FILE")
    case (_, nil):
      throw .missing(variable: "\(prefix)_KEY_FILE")
    }
  }
}

extension ServerTLS {
  /// The server side of TLS 1.2+ offering `applicationProtocols` by ALPN (h2 for gRPC,
  /// http/1.1 for the gateway's landing page and webhook); with a client CA, client
  /// certificates from it are required (checked against the CA, not a host name).
  public func nioConfiguration(applicationProtocols: [String] = ["h2"]) throws -> TLSConfiguration {
    var configuration = TLSConfiguration.makeServerConfiguration(
      certificateChain: try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) },
      privateKey: .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
    )
    configuration.applicationProtocols = applicationProtocols
    if let clientCAFile {
      configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(clientCAFile))
      configuration.certificateVerification = .noHostnameVerification
    }
    return configuration
  }
}
