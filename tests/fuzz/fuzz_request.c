/* libFuzzer target for the request path of the Kafka codec. The input is one request frame without its
 * int32 size prefix, as the network layer hands it over: the header is read with
 * proto_read_request_header, the body decoded with proto_decode into an arena. A decoded message is then
 * encoded, decoded again and re-encoded: the two encodings must be identical (round-trip stability). The
 * same body is also decoded as the response of that (api, version), to reach the response tables.
 * Any crash, sanitizer report, leak or abort() is a bug. See README.md in this folder. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/common/ferry_err.h"
#include "proto_codec.h"
#include "proto_header.h"

#define FUZZ_CHECK(cond)                                                                                    \
    do {                                                                                                    \
        if (!(cond)) {                                                                                      \
            fprintf(stderr, "fuzz_request: check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);        \
            abort();                                                                                        \
        }                                                                                                   \
    } while (0)

/* Decodes body as m at version; if that works, checks encode(decode(encode(x))) == encode(x). */
static void decode_and_roundtrip(const struct proto_message *m, int16_t version, const uint8_t *body, size_t len)
{
    struct proto_arena a;
    proto_arena_init(&a);
    void *msg = proto_arena_alloc(&a, m->body->size);
    FUZZ_CHECK(msg != NULL);
    struct proto_reader r;
    proto_reader_init(&r, body, len);
    int rc = proto_decode(m, version, &r, &a, msg);
    FUZZ_CHECK(rc == 0 || rc == FERRY_EPARSE || rc == FERRY_ENOMEM);
    FUZZ_CHECK(r.pos <= len);
    if (rc == 0) {
        struct proto_writer w1, w2;
        proto_writer_init(&w1);
        proto_writer_init(&w2);
        FUZZ_CHECK(proto_encode(m, version, &w1, msg) == 0);
        void *back = proto_arena_alloc(&a, m->body->size);
        FUZZ_CHECK(back != NULL);
        struct proto_reader r2;
        proto_reader_init(&r2, w1.buf, w1.len);
        rc = proto_decode(m, version, &r2, &a, back);
        if (rc != 0)
            fprintf(stderr, "fuzz_request: %s v%d: re-decode of our own encoding failed (%d) at %zu of %zu\n",
                    m->name, version, rc, r2.pos, w1.len);
        FUZZ_CHECK(rc == 0);
        FUZZ_CHECK(proto_reader_left(&r2) == 0);
        FUZZ_CHECK(proto_encode(m, version, &w2, back) == 0);
        bool same = w1.len == w2.len && (w1.len == 0 || memcmp(w1.buf, w2.buf, w1.len) == 0);
        if (!same)
            fprintf(stderr, "fuzz_request: %s v%d: encodings differ (%zu vs %zu bytes)\n", m->name, version,
                    w1.len, w2.len);
        FUZZ_CHECK(same);
        proto_writer_free(&w1);
        proto_writer_free(&w2);
    }
    proto_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_reader r;
    proto_reader_init(&r, data, size);
    struct proto_request_header h;
    int rc = proto_read_request_header(&r, &h);
    FUZZ_CHECK(rc == 0 || rc == FERRY_EPARSE || rc == FERRY_EUNSUPPORTED);
    if (rc != 0)
        return 0;
    const struct proto_message *req = proto_find(PROTO_KIND_REQUEST, h.api_key);
    FUZZ_CHECK(req != NULL); /* the header reader only succeeds for known keys */
    FUZZ_CHECK(h.api_version >= req->min_version && h.api_version <= req->max_version);
    const uint8_t *body = data + r.pos;
    size_t len = size - r.pos;

    /* the header we would write for this request reads back the same */
    struct proto_writer w;
    proto_writer_init(&w);
    proto_write_request_header(&w, &h);
    FUZZ_CHECK(w.err == 0);
    struct proto_reader hr;
    proto_reader_init(&hr, w.buf, w.len);
    struct proto_request_header h2;
    FUZZ_CHECK(proto_read_request_header(&hr, &h2) == 0);
    FUZZ_CHECK(proto_reader_left(&hr) == 0);
    FUZZ_CHECK(h2.api_key == h.api_key && h2.api_version == h.api_version &&
               h2.correlation_id == h.correlation_id && h2.client_id.len == h.client_id.len);
    FUZZ_CHECK(h.client_id.len <= 0 || memcmp(h2.client_id.p, h.client_id.p, (size_t)h.client_id.len) == 0);
    proto_writer_free(&w);

    decode_and_roundtrip(req, h.api_version, body, len);
    const struct proto_message *resp = proto_find(PROTO_KIND_RESPONSE, h.api_key);
    if (resp && h.api_version >= resp->min_version && h.api_version <= resp->max_version)
        decode_and_roundtrip(resp, h.api_version, body, len);
    return 0;
}
