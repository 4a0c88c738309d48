/* Unit tests for compression_decompress: every codec round-trips data compressed by the real libraries
 * (zlib's gzip, libsnappy's raw blocks and xerial framing built from them as snappy-java writes it,
 * liblz4's frames, libzstd's frames with and without a content size), concatenated members and frames,
 * and hostile input: every truncation, bit flips, garbage, lies in headers, decompression bombs against
 * max_out (exact boundary included), unknown codecs, and a failing allocator at every step (no leak).
 * libsnappy is a C++ library the proto module does not link: the test loads it with dlopen. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "compression.h"

/* ---- helpers ---- */

static uint64_t rng_state = 0x2545f4914f6cdd1du;
static uint64_t rng(void) /* xorshift64*, deterministic */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

struct blob {
    uint8_t *p;
    size_t len;
};

static uint8_t *dup_bytes(const uint8_t *p, size_t n) /* exact-size heap copy: ASan sees overreads */
{
    uint8_t *d = malloc(n ? n : 1);
    assert_non_null(d);
    if (n)
        memcpy(d, p, n);
    return d;
}

/* Sample inputs: text that compresses, random bytes that do not, one byte, a run, and a mixture big
 * enough to span several lz4 blocks and xerial chunks. */
enum { SAMPLE_COUNT = 6 };
static struct blob sample(int i)
{
    static const size_t sizes[SAMPLE_COUNT] = {0, 1, 3000, 5000, 70000, 300000};
    struct blob b = {malloc(sizes[i] ? sizes[i] : 1), sizes[i]};
    assert_non_null(b.p);
    for (size_t k = 0; k < b.len; k++) {
        switch (i) {
        case 2: /* text */
            b.p[k] = (uint8_t)("{\"order\":42,\"sku\":\"A-100\",\"qty\":2}\n"[k % 36]);
            break;
        case 3: /* random */
            b.p[k] = (uint8_t)rng();
            break;
        case 4: /* run */
            b.p[k] = 'z';
            break;
        default: /* mixture: runs of text and noise */
            b.p[k] = (k / 777) % 3 == 0 ? (uint8_t)rng() : (uint8_t)('a' + (k % 23));
            break;
        }
    }
    if (i == 1)
        b.p[0] = 0x5a;
    return b;
}

/* Decompresses and checks the result equals want. */
static void expect_roundtrip(int codec, const struct blob *c, const struct blob *want)
{
    uint8_t *in = dup_bytes(c->p, c->len);
    uint8_t *out = (uint8_t *)1;
    size_t out_len = 99;
    int rc = compression_decompress(codec, in, c->len, want->len + 10, &out, &out_len);
    assert_int_equal(rc, 0);
    assert_non_null(out);
    assert_int_equal(out_len, want->len);
    if (want->len)
        assert_memory_equal(out, want->p, want->len);
    ferry_free(out);
    /* The exact size is allowed; one byte less is a bomb. */
    rc = compression_decompress(codec, in, c->len, want->len, &out, &out_len);
    assert_int_equal(rc, 0);
    ferry_free(out);
    if (want->len > 0) {
        rc = compression_decompress(codec, in, c->len, want->len - 1, &out, &out_len);
        assert_int_equal(rc, FERRY_ETOOBIG);
        assert_null(out);
        assert_int_equal(out_len, 0);
    }
    free(in);
}

static void blob_append(struct blob *b, const void *p, size_t n)
{
    b->p = realloc(b->p, b->len + n + 1);
    assert_non_null(b->p);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* ---- compressors: the real libraries ---- */

static struct blob gzip_compress(const struct blob *in, int level)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    struct blob out = {malloc(deflateBound(&zs, in->len) + 64), 0};
    assert_non_null(out.p);
    zs.next_in = in->p;
    zs.avail_in = (uInt)in->len;
    zs.next_out = out.p;
    zs.avail_out = (uInt)(deflateBound(&zs, in->len) + 64);
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out.len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static struct blob zlib_compress(const struct blob *in) /* zlib wrapper: not gzip */
{
    uLongf n = compressBound(in->len);
    struct blob out = {malloc(n), 0};
    assert_non_null(out.p);
    assert_int_equal(compress(out.p, &n, in->p, in->len), Z_OK);
    out.len = n;
    return out;
}

static __typeof__(snappy_compress) *p_snappy_compress;
static __typeof__(snappy_max_compressed_length) *p_snappy_max_compressed_length;

static int load_snappy(void **state)
{
    (void)state;
    void *h = dlopen("libsnappy.so.1", RTLD_NOW);
    if (!h)
        h = dlopen("libsnappy.so", RTLD_NOW);
    if (!h) {
        fprintf(stderr, "cannot load libsnappy: %s\n", dlerror());
        return -1;
    }
    p_snappy_compress = (__typeof__(snappy_compress) *)dlsym(h, "snappy_compress");
    p_snappy_max_compressed_length =
        (__typeof__(snappy_max_compressed_length) *)dlsym(h, "snappy_max_compressed_length");
    return p_snappy_compress && p_snappy_max_compressed_length ? 0 : -1;
}

static struct blob snappy_raw(const uint8_t *p, size_t n)
{
    size_t cap = p_snappy_max_compressed_length(n);
    struct blob out = {malloc(cap), cap};
    assert_non_null(out.p);
    assert_int_equal(p_snappy_compress((const char *)p, n, (char *)out.p, &out.len), SNAPPY_OK);
    return out;
}

/* xerial framing as snappy-java's SnappyOutputStream (and kafka-python) write it: the 16-byte header,
 * then each chunk of at most `chunk` input bytes as [int32 BE length][raw block]. */
static struct blob snappy_xerial(const struct blob *in, size_t chunk)
{
    static const uint8_t header[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
    struct blob out = {NULL, 0};
    blob_append(&out, header, sizeof header);
    for (size_t pos = 0; pos < in->len; pos += chunk) {
        size_t n = in->len - pos < chunk ? in->len - pos : chunk;
        struct blob c = snappy_raw(in->p + pos, n);
        uint8_t be[4] = {(uint8_t)(c.len >> 24), (uint8_t)(c.len >> 16), (uint8_t)(c.len >> 8), (uint8_t)c.len};
        blob_append(&out, be, 4);
        blob_append(&out, c.p, c.len);
        free(c.p);
    }
    return out;
}

static struct blob lz4_compress(const struct blob *in, int content_size, int checksums, LZ4F_blockSizeID_t bs)
{
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = bs;
    prefs.frameInfo.contentSize = content_size ? in->len : 0;
    prefs.frameInfo.contentChecksumFlag = checksums ? LZ4F_contentChecksumEnabled : LZ4F_noContentChecksum;
    prefs.frameInfo.blockChecksumFlag = checksums ? LZ4F_blockChecksumEnabled : LZ4F_noBlockChecksum;
    size_t cap = LZ4F_compressFrameBound(in->len, &prefs);
    struct blob out = {malloc(cap), 0};
    assert_non_null(out.p);
    out.len = LZ4F_compressFrame(out.p, cap, in->p, in->len, &prefs);
    assert_false(LZ4F_isError(out.len));
    return out;
}

static struct blob zstd_compress(const struct blob *in, int level)
{
    size_t cap = ZSTD_compressBound(in->len);
    struct blob out = {malloc(cap), 0};
    assert_non_null(out.p);
    out.len = ZSTD_compress(out.p, cap, in->p, in->len, level);
    assert_false(ZSTD_isError(out.len));
    return out;
}

/* A frame without a content size, as a streaming compressor (zstd-jni, librdkafka) writes it. */
static struct blob zstd_compress_stream(const struct blob *in)
{
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    assert_non_null(cctx);
    assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0)));
    size_t cap = ZSTD_compressBound(in->len) + 64;
    struct blob out = {malloc(cap), 0};
    assert_non_null(out.p);
    ZSTD_inBuffer ib = {in->p, in->len, 0};
    ZSTD_outBuffer ob = {out.p, cap, 0};
    size_t r;
    do {
        r = ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_end);
        assert_false(ZSTD_isError(r));
    } while (r != 0);
    out.len = ob.pos;
    ZSTD_freeCCtx(cctx);
    unsigned long long fcs = ZSTD_getFrameContentSize(out.p, out.len);
    assert_true(fcs == ZSTD_CONTENTSIZE_UNKNOWN);
    return out;
}

/* ---- round trips ---- */

static void test_gzip_roundtrip(void **state)
{
    (void)state;
    for (int i = 0; i < SAMPLE_COUNT; i++) {
        struct blob in = sample(i);
        for (int level = 1; level <= 9; level += 4) {
            struct blob c = gzip_compress(&in, level);
            expect_roundtrip(COMPRESSION_GZIP, &c, &in);
            free(c.p);
        }
        free(in.p);
    }
}

static void test_gzip_concatenated_members(void **state)
{
    (void)state;
    struct blob a = sample(2), b = sample(5), both = {NULL, 0};
    struct blob ca = gzip_compress(&a, 6), cb = gzip_compress(&b, 6), cc = {NULL, 0};
    blob_append(&both, a.p, a.len);
    blob_append(&both, b.p, b.len);
    blob_append(&cc, ca.p, ca.len);
    blob_append(&cc, cb.p, cb.len);
    expect_roundtrip(COMPRESSION_GZIP, &cc, &both);
    /* Bytes after a member that are not another member: refused. */
    uint8_t junk[3] = {0x1f, 0x00, 0x01};
    for (size_t n = 1; n <= sizeof junk; n++) {
        struct blob t = {NULL, 0};
        blob_append(&t, ca.p, ca.len);
        blob_append(&t, junk, n);
        uint8_t *out;
        size_t out_len;
        assert_int_equal(compression_decompress(COMPRESSION_GZIP, t.p, t.len, 1 << 20, &out, &out_len),
                         FERRY_ECORRUPT);
        assert_null(out);
        free(t.p);
    }
    free(a.p), free(b.p), free(both.p), free(ca.p), free(cb.p), free(cc.p);
}

static void test_gzip_refuses_zlib_and_raw_deflate(void **state)
{
    (void)state;
    struct blob in = sample(2);
    struct blob z = zlib_compress(&in);
    uint8_t *out;
    size_t out_len;
    assert_int_equal(compression_decompress(COMPRESSION_GZIP, z.p, z.len, 1 << 20, &out, &out_len), FERRY_ECORRUPT);
    /* The records of an uncompressed batch under the gzip flag (the IT case). */
    assert_int_equal(compression_decompress(COMPRESSION_GZIP, in.p, in.len, 1 << 20, &out, &out_len),
                     FERRY_ECORRUPT);
    free(z.p);
    free(in.p);
}

static void test_snappy_raw_roundtrip(void **state)
{
    (void)state;
    for (int i = 0; i < SAMPLE_COUNT; i++) {
        struct blob in = sample(i);
        struct blob c = snappy_raw(in.p, in.len);
        expect_roundtrip(COMPRESSION_SNAPPY, &c, &in);
        free(c.p);
        free(in.p);
    }
}

static void test_snappy_xerial_roundtrip(void **state)
{
    (void)state;
    for (int i = 0; i < SAMPLE_COUNT; i++) {
        struct blob in = sample(i);
        for (size_t chunk = 1000; chunk <= 32768; chunk *= 32) { /* 32 KiB: snappy-java's default */
            struct blob c = snappy_xerial(&in, chunk);
            expect_roundtrip(COMPRESSION_SNAPPY, &c, &in);
            free(c.p);
        }
        free(in.p);
    }
}

static void test_snappy_xerial_hostile(void **state)
{
    (void)state;
    struct blob in = sample(2);
    struct blob c = snappy_xerial(&in, 1000);
    uint8_t *out;
    size_t out_len;
    /* the magic alone, a short header */
    for (size_t n = 8; n < 16; n++)
        assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, c.p, n, 1 << 20, &out, &out_len),
                         FERRY_ECORRUPT);
    /* a chunk length past the end, a negative one, a zero one, a partial length */
    uint8_t *t = dup_bytes(c.p, c.len);
    t[16] = 0x7f;
    assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, t, c.len, 1 << 20, &out, &out_len), FERRY_ECORRUPT);
    t[16] = 0x80;
    assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, t, c.len, 1 << 20, &out, &out_len), FERRY_ECORRUPT);
    memset(t + 16, 0, 4);
    assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, t, c.len, 1 << 20, &out, &out_len), FERRY_ECORRUPT);
    free(t);
    assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, c.p, 18, 1 << 20, &out, &out_len), FERRY_ECORRUPT);
    /* Chunks are independent blocks: the output of all of them together is bounded. */
    assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, c.p, c.len, in.len - 1, &out, &out_len),
                     FERRY_ETOOBIG);
    /* Every truncation inside a chunk is refused; one at a chunk boundary is a shorter valid stream. */
    for (size_t n = 16; n < c.len; n++) {
        uint8_t *p = dup_bytes(c.p, n);
        int rc = compression_decompress(COMPRESSION_SNAPPY, p, n, 1 << 20, &out, &out_len);
        if (rc == 0) {
            assert_true(out_len % 1000 == 0 && out_len < in.len);
            assert_memory_equal(out, in.p, out_len);
            ferry_free(out);
        } else {
            assert_int_equal(rc, FERRY_ECORRUPT);
        }
        free(p);
    }
    free(c.p);
    free(in.p);
}

static void test_snappy_raw_hostile(void **state)
{
    (void)state;
    uint8_t *out;
    size_t out_len;
    /* A length the input cannot produce: refused before any allocation for it. */
    static const uint8_t lie[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 'a'};
    ferry_alloc_fail_after(0);
    assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, lie, sizeof lie, SIZE_MAX - 1, &out, &out_len),
                     FERRY_ECORRUPT);
    ferry_alloc_fail_after(-1);
    /* a preamble over 32 bits, one that never ends */
    static const uint8_t long_varint[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, long_varint, sizeof long_varint, 1 << 20, &out,
                                            &out_len),
                     FERRY_ECORRUPT);
    static const uint8_t open_varint[] = {0x80, 0x80};
    assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, open_varint, 2, 1 << 20, &out, &out_len),
                     FERRY_ECORRUPT);
    /* a copy before the start (offset 1 at position 0), offset 0, a copy past the stated length */
    static const uint8_t copy_first[] = {0x04, 0x01, 0x01};
    assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, copy_first, 3, 1 << 20, &out, &out_len),
                     FERRY_ECORRUPT);
    static const uint8_t off0[] = {0x06, 0x00, 'a', 0x01, 0x00};
    assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, off0, 5, 1 << 20, &out, &out_len), FERRY_ECORRUPT);
    static const uint8_t past[] = {0x03, 0x00, 'a', 0x01, 0x01}; /* says 3 bytes; literal 1 + copy 4 */
    assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, past, 5, 1 << 20, &out, &out_len), FERRY_ECORRUPT);
    /* fewer bytes than stated, a literal running past the input, a 4-byte literal length past it */
    static const uint8_t short_out[] = {0x05, 0x00, 'a'};
    assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, short_out, 3, 1 << 20, &out, &out_len),
                     FERRY_ECORRUPT);
    static const uint8_t lit_past[] = {0x05, 0x10, 'a'};
    assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, lit_past, 3, 1 << 20, &out, &out_len),
                     FERRY_ECORRUPT);
    static const uint8_t lit4[] = {0x05, 0xfc, 0xff, 0xff, 0xff, 0xff, 'a'};
    assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, lit4, sizeof lit4, 1 << 20, &out, &out_len),
                     FERRY_ECORRUPT);
    /* a valid overlapping copy: "a" then copy(offset 1, length 4) = "aaaaa" */
    static const uint8_t overlap[] = {0x05, 0x00, 'a', 0x01, 0x01};
    assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, overlap, 5, 1 << 20, &out, &out_len), 0);
    assert_int_equal(out_len, 5);
    assert_memory_equal(out, "aaaaa", 5);
    ferry_free(out);
    /* an empty block: length 0 and nothing else */
    static const uint8_t empty[] = {0x00};
    assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, empty, 1, 1 << 20, &out, &out_len), 0);
    assert_int_equal(out_len, 0);
    ferry_free(out);
}

static void test_lz4_roundtrip(void **state)
{
    (void)state;
    static const LZ4F_blockSizeID_t sizes[] = {LZ4F_max64KB, LZ4F_max256KB, LZ4F_max4MB};
    for (int i = 0; i < SAMPLE_COUNT; i++) {
        struct blob in = sample(i);
        for (int variant = 0; variant < 6; variant++) {
            struct blob c = lz4_compress(&in, variant & 1, (variant >> 1) & 1, sizes[variant % 3]);
            expect_roundtrip(COMPRESSION_LZ4, &c, &in);
            free(c.p);
        }
        free(in.p);
    }
}

static void test_lz4_concatenated_frames(void **state)
{
    (void)state;
    struct blob a = sample(5), b = sample(2), both = {NULL, 0};
    struct blob ca = lz4_compress(&a, 1, 1, LZ4F_max64KB), cb = lz4_compress(&b, 0, 0, LZ4F_max64KB);
    struct blob cc = {NULL, 0};
    blob_append(&both, a.p, a.len);
    blob_append(&both, b.p, b.len);
    blob_append(&cc, ca.p, ca.len);
    blob_append(&cc, cb.p, cb.len);
    expect_roundtrip(COMPRESSION_LZ4, &cc, &both);
    /* garbage after a frame */
    uint8_t *out;
    size_t out_len;
    blob_append(&ca, "\x01\x02\x03\x04\x05", 5);
    assert_int_equal(compression_decompress(COMPRESSION_LZ4, ca.p, ca.len, 1 << 20, &out, &out_len), FERRY_ECORRUPT);
    free(a.p), free(b.p), free(both.p), free(ca.p), free(cb.p), free(cc.p);
}

static void test_zstd_roundtrip(void **state)
{
    (void)state;
    for (int i = 0; i < SAMPLE_COUNT; i++) {
        struct blob in = sample(i);
        for (int level = 1; level <= 19; level += 9) {
            struct blob c = zstd_compress(&in, level);
            expect_roundtrip(COMPRESSION_ZSTD, &c, &in);
            free(c.p);
        }
        struct blob s = zstd_compress_stream(&in);
        expect_roundtrip(COMPRESSION_ZSTD, &s, &in);
        free(s.p);
        free(in.p);
    }
}

static void test_zstd_concatenated_and_skippable_frames(void **state)
{
    (void)state;
    struct blob a = sample(5), b = sample(2), both = {NULL, 0};
    blob_append(&both, a.p, a.len);
    blob_append(&both, b.p, b.len);
    struct blob ca = zstd_compress(&a, 3), cb = zstd_compress(&b, 3), sb = zstd_compress_stream(&b);
    static const uint8_t skippable[] = {0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'x', 'y', 'z'};
    /* both sizes known (one call), then one unknown (streaming) */
    struct blob known = {NULL, 0}, mixed = {NULL, 0};
    blob_append(&known, ca.p, ca.len);
    blob_append(&known, skippable, sizeof skippable);
    blob_append(&known, cb.p, cb.len);
    expect_roundtrip(COMPRESSION_ZSTD, &known, &both);
    blob_append(&mixed, ca.p, ca.len);
    blob_append(&mixed, sb.p, sb.len);
    expect_roundtrip(COMPRESSION_ZSTD, &mixed, &both);
    /* garbage after the last frame, on both paths */
    uint8_t *out;
    size_t out_len;
    blob_append(&known, "\x01\x02\x03", 3);
    assert_int_equal(compression_decompress(COMPRESSION_ZSTD, known.p, known.len, 1 << 20, &out, &out_len),
                     FERRY_ECORRUPT);
    blob_append(&mixed, "\x01\x02\x03", 3);
    assert_int_equal(compression_decompress(COMPRESSION_ZSTD, mixed.p, mixed.len, 1 << 20, &out, &out_len),
                     FERRY_ECORRUPT);
    free(a.p), free(b.p), free(both.p), free(ca.p), free(cb.p), free(sb.p), free(known.p), free(mixed.p);
}

static void test_zstd_header_lies(void **state)
{
    (void)state;
    struct blob in = sample(2);
    struct blob c = zstd_compress(&in, 3);
    uint8_t *out;
    size_t out_len;
    /* A frame that says it holds 2^40 bytes: ETOOBIG before any allocation for it. */
    static const uint8_t huge[] = {0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 0x01, 0x00, 0x00};
    ferry_alloc_fail_after(0);
    assert_int_equal(compression_decompress(COMPRESSION_ZSTD, huge, sizeof huge, 64 << 20, &out, &out_len),
                     FERRY_ETOOBIG);
    ferry_alloc_fail_after(-1);
    /* A frame whose stated size is smaller than what it holds, and one whose stated size is larger. */
    assert_true(c.p[4] & 0xc0 || (c.p[4] & 0x20)); /* the size is in the header */
    int fcs_bytes = (c.p[4] >> 6) == 0 ? ((c.p[4] & 0x20) ? 1 : 0) : 1 << (c.p[4] >> 6);
    int fcs_pos = 5 + ((c.p[4] & 0x20) ? 0 : 1) + ((int[]){0, 1, 2, 4})[c.p[4] & 3];
    assert_true(fcs_bytes == 2); /* 3000 bytes: a 2-byte field holding size - 256 */
    uint8_t *t = dup_bytes(c.p, c.len);
    t[fcs_pos] = (uint8_t)(t[fcs_pos] - 1);
    assert_int_equal(compression_decompress(COMPRESSION_ZSTD, t, c.len, 1 << 20, &out, &out_len), FERRY_ECORRUPT);
    t[fcs_pos] = (uint8_t)(t[fcs_pos] + 2);
    assert_int_equal(compression_decompress(COMPRESSION_ZSTD, t, c.len, 1 << 20, &out, &out_len), FERRY_ECORRUPT);
    free(t);
    /* A streaming frame asking for a window larger than max_out allows. */
    static const uint8_t big_window[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x88, 0x01, 0x00, 0x00};
    int rc = compression_decompress(COMPRESSION_ZSTD, big_window, sizeof big_window, 1 << 20, &out, &out_len);
    assert_true(rc == FERRY_ETOOBIG || rc == FERRY_ECORRUPT);
    free(c.p);
    free(in.p);
}

/* ---- hostile input, every codec ---- */

struct codec_case {
    int codec;
    const char *name;
    struct blob c;
    struct blob plain;
};

static void make_cases(struct codec_case *cases, int sample_index)
{
    struct blob in = sample(sample_index);
    cases[0] = (struct codec_case){COMPRESSION_GZIP, "gzip", gzip_compress(&in, 6), in};
    cases[1] = (struct codec_case){COMPRESSION_SNAPPY, "snappy", snappy_raw(in.p, in.len), in};
    cases[2] = (struct codec_case){COMPRESSION_SNAPPY, "xerial", snappy_xerial(&in, 32768), in};
    cases[3] = (struct codec_case){COMPRESSION_LZ4, "lz4", lz4_compress(&in, 1, 1, LZ4F_max64KB), in};
    cases[4] = (struct codec_case){COMPRESSION_ZSTD, "zstd", zstd_compress(&in, 3), in};
    cases[5] = (struct codec_case){COMPRESSION_ZSTD, "zstd-stream", zstd_compress_stream(&in), in};
}

static void free_cases(struct codec_case *cases)
{
    for (int i = 0; i < 6; i++)
        free(cases[i].c.p);
    free(cases[0].plain.p);
}

static void test_truncated_at_every_length(void **state)
{
    (void)state;
    struct codec_case cases[6];
    make_cases(cases, 2);
    for (int i = 0; i < 6; i++) {
        if (strcmp(cases[i].name, "xerial") == 0)
            continue; /* a cut at a chunk boundary is valid: see test_snappy_xerial_hostile */
        for (size_t n = 0; n < cases[i].c.len; n++) {
            uint8_t *p = dup_bytes(cases[i].c.p, n);
            uint8_t *out = (uint8_t *)1;
            size_t out_len = 1;
            int rc = compression_decompress(cases[i].codec, p, n, 1 << 20, &out, &out_len);
            if (rc != FERRY_ECORRUPT)
                fail_msg("%s cut at %zu of %zu: rc %d", cases[i].name, n, cases[i].c.len, rc);
            assert_null(out);
            assert_int_equal(out_len, 0);
            free(p);
        }
    }
    free_cases(cases);
}

static void test_bit_flips_and_garbage(void **state)
{
    (void)state;
    struct codec_case cases[6];
    make_cases(cases, 5);
    for (int i = 0; i < 6; i++) {
        uint8_t *p = dup_bytes(cases[i].c.p, cases[i].c.len);
        for (int round = 0; round < 300; round++) {
            size_t at = (size_t)(rng() % cases[i].c.len);
            uint8_t bit = (uint8_t)(1u << (rng() % 8));
            p[at] ^= bit;
            uint8_t *out;
            size_t out_len;
            int rc = compression_decompress(cases[i].codec, p, cases[i].c.len, 1 << 20, &out, &out_len);
            assert_true(rc == 0 || rc == FERRY_ECORRUPT || rc == FERRY_ETOOBIG);
            if (rc == 0) {
                assert_true(out_len <= 1 << 20);
                ferry_free(out);
            }
            p[at] ^= bit;
        }
        free(p);
    }
    free_cases(cases);
    /* Random bytes, and random bytes behind each codec's magic. */
    static const uint8_t magics[][8] = {
        {0x1f, 0x8b, 0x08, 0x00}, {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}, {0x04, 0x22, 0x4d, 0x18}, {0x28, 0xb5, 0x2f, 0xfd}};
    static const int magic_len[] = {4, 8, 4, 4}, magic_codec[] = {1, 2, 3, 4};
    for (int round = 0; round < 2000; round++) {
        size_t n = 1 + (size_t)(rng() % 300);
        uint8_t *p = malloc(n);
        assert_non_null(p);
        for (size_t k = 0; k < n; k++)
            p[k] = (uint8_t)rng();
        int m = round % 4, codec = magic_codec[m];
        if (round % 8 >= 4)
            memcpy(p, magics[m], (size_t)magic_len[m] < n ? (size_t)magic_len[m] : n);
        uint8_t *out;
        size_t out_len;
        int rc = compression_decompress(codec, p, n, 1 << 16, &out, &out_len);
        assert_true(rc == 0 || rc == FERRY_ECORRUPT || rc == FERRY_ETOOBIG);
        if (rc == 0)
            ferry_free(out);
        free(p);
    }
}

static void test_bombs(void **state)
{
    (void)state;
    /* 32 MiB of zeros in each codec; max_out 1 MiB. Each must stop at about the bound. */
    struct blob zeros = {calloc(32 << 20, 1), 32 << 20};
    assert_non_null(zeros.p);
    struct blob c[5] = {gzip_compress(&zeros, 9), snappy_xerial(&zeros, 32768),
                        lz4_compress(&zeros, 0, 0, LZ4F_max4MB), zstd_compress(&zeros, 3),
                        zstd_compress_stream(&zeros)};
    static const int codecs[5] = {1, 2, 3, 4, 4};
    for (int i = 0; i < 5; i++) {
        uint8_t *out = (uint8_t *)1;
        size_t out_len = 1;
        assert_int_equal(compression_decompress(codecs[i], c[i].p, c[i].len, 1 << 20, &out, &out_len), FERRY_ETOOBIG);
        assert_null(out);
        assert_int_equal(out_len, 0);
        free(c[i].p);
    }
    /* a raw snappy block of 4 MiB of zeros: its stated length is over the bound */
    struct blob s = snappy_raw(zeros.p, 4 << 20);
    uint8_t *out;
    size_t out_len;
    ferry_alloc_fail_after(0);
    assert_int_equal(compression_decompress(COMPRESSION_SNAPPY, s.p, s.len, 1 << 20, &out, &out_len), FERRY_ETOOBIG);
    ferry_alloc_fail_after(-1);
    free(s.p);
    free(zeros.p);
    /* max_out 0: only an empty output passes. */
    struct blob empty = {(uint8_t *)"", 0}, one = {(uint8_t *)"x", 1};
    struct blob ce = zstd_compress(&empty, 3), c1 = gzip_compress(&one, 6);
    assert_int_equal(compression_decompress(COMPRESSION_ZSTD, ce.p, ce.len, 0, &out, &out_len), 0);
    assert_int_equal(out_len, 0);
    ferry_free(out);
    assert_int_equal(compression_decompress(COMPRESSION_GZIP, c1.p, c1.len, 0, &out, &out_len), FERRY_ETOOBIG);
    free(ce.p);
    free(c1.p);
}

static void test_unknown_codec_and_empty_input(void **state)
{
    (void)state;
    static const uint8_t data[] = {1, 2, 3};
    uint8_t *out = (uint8_t *)1;
    size_t out_len = 1;
    static const int bad[] = {0, 5, 6, 7, -1, 100};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(compression_decompress(bad[i], data, 3, 100, &out, &out_len), FERRY_EUNSUPPORTED);
        assert_null(out);
    }
    for (int codec = 1; codec <= 4; codec++) {
        assert_int_equal(compression_decompress(codec, data, 0, 100, &out, &out_len), FERRY_ECORRUPT);
        assert_int_equal(compression_decompress(codec, NULL, 0, 100, &out, &out_len), FERRY_ECORRUPT);
    }
    assert_string_equal(compression_name(COMPRESSION_SNAPPY), "snappy");
    assert_string_equal(compression_name(0), "none");
    assert_string_equal(compression_name(6), "unknown");
}

static void test_allocation_failures(void **state)
{
    (void)state;
    struct codec_case cases[6];
    make_cases(cases, 5);
    for (int i = 0; i < 6; i++) {
        int ok = 0;
        for (long n = 0; n < 200 && !ok; n++) {
            uint8_t *out;
            size_t out_len;
            ferry_alloc_fail_after(n);
            int rc = compression_decompress(cases[i].codec, cases[i].c.p, cases[i].c.len, 1 << 20, &out, &out_len);
            ferry_alloc_fail_after(-1);
            if (rc == 0) {
                assert_int_equal(out_len, cases[i].plain.len);
                assert_memory_equal(out, cases[i].plain.p, out_len);
                ferry_free(out);
                ok = 1;
            } else if (rc != FERRY_ENOMEM) {
                fail_msg("%s with allocation %ld failing: rc %d", cases[i].name, n, rc);
            }
        }
        assert_true(ok);
    }
    free_cases(cases);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip_roundtrip),
        cmocka_unit_test(test_gzip_concatenated_members),
        cmocka_unit_test(test_gzip_refuses_zlib_and_raw_deflate),
        cmocka_unit_test(test_snappy_raw_roundtrip),
        cmocka_unit_test(test_snappy_xerial_roundtrip),
        cmocka_unit_test(test_snappy_xerial_hostile),
        cmocka_unit_test(test_snappy_raw_hostile),
        cmocka_unit_test(test_lz4_roundtrip),
        cmocka_unit_test(test_lz4_concatenated_frames),
        cmocka_unit_test(test_zstd_roundtrip),
        cmocka_unit_test(test_zstd_concatenated_and_skippable_frames),
        cmocka_unit_test(test_zstd_header_lies),
        cmocka_unit_test(test_truncated_at_every_length),
        cmocka_unit_test(test_bit_flips_and_garbage),
        cmocka_unit_test(test_bombs),
        cmocka_unit_test(test_unknown_codec_and_empty_input),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, load_snappy, NULL);
}
