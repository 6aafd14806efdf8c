#include <stdlib.h>
#include <zlib.h>

/* zlib's inflater behind an opaque pointer. Swift never names z_stream: grpc-swift-nio-transport's
   own zlib module declares the same struct, and a Swift file compiled beside one that loads that
   module took the struct's members from it, which the suite does not import (member import
   visibility), so the build depended on how the compiler batched files. */

/* A new inflater; window_bits 15 reads zlib's format, 31 gzip's. NULL when it cannot start. */
static inline void *suite_inflate_begin(int window_bits) {
  z_stream *stream = calloc(1, sizeof(z_stream));
  if (stream == NULL) return NULL;
  if (inflateInit2(stream, window_bits) != Z_OK) {
    free(stream);
    return NULL;
  }
  return stream;
}

/* The compressed bytes to read; they must outlive the calls of suite_inflate_step. */
static inline void suite_inflate_input(void *stream, unsigned char *input, unsigned int length) {
  z_stream *inflater = stream;
  inflater->next_in = input;
  inflater->avail_in = length;
}

/* Inflates into output, at most capacity bytes; zlib's status, and in produced how many bytes. */
static inline int suite_inflate_step(void *stream, unsigned char *output, unsigned int capacity,
                                     unsigned int *produced) {
  z_stream *inflater = stream;
  inflater->next_out = output;
  inflater->avail_out = capacity;
  int status = inflate(inflater, Z_NO_FLUSH);
  *produced = capacity - inflater->avail_out;
  return status;
}

static inline void suite_inflate_end(void *stream) {
  inflateEnd(stream);
  free(stream);
}
