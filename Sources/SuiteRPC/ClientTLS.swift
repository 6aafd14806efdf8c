public import GRPCNIOTransportHTTP2
public import SuiteKit
public import SuiteTransport

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

extension ServerTLS {
  /// The same certificates for grpc-swift's own server transport (`GRPC_SERVER_TRANSPORT=grpc-swift`).
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
