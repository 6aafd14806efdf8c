import CZlib
import NIOCore

/// The compressed message encodings the suite's server reads (`grpc-encoding`), besides
/// identity: gzip, and deflate in gRPC's sense (zlib's format). Replies go uncompressed,
/// which gRPC allows whatever the request used.
enum MessageEncoding: String, Sendable {
  case gzip
  case deflate

  /// What `grpc-accept-encoding` announces.
  static let accepted = "identity,deflate,gzip"

  enum Failure: Error {
    /// Larger than the limit once inflated (a small message can inflate without bound).
    case tooLarge
    case corrupt
  }

  /// The inflated message, at most `limit` bytes.
  func decompress(_ compressed: ByteBuffer, limit: Int) -> Result<ByteBuffer, Failure> {
    // Window bits: 15 for zlib's format, +16 for gzip's header and trailer.
    guard let stream = suite_inflate_begin(self == .gzip ? 31 : 15) else {
      return .failure(.corrupt)
    }
    defer { suite_inflate_end(stream) }
    var input = Array(compressed.readableBytesView)
    var output = ByteBuffer()
    var chunk = [UInt8](repeating: 0, count: 16 * 1024)
    var status = Z_OK
    return input.withUnsafeMutableBufferPointer { source in
      suite_inflate_input(stream, source.baseAddress, UInt32(source.count))
      while status != Z_STREAM_END {
        var produced: UInt32 = 0
        chunk.withUnsafeMutableBufferPointer { target in
          status = suite_inflate_step(stream, target.baseAddress, UInt32(target.count), &produced)
        }
        guard status == Z_OK || status == Z_STREAM_END, produced > 0 || status == Z_STREAM_END
        else {
          return .failure(.corrupt)
        }
        guard output.readableBytes + Int(produced) <= limit else { return .failure(.tooLarge) }
        output.writeBytes(chunk[..<Int(produced)])
      }
      return .success(output)
    }
  }
}
