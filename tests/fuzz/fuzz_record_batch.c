/* libFuzzer target for record batches v2: the input is a records blob as it arrives in a Produce request
 * or sits in a log segment. It is validated as one batch (rb_validate), walked batch by batch (rb_iter),
 * each whole batch validated, and the records of every valid uncompressed batch read (rb_read_record) and
 * their headers walked. CRC-32C is also cross-checked between the accelerated and portable code.
 * Any crash, sanitizer report, leak or abort() is a bug. See README.md in this folder. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "broker/common/ferry_err.h"
#include "crc32c.h"
#include "record_batch.h"

#define FUZZ_CHECK(cond)                                                                                    \
    do {                                                                                                    \
        if (!(cond)) {                                                                                      \
            fprintf(stderr, "fuzz_record_batch: check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);   \
            abort();                                                                                        \
        }                                                                                                   \
    } while (0)

/* Walks the raw headers of a record the way a consumer of rb_record would. */
static void walk_headers(const struct rb_record *rec)
{
    struct proto_reader r;
    proto_reader_init(&r, rec->headers, rec->headers_len);
    for (int32_t i = 0; i < rec->header_count && !r.err; i++) {
        int32_t klen = proto_read_varint(&r);
        if (klen < 0 || !proto_read_raw(&r, (size_t)klen))
            break;
        int32_t vlen = proto_read_varint(&r);
        if (vlen >= 0)
            (void)proto_read_raw(&r, (size_t)vlen);
    }
}

static void read_records(const uint8_t *batch, size_t len, const struct rb_header *h)
{
    if (h->attributes & RB_ATTR_COMPRESSION_MASK)
        return;
    struct proto_reader r;
    proto_reader_init(&r, batch + RB_HEADER_SIZE, len - RB_HEADER_SIZE);
    for (int32_t i = 0; i < h->record_count; i++) {
        struct rb_record rec;
        int rc = rb_read_record(&r, &rec);
        FUZZ_CHECK(rc == 0 || rc == FERRY_EPARSE);
        if (rc)
            break;
        FUZZ_CHECK(rec.key.len >= -1 && rec.value.len >= -1 && rec.header_count >= 0);
        FUZZ_CHECK(rec.key.len <= 0 || (rec.key.p >= batch && rec.key.p + rec.key.len <= batch + len));
        FUZZ_CHECK(rec.value.len <= 0 || (rec.value.p >= batch && rec.value.p + rec.value.len <= batch + len));
        FUZZ_CHECK(rec.headers >= batch && rec.headers + rec.headers_len <= batch + len);
        walk_headers(&rec);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FUZZ_CHECK(crc32c(0, data, size) == crc32c_sw(0, data, size));

    struct rb_header h;
    int rc = rb_validate(data, size, &h);
    FUZZ_CHECK(rc == 0 || rc == FERRY_EPARSE || rc == FERRY_ECORRUPT || rc == FERRY_EUNSUPPORTED);
    if (rc == 0) {
        FUZZ_CHECK(h.magic == 2 && (size_t)h.batch_length + RB_LOG_OVERHEAD == size);
        read_records(data, size, &h);
    }

    struct rb_iter it;
    rb_iter_init(&it, data, size);
    const uint8_t *batch;
    size_t batch_len;
    size_t seen = 0;
    while ((rc = rb_iter_next(&it, &batch, &batch_len, &h)) == 1) {
        FUZZ_CHECK(batch == data + seen && batch_len >= RB_HEADER_SIZE && seen + batch_len <= size);
        seen += batch_len;
        struct rb_header vh;
        if (rb_validate(batch, batch_len, &vh) == 0)
            read_records(batch, batch_len, &vh);
    }
    FUZZ_CHECK(rc == 0 || rc == FERRY_EPARSE);
    if (rc == 0)
        FUZZ_CHECK(it.partial_tail == (seen < size));
    return 0;
}
