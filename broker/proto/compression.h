/* compression: one-shot decompression of the codecs a Kafka record batch v2 can carry (attributes bits
 * 0-2): gzip (an RFC 1952 stream, concatenated members allowed), snappy (a raw snappy block as librdkafka
 * writes it, or xerial framing as Java and kafka-python write it, told apart by the 8-byte magic
 * 0x82 "SNAPPY" 0x00), lz4 (the LZ4 frame format, concatenated frames allowed) and zstd (standard zstd
 * frames). Used to validate the records inside a compressed batch; Ferry stores the compressed blob as
 * received.
 *
 * Hostile input is expected: every decoder is bounded by `max_out` (a decompression bomb gets
 * FERRY_ETOOBIG before more than max_out + 1 bytes of output are held) and any malformed input gets
 * FERRY_ECORRUPT, never a crash. Memory comes from ferry_alloc (zlib, zstd and lz4 are given its
 * functions as their allocators); snappy is decoded here, so the module needs no libsnappy.
 *
 * Ownership: on success *out is a ferry_malloc'd buffer (never NULL, even for empty output) that the
 * caller frees with ferry_free; on failure *out is NULL and *out_len 0. */
#ifndef FERRY_COMPRESSION_H
#define FERRY_COMPRESSION_H

#include <stddef.h>
#include <stdint.h>

/* Codec ids as in the record batch attributes. */
enum compression_codec {
    COMPRESSION_NONE = 0,
    COMPRESSION_GZIP = 1,
    COMPRESSION_SNAPPY = 2,
    COMPRESSION_LZ4 = 3,
    COMPRESSION_ZSTD = 4,
};

/* Decompresses `len` bytes of `in` encoded with `codec` (1-4). Returns 0, FERRY_ECORRUPT (malformed,
 * truncated or trailing garbage), FERRY_ETOOBIG (the output would exceed max_out bytes),
 * FERRY_EUNSUPPORTED (codec not 1-4) or FERRY_ENOMEM. */
int compression_decompress(int codec, const uint8_t *in, size_t len, size_t max_out, uint8_t **out,
                           size_t *out_len);

/* The codec's name for logs ("gzip", "snappy", ...; "none"; "unknown"). */
const char *compression_name(int codec);

#endif
