/* Unit tests for rb_validate_records: the record-by-record walk Kafka's LogValidator does on produce.
 * Good batches in every codec (compressed in the test by zlib, libsnappy raw and xerial, liblz4 and
 * libzstd; kafka-python's golden batches, gzip included) pass; each kind of breakage, in every codec, gets
 * the error Kafka gives (INVALID_RECORD: FERRY_EINVAL) or CORRUPT_MESSAGE (FERRY_ECORRUPT: a payload that
 * does not decompress); unknown codecs, bombs, random mutations with the CRC fixed, and the absence of any
 * allocation on the uncompressed path. libsnappy is loaded with dlopen (the proto module does not link
 * it). */
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
#include "record_batch.h"

#include "golden/golden.h"
#include "golden/record_batches.inc"

#define MAX_OUT ((size_t)64 << 20)

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
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

/* ---- compressing a records region with the real libraries ---- */

enum { CODEC_XERIAL = 8 }; /* snappy with xerial framing; the batch says 2 */
static const int all_codecs[] = {COMPRESSION_NONE, COMPRESSION_GZIP, COMPRESSION_SNAPPY, CODEC_XERIAL,
                                 COMPRESSION_LZ4, COMPRESSION_ZSTD};
#define CODEC_COUNT (sizeof all_codecs / sizeof all_codecs[0])

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

static void append(struct blob *b, const void *p, size_t n)
{
    b->p = realloc(b->p, b->len + n + 1);
    assert_non_null(b->p);
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void append_snappy(struct blob *out, const uint8_t *p, size_t n, int framed)
{
    size_t cap = p_snappy_max_compressed_length(n), clen = cap;
    uint8_t *c = malloc(cap);
    assert_non_null(c);
    assert_int_equal(p_snappy_compress((const char *)p, n, (char *)c, &clen), SNAPPY_OK);
    if (framed) {
        uint8_t be[4] = {(uint8_t)(clen >> 24), (uint8_t)(clen >> 16), (uint8_t)(clen >> 8), (uint8_t)clen};
        append(out, be, 4);
    }
    append(out, c, clen);
    free(c);
}

static struct blob compress_with(int codec, const uint8_t *p, size_t n)
{
    struct blob out = {NULL, 0};
    switch (codec) {
    case COMPRESSION_NONE:
        append(&out, p, n);
        break;
    case COMPRESSION_GZIP: {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
        size_t cap = deflateBound(&zs, n) + 64;
        out.p = malloc(cap);
        assert_non_null(out.p);
        zs.next_in = (Bytef *)p;
        zs.avail_in = (uInt)n;
        zs.next_out = out.p;
        zs.avail_out = (uInt)cap;
        assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
        out.len = zs.total_out;
        deflateEnd(&zs);
        break;
    }
    case COMPRESSION_SNAPPY:
        append_snappy(&out, p, n, 0);
        break;
    case CODEC_XERIAL: {
        static const uint8_t header[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
        append(&out, header, sizeof header);
        for (size_t pos = 0; pos < n; pos += 32768)
            append_snappy(&out, p + pos, n - pos < 32768 ? n - pos : 32768, 1);
        break;
    }
    case COMPRESSION_LZ4: {
        size_t cap = LZ4F_compressFrameBound(n, NULL);
        out.p = malloc(cap);
        assert_non_null(out.p);
        out.len = LZ4F_compressFrame(out.p, cap, p, n, NULL);
        assert_false(LZ4F_isError(out.len));
        break;
    }
    default: {
        size_t cap = ZSTD_compressBound(n);
        out.p = malloc(cap);
        assert_non_null(out.p);
        out.len = ZSTD_compress(out.p, cap, p, n, 3);
        assert_false(ZSTD_isError(out.len));
        break;
    }
    }
    return out;
}

/* A whole batch around a records region: the region compressed with `codec`, the header filled in and
 * the CRC right, so that whatever is wrong is inside the records. Exact-size heap block (ASan). */
static struct blob make_batch(int codec, const uint8_t *records, size_t len, int32_t count, int32_t last_delta)
{
    struct blob payload = compress_with(codec, records, len);
    size_t total = RB_HEADER_SIZE + payload.len;
    struct blob b = {malloc(total), total};
    assert_non_null(b.p);
    memset(b.p, 0, RB_HEADER_SIZE);
    proto_put_be32(b.p + 8, (uint32_t)(total - RB_LOG_OVERHEAD));
    proto_put_be32(b.p + 12, (uint32_t)-1);
    b.p[16] = 2;
    proto_put_be16(b.p + 21, (uint16_t)(codec == CODEC_XERIAL ? COMPRESSION_SNAPPY : codec));
    proto_put_be32(b.p + 23, (uint32_t)last_delta);
    proto_put_be64(b.p + 27, 1700000000000u);
    proto_put_be64(b.p + 35, 1700000000000u);
    proto_put_be64(b.p + 43, (uint64_t)-1);
    proto_put_be16(b.p + 51, (uint16_t)-1);
    proto_put_be32(b.p + 53, (uint32_t)-1);
    proto_put_be32(b.p + 57, (uint32_t)count);
    if (payload.len)
        memcpy(b.p + RB_HEADER_SIZE, payload.p, payload.len);
    proto_put_be32(b.p + 17, rb_compute_crc(b.p, total));
    free(payload.p);
    return b;
}

static void fix_crc(struct blob *b) { proto_put_be32(b->p + 17, rb_compute_crc(b->p, b->len)); }

static int validate(const struct blob *b, size_t max_out)
{
    struct rb_header h;
    assert_int_equal(rb_parse_header(b->p, b->len, &h), 0);
    return rb_validate_records(b->p, b->len, &h, max_out, false);
}

/* ---- writing records, right and wrong ---- */

struct hdr {
    const char *key; /* written as is; key_len overrides when != 0 */
    int32_t key_len;
    const char *value; /* NULL: null (-1) */
    int32_t value_len; /* when != 0: written instead of strlen(value) */
};

struct rec {
    int8_t attributes;
    int64_t ts_delta;
    int32_t offset_delta;
    const char *key;   /* NULL: null */
    int32_t key_len;   /* when != 0: written instead */
    const char *value; /* NULL: null */
    int32_t value_len; /* when != 0: written instead */
    int32_t header_count_adjust;
    int nheaders;
    struct hdr headers[3];
    int32_t length_adjust;        /* added to the record's true length; INT32_MIN: length 0 */
    const char *junk_inside;      /* extra bytes inside the record, counted in its length */
    int overlong_ts;              /* timestamp delta as an 11-byte varlong */
};

static void put_str(struct proto_writer *w, const char *s, int32_t len_override)
{
    int32_t len = s ? (int32_t)strlen(s) : -1;
    proto_write_varint(w, len_override ? len_override : len);
    if (s)
        proto_write_raw(w, s, strlen(s));
}

static void put_record(struct proto_writer *w, const struct rec *r)
{
    struct proto_writer body;
    proto_writer_init(&body);
    proto_write_i8(&body, r->attributes);
    if (r->overlong_ts)
        proto_write_raw(&body, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 11);
    else
        proto_write_varlong(&body, r->ts_delta);
    proto_write_varint(&body, r->offset_delta);
    put_str(&body, r->key, r->key_len);
    put_str(&body, r->value, r->value_len);
    proto_write_varint(&body, r->nheaders + r->header_count_adjust);
    for (int i = 0; i < r->nheaders; i++) {
        put_str(&body, r->headers[i].key, r->headers[i].key_len);
        put_str(&body, r->headers[i].value, r->headers[i].value_len);
    }
    if (r->junk_inside)
        proto_write_raw(&body, r->junk_inside, strlen(r->junk_inside));
    assert_int_equal(body.err, 0);
    proto_write_varint(w, r->length_adjust == INT32_MIN ? 0 : (int32_t)body.len + r->length_adjust);
    proto_write_raw(w, body.buf, body.len);
    proto_writer_free(&body);
}

/* A plain record i, with a key, a value and two headers (one with a null value). */
static struct rec good_rec(int32_t i)
{
    return (struct rec){.ts_delta = i * 3,
                        .offset_delta = i,
                        .key = "key",
                        .value = "{\"order\":42,\"sku\":\"A-100\",\"qty\":2}",
                        .nheaders = 2,
                        .headers = {{"trace-id", 0, "4bf92f35", 0}, {"source", 0, NULL, 0}}};
}

/* The records region of n good records, with record `bad` (if >= 0) replaced by `r`. */
static struct blob region(int32_t n, int32_t bad, const struct rec *r, const char *trailing)
{
    struct proto_writer w;
    proto_writer_init(&w);
    for (int32_t i = 0; i < n; i++) {
        struct rec g = good_rec(i);
        put_record(&w, i == bad ? r : &g);
    }
    if (trailing)
        proto_write_raw(&w, trailing, strlen(trailing));
    assert_int_equal(w.err, 0);
    struct blob b = {NULL, 0};
    append(&b, w.buf, w.len);
    proto_writer_free(&w);
    return b;
}

/* ---- good batches ---- */

static void test_golden_batches(void **state)
{
    (void)state;
    for (size_t i = 0; i < GOLDEN_BATCH_COUNT; i++) {
        const struct golden_batch *gb = &golden_batches[i];
        struct blob b = {malloc(gb->len), gb->len};
        assert_non_null(b.p);
        memcpy(b.p, gb->bytes, gb->len);
        struct rb_header h;
        assert_int_equal(rb_validate(b.p, b.len, &h), 0);
        if (rb_validate_records(b.p, b.len, &h, MAX_OUT, false) != 0)
            fail_msg("golden batch %s refused", gb->name);
        free(b.p);
    }
    (void)gb_fetch_blob;
}

static void test_good_batches_every_codec(void **state)
{
    (void)state;
    static const int32_t counts[] = {1, 2, 50, 3000};
    for (size_t c = 0; c < CODEC_COUNT; c++) {
        for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
            struct blob r = region(counts[k], -1, NULL, NULL);
            struct blob b = make_batch(all_codecs[c], r.p, r.len, counts[k], counts[k] - 1);
            struct rb_header h;
            assert_int_equal(rb_validate(b.p, b.len, &h), 0);
            int rc = rb_validate_records(b.p, b.len, &h, MAX_OUT, false);
            if (rc != 0)
                fail_msg("codec %d, %d records: rc %d", all_codecs[c], counts[k], rc);
            free(b.p);
            free(r.p);
        }
    }
}

static void test_good_edge_records(void **state)
{
    (void)state;
    struct rec edge[] = {
        {.offset_delta = 0, .key = NULL, .value = NULL},                     /* null key and value */
        {.offset_delta = 1, .key = "", .value = ""},                         /* empty key and value */
        {.offset_delta = 2, .ts_delta = -5, .key = "k", .value = "v"},       /* a negative timestamp delta */
        {.offset_delta = 3, .key = "k", .value = "v", .nheaders = 3,
         .headers = {{"", 0, "", 0}, {"a", 0, NULL, 0}, {"b", 0, "x", 0}}}, /* empty key, null value */
    };
    struct proto_writer w;
    proto_writer_init(&w);
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
        put_record(&w, &edge[i]);
    for (size_t c = 0; c < CODEC_COUNT; c++) {
        struct blob b = make_batch(all_codecs[c], w.buf, w.len, 4, 3);
        assert_int_equal(validate(&b, MAX_OUT), 0);
        free(b.p);
    }
    proto_writer_free(&w);
    /* rb_builder's batches (the metadata log's) pass too. */
    struct proto_writer bw;
    proto_writer_init(&bw);
    struct rb_builder bb;
    rb_builder_begin(&bb, &bw, 0, -1, 0, 1700000000000);
    for (int i = 0; i < 10; i++)
        rb_builder_add(&bb, 1700000000000 + i, (proto_bytes){(const uint8_t *)"k", i % 2 ? -1 : 1},
                       (proto_bytes){(const uint8_t *)"value", 5});
    assert_int_equal(rb_builder_finish(&bb), 0);
    struct blob b = {NULL, 0};
    append(&b, bw.buf, bw.len);
    assert_int_equal(validate(&b, MAX_OUT), 0);
    free(b.p);
    proto_writer_free(&bw);
}

/* ---- broken records: INVALID_RECORD in every codec ---- */

struct broken {
    const char *what;
    struct rec r;         /* replaces record 1 of 3 */
    int32_t count;        /* recordCount written (0: 3) */
    int32_t last_delta;   /* lastOffsetDelta written (0: count - 1) */
    const char *trailing; /* bytes after the records */
    int records;          /* records actually written (0: 3) */
};

static void test_broken_records(void **state)
{
    (void)state;
    struct rec g = good_rec(1);
#define WITH(field_assignments) ({ struct rec r_ = g; field_assignments; r_; })
    const struct broken cases[] = {
        {"record length past the end", WITH(r_.length_adjust = 200)},
        {"record length one past its fields", WITH(r_.length_adjust = 1)},
        {"record length one short of its fields", WITH(r_.length_adjust = -1)},
        {"record length negative", WITH(r_.length_adjust = -1000)},
        {"record length zero", WITH(r_.length_adjust = INT32_MIN)},
        {"bytes inside the record after its headers", WITH(r_.junk_inside = "xy")},
        {"attributes 1", WITH(r_.attributes = 1)},
        {"attributes -128", WITH(r_.attributes = -128)},
        {"offset delta 2 for the second record", WITH(r_.offset_delta = 2)},
        {"offset delta 0 twice", WITH(r_.offset_delta = 0)},
        {"offset delta -1", WITH(r_.offset_delta = -1)},
        {"negative header count", WITH(r_.header_count_adjust = -7)},
        {"header count one more than the headers", WITH(r_.header_count_adjust = 1)},
        {"header count one less than the headers", WITH(r_.header_count_adjust = -1)},
        {"header key length -1", WITH(r_.headers[0].key_len = -1)},
        {"header key length past the record", WITH(r_.headers[0].key_len = 500)},
        {"header value length -2", WITH(r_.headers[0].value_len = -2)},
        {"header value length past the record", WITH(r_.headers[0].value_len = 500)},
        {"key length -2", WITH(r_.key_len = -2)},
        {"key length past the record", WITH(r_.key_len = 1000)},
        {"value length -7", WITH(r_.value_len = -7)},
        {"value length past the record", WITH(r_.value_len = 1000)},
        {"timestamp delta an 11-byte varlong", WITH(r_.overlong_ts = 1)},
        {"record count 4, 3 records", g, 4},
        {"record count 2, 3 records", g, 2},
        {"record count 1000000, 3 records", g, 1000000},
        {"bytes after the last record", g, 0, 0, "\x02"},
        {"a zero byte after the last record", g, 0, 0, "\x00\x00"},
        {"lastOffsetDelta 5 for 3 records", g, 3, 5},
        {"lastOffsetDelta 1 for 3 records", g, 3, 1},
        {"no records at all, count 1", g, 1, 0, NULL, -1},
    };
#undef WITH
    for (size_t c = 0; c < CODEC_COUNT; c++) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const struct broken *k = &cases[i];
            int32_t count = k->count ? k->count : 3;
            int32_t last = k->last_delta ? k->last_delta : count - 1;
            int32_t n = k->records < 0 ? 0 : k->records ? k->records : 3;
            struct blob r = region(n, 1, &k->r, k->trailing);
            if (k->trailing && k->trailing[0] == 0)
                append(&r, "\0\0", 2); /* strlen stops at the first zero */
            struct blob b = make_batch(all_codecs[c], r.p, r.len, count, last);
            int rc = validate(&b, MAX_OUT);
            if (rc != FERRY_EINVAL)
                fail_msg("codec %d, %s: rc %d, want FERRY_EINVAL", all_codecs[c], k->what, rc);
            free(b.p);
            free(r.p);
        }
    }
}

static void test_record_count_zero_and_negative(void **state)
{
    (void)state;
    for (size_t c = 0; c < CODEC_COUNT; c++) {
        if (all_codecs[c] == COMPRESSION_NONE)
            continue;
        /* Kafka: "Invalid reported count for record batch: 0" (a client may not send an empty batch). */
        struct blob b = make_batch(all_codecs[c], (const uint8_t *)"", 0, 0, 0);
        assert_int_equal(validate(&b, MAX_OUT), FERRY_EINVAL);
        free(b.p);
        b = make_batch(all_codecs[c], (const uint8_t *)"", 0, -1, 0);
        assert_int_equal(validate(&b, MAX_OUT), FERRY_EINVAL);
        free(b.p);
    }
    struct blob b = make_batch(COMPRESSION_NONE, (const uint8_t *)"", 0, 0, 0);
    assert_int_equal(validate(&b, MAX_OUT), FERRY_EINVAL);
    free(b.p);
}

/* ---- payloads that do not decompress; unknown codecs; bombs ---- */

static void test_payload_does_not_decompress(void **state)
{
    (void)state;
    struct blob r = region(5, -1, NULL, NULL);
    /* Each codec's flag on uncompressed records (the CRC made right). */
    for (int codec = 1; codec <= 4; codec++) {
        struct blob b = make_batch(COMPRESSION_NONE, r.p, r.len, 5, 4);
        proto_put_be16(b.p + 21, (uint16_t)codec);
        fix_crc(&b);
        struct rb_header h;
        assert_int_equal(rb_validate(b.p, b.len, &h), 0);
        int rc = rb_validate_records(b.p, b.len, &h, MAX_OUT, false);
        if (rc != FERRY_ECORRUPT)
            fail_msg("codec %d on plain records: rc %d", codec, rc);
        free(b.p);
    }
    /* Every codec's payload cut short, with the lengths and CRC made right. */
    for (size_t c = 1; c < CODEC_COUNT; c++) {
        struct blob full = make_batch(all_codecs[c], r.p, r.len, 5, 4);
        for (size_t len = RB_HEADER_SIZE; len < full.len; len++) {
            if (all_codecs[c] == CODEC_XERIAL && len == RB_HEADER_SIZE + 16)
                continue; /* the xerial header alone is an empty stream: no records, INVALID_RECORD */
            struct blob b = {malloc(len), len};
            assert_non_null(b.p);
            memcpy(b.p, full.p, len);
            proto_put_be32(b.p + 8, (uint32_t)(len - RB_LOG_OVERHEAD));
            fix_crc(&b);
            int rc = validate(&b, MAX_OUT);
            if (rc != FERRY_ECORRUPT)
                fail_msg("codec %d cut at %zu of %zu: rc %d", all_codecs[c], len, full.len, rc);
            free(b.p);
        }
        free(full.p);
    }
    free(r.p);
}

static void test_unknown_codec(void **state)
{
    (void)state;
    struct blob r = region(2, -1, NULL, NULL);
    for (int codec = 5; codec <= 7; codec++) {
        struct blob b = make_batch(COMPRESSION_NONE, r.p, r.len, 2, 1);
        proto_put_be16(b.p + 21, (uint16_t)codec);
        fix_crc(&b);
        assert_int_equal(validate(&b, MAX_OUT), FERRY_EUNSUPPORTED);
        free(b.p);
    }
    free(r.p);
}

static void test_bomb_and_short_batch(void **state)
{
    (void)state;
    /* 3000 records (about 180 KB) are fine under 1 MiB and refused under 64 KiB. */
    struct blob r = region(3000, -1, NULL, NULL);
    for (size_t c = 1; c < CODEC_COUNT; c++) {
        struct blob b = make_batch(all_codecs[c], r.p, r.len, 3000, 2999);
        assert_int_equal(validate(&b, 1 << 20), 0);
        assert_int_equal(validate(&b, 64 << 10), FERRY_ETOOBIG);
        assert_int_equal(validate(&b, r.len), 0);
        assert_int_equal(validate(&b, r.len - 1), FERRY_ETOOBIG);
        free(b.p);
    }
    free(r.p);
    /* Fewer bytes than a header: refused without reading past them. */
    struct blob g = region(1, -1, NULL, NULL);
    struct blob b = make_batch(COMPRESSION_NONE, g.p, g.len, 1, 0);
    struct rb_header h;
    assert_int_equal(rb_parse_header(b.p, b.len, &h), 0);
    for (size_t len = 0; len < RB_HEADER_SIZE; len++) {
        uint8_t *p = malloc(len ? len : 1);
        assert_non_null(p);
        memcpy(p, b.p, len);
        assert_int_equal(rb_validate_records(p, len, &h, MAX_OUT, false), FERRY_ECORRUPT);
        free(p);
    }
    free(b.p);
    free(g.p);
}

/* ---- the uncompressed path allocates nothing; the compressed one survives failing allocations ---- */

static void test_allocation(void **state)
{
    (void)state;
    struct blob r = region(3000, -1, NULL, NULL);
    struct blob plain = make_batch(COMPRESSION_NONE, r.p, r.len, 3000, 2999);
    ferry_alloc_fail_after(0);
    assert_int_equal(validate(&plain, MAX_OUT), 0);
    ferry_alloc_fail_after(-1);
    for (size_t c = 1; c < CODEC_COUNT; c++) {
        struct blob b = make_batch(all_codecs[c], r.p, r.len, 3000, 2999);
        int ok = 0;
        for (long n = 0; n < 100 && !ok; n++) {
            ferry_alloc_fail_after(n);
            int rc = validate(&b, MAX_OUT);
            ferry_alloc_fail_after(-1);
            if (rc == 0)
                ok = 1;
            else
                assert_int_equal(rc, FERRY_ENOMEM);
        }
        assert_true(ok);
        free(b.p);
    }
    free(plain.p);
    free(r.p);
}

/* ---- the integration test's four cases, byte for byte ---- */

static void test_pending_it_cases(void **state)
{
    (void)state;
    /* ft.build_batch([(b"k1", b"v1", []), (b"k2", b"v2", [])]) */
    const struct rec tiny[2] = {{.offset_delta = 0, .key = "k1", .value = "v1"},
                                {.offset_delta = 1, .key = "k2", .value = "v2"}};
    struct proto_writer w;
    proto_writer_init(&w);
    put_record(&w, &tiny[0]);
    put_record(&w, &tiny[1]);
    struct blob b = make_batch(COMPRESSION_NONE, w.buf, w.len, 2, 1);
    struct rb_header h;
    assert_int_equal(rb_validate(b.p, b.len, &h), 0);
    assert_int_equal(rb_validate_records(b.p, b.len, &h, MAX_OUT, false), 0);
    /* the first record's length varint says 63: past the end of the batch */
    uint8_t saved = b.p[61];
    b.p[61] = 0x7e;
    fix_crc(&b);
    assert_int_equal(rb_validate(b.p, b.len, &h), 0);
    assert_int_equal(rb_validate_records(b.p, b.len, &h, MAX_OUT, false), FERRY_EINVAL);
    /* the last record's header count: -5 */
    b.p[61] = saved;
    b.p[b.len - 1] = 0x09;
    fix_crc(&b);
    assert_int_equal(rb_validate(b.p, b.len, &h), 0);
    assert_int_equal(rb_validate_records(b.p, b.len, &h, MAX_OUT, false), FERRY_EINVAL);
    free(b.p);
    proto_writer_free(&w);
    /* gzip holding garbage records */
    static const uint8_t junk[] = {0x7e, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    b = make_batch(COMPRESSION_GZIP, junk, sizeof junk, 2, 1);
    assert_int_equal(rb_validate(b.p, b.len, &h), 0);
    assert_int_equal(rb_validate_records(b.p, b.len, &h, MAX_OUT, false), FERRY_EINVAL);
    free(b.p);
}

/* A compacted topic needs a key on every record (Kafka: INVALID_RECORD); a null value (tombstone) is fine.
 * Checked in every codec, since compressed records are only seen after decompression. */
static void test_compacted_topic_requires_keys(void **state)
{
    (void)state;
    const struct rec keyed[2] = {{.offset_delta = 0, .key = "k1", .value = "v1"},
                                 {.offset_delta = 1, .key = "k2", .value = NULL}};
    const struct rec keyless[2] = {{.offset_delta = 0, .key = "k1", .value = "v1"},
                                   {.offset_delta = 1, .key = NULL, .value = "v2"}};
    for (size_t c = 0; c < CODEC_COUNT; c++) {
        for (int which = 0; which < 2; which++) {
            const struct rec *recs = which ? keyless : keyed;
            struct proto_writer w;
            proto_writer_init(&w);
            put_record(&w, &recs[0]);
            put_record(&w, &recs[1]);
            struct blob b = make_batch(all_codecs[c], w.buf, w.len, 2, 1);
            struct rb_header h;
            assert_int_equal(rb_validate(b.p, b.len, &h), 0);
            assert_int_equal(rb_validate_records(b.p, b.len, &h, MAX_OUT, false), 0);
            assert_int_equal(rb_validate_records(b.p, b.len, &h, MAX_OUT, true), which ? FERRY_EINVAL : 0);
            free(b.p);
            proto_writer_free(&w);
        }
    }
}

/* ---- random damage with the CRC fixed: never a crash, only the documented answers ---- */

static void test_random_mutations(void **state)
{
    (void)state;
    struct blob r = region(20, -1, NULL, NULL);
    for (size_t c = 0; c < CODEC_COUNT; c++) {
        struct blob good = make_batch(all_codecs[c], r.p, r.len, 20, 19);
        struct blob b = {malloc(good.len), good.len};
        assert_non_null(b.p);
        int seen_ok = 0, seen_bad = 0;
        for (int round = 0; round < 1500; round++) {
            memcpy(b.p, good.p, good.len);
            int flips = 1 + (int)(rng() % 4);
            for (int f = 0; f < flips; f++) {
                size_t at = RB_HEADER_SIZE + (size_t)(rng() % (good.len - RB_HEADER_SIZE));
                b.p[at] = (uint8_t)(round % 3 == 0 ? rng() : b.p[at] ^ (1u << (rng() % 8)));
            }
            fix_crc(&b);
            int rc = validate(&b, 1 << 20);
            assert_true(rc == 0 || rc == FERRY_EINVAL || rc == FERRY_ECORRUPT || rc == FERRY_ETOOBIG);
            seen_ok += rc == 0;
            seen_bad += rc != 0;
        }
        assert_true(seen_bad > 0);
        (void)seen_ok;
        free(b.p);
        free(good.p);
    }
    free(r.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_batches),
        cmocka_unit_test(test_good_batches_every_codec),
        cmocka_unit_test(test_good_edge_records),
        cmocka_unit_test(test_broken_records),
        cmocka_unit_test(test_record_count_zero_and_negative),
        cmocka_unit_test(test_payload_does_not_decompress),
        cmocka_unit_test(test_unknown_codec),
        cmocka_unit_test(test_bomb_and_short_batch),
        cmocka_unit_test(test_allocation),
        cmocka_unit_test(test_pending_it_cases),
        cmocka_unit_test(test_random_mutations),
        cmocka_unit_test(test_compacted_topic_requires_keys),
    };
    return cmocka_run_group_tests(tests, load_snappy, NULL);
}
