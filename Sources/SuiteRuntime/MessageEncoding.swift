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
    var stream = z_stream()
    // Window bits: 15 for zlib's format, +16 for gzip's header and trailer.
    guard
      inflateInit2_(
        &stream,
        self == .gzip ? 31 : 15,
        zlibVersion(),
        Int32(MemoryLayout<z_stream>.size)
      ) == Z_OK
    else { return .failure(.corrupt) }
    defer { inflateEnd(&stream) }
    var input = Array(compressed.readableBytesView)
    var output = ByteBuffer()
    var chunk = [UInt8](repeating: 0, count: 16 * 1024)
    var status = Z_OK
    return input.withUnsafeMutableBufferPointer { source in
      stream.next_in = source.baseAddress
      stream.avail_in = UInt32(source.count)
      while status != Z_STREAM_END {
        let produced = chunk.withUnsafeMutableBufferPointer { target in
          stream.next_out = target.baseAddress
          stream.avail_out = UInt32(target.count)
          status = inflate(&stream, Z_NO_FLUSH)
          return target.count - Int(stream.avail_out)
        }
        guard status == Z_OK || status == Z_STREAM_END, produced > 0 || status == Z_STREAM_END
        else {
          return .failure(.corrupt)
        }
        guard output.readableBytes + produced <= limit else { return .failure(.tooLarge) }
        output.writeBytes(chunk[..<produced])
      }
      return .success(output)
    }
  }
}
