public import GRPCNIOTransportHTTP2

import class Foundation.FileManager
import struct Foundation.URL

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

  var transportSecurity: HTTP2ServerTransport.Posix.TransportSecurity {
    let chain: [TLSConfig.CertificateSource] = [.file(path: certificateFile, format: .pem)]
    let key: TLSConfig.PrivateKeySource = .file(path: keyFile, format: .pem)
    guard let clientCAFile else { return .tls(certificateChain: chain, privateKey: key) }
    return .mTLS(certificateChain: chain, privateKey: key) { config in
      config.trustRoots = .certificates([.file(path: clientCAFile, format: .pem)])
      // The client's identity is its certificate, not a host name.
      config.clientCertificateVerification = .noHostnameVerification
    }
  }
}

/// TLS for a service's clients of the other services: the CA that signed their certificates
/// (their host names are verified against it) and, for mutual TLS, this service's own
/// certificate and key.
public struct ClientTLS: Sendable, Equatable {
  public var caFile: String
  public var certificateFile: String?
  public var keyFile: String?

  public init(caFile: String, certificateFile: String?, keyFile: String?) {
    self.caFile = caFile
    self.certificateFile = certificateFile
    self.keyFile = keyFile
  }

  /// `GRPC_CLIENT_CA_FILE` turns TLS on; `GRPC_CLIENT_CERT_FILE` and `GRPC_CLIENT_KEY_FILE`
  /// (both or neither) add a client certificate. Nil: plaintext.
  public init?(config: ConfigReader) throws(ConfigError) {
    let ca = try PEMFile.read("GRPC_CLIENT_CA_FILE", config)
    let certificate = try PEMFile.read("GRPC_CLIENT_CERT_FILE", config)
    let key = try PEMFile.read("GRPC_CLIENT_KEY_FILE", config)
    guard let ca else {
      if certificate != nil || key != nil {
        throw .invalid(
          variable: certificate != nil ? "GRPC_CLIENT_CERT_FILE" : "GRPC_CLIENT_KEY_FILE",
          value: "",
          expected: "to be set with GRPC_CLIENT_CA_FILE"
        )
      }
      return nil
    }
    guard (certificate == nil) == (key == nil) else {
      throw .missing(
        variable: certificate == nil ? "GRPC_CLIENT_CERT_FILE" : "GRPC_CLIENT_KEY_FILE"
      )
    }
    self.init(caFile: ca, certificateFile: certificate, keyFile: key)
  }

  public var transportSecurity: HTTP2ClientTransport.Posix.TransportSecurity {
    let caFile = self.caFile
    let trust: (inout HTTP2ClientTransport.Posix.TransportSecurity.TLS) -> Void = { config in
      config.trustRoots = .certificates([.file(path: caFile, format: .pem)])
    }
    guard let certificateFile, let keyFile else { return .tls(configure: trust) }
    return .mTLS(
      certificateChain: [.file(path: certificateFile, format: .pem)],
      privateKey: .file(path: keyFile, format: .pem),
      configure: trust
    )
  }
}

/// A PEM file named by a variable: checked readable at start-up, so a typo fails the start
/// rather than the first connection.
enum PEMFile {
  static func read(_ variable: String, _ config: ConfigReader) throws(ConfigError) -> String? {
    guard let path = config.optional(variable), !path.isEmpty else { return nil }
    guard FileManager.default.isReadableFile(atPath: path) else {
      throw .invalid(variable: variable, value: path, expected: "a readable PEM file")
    }
    return path
  }
}
