/* libFuzzer target for record batches v2: the input is a records blob as it arrives in a Produce request
 * or sits in a log segment. It is validated as one batch (rb_validate), walked batch by batch (rb_iter),
 * each whole batch validated, and the records of every valid uncompressed batch read (rb_read_record) and
 * their headers walked; every valid batch also goes through rb_validate_records (decompressing compressed
 * ones into at most 1 MiB), which must agree with rb_read_record on uncompressed ones; batches that fail
 * only their CRC are retried with the CRC fixed, so that mutations reach the record parser and the
 * decompressors. CRC-32C is also cross-checked between the accelerated and portable code.
 * Any crash, sanitizer report, leak or abort() is a bug. See README.md in this folder. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Returns whether every declared record of an uncompressed batch was read. */
static int read_records(const uint8_t *batch, size_t len, const struct rb_header *h)
{
    if (h->attributes & RB_ATTR_COMPRESSION_MASK)
        return 0;
    struct proto_reader r;
    proto_reader_init(&r, batch + RB_HEADER_SIZE, len - RB_HEADER_SIZE);
    for (int32_t i = 0; i < h->record_count; i++) {
        struct rb_record rec;
        int rc = rb_read_record(&r, &rec);
        FUZZ_CHECK(rc == 0 || rc == FERRY_EPARSE);
        if (rc)
            return 0;
        FUZZ_CHECK(rec.key.len >= -1 && rec.value.len >= -1 && rec.header_count >= 0);
        FUZZ_CHECK(rec.key.len <= 0 || (rec.key.p >= batch && rec.key.p + rec.key.len <= batch + len));
        FUZZ_CHECK(rec.value.len <= 0 || (rec.value.p >= batch && rec.value.p + rec.value.len <= batch + len));
        FUZZ_CHECK(rec.headers >= batch && rec.headers + rec.headers_len <= batch + len);
        walk_headers(&rec);
    }
    return 1;
}

/* The record-by-record check of a produced batch; records it accepts, rb_read_record reads. */
static void read_and_check_records(const uint8_t *batch, size_t len, const struct rb_header *h)
{
    int all_read = read_records(batch, len, h);
    int rc = rb_validate_records(batch, len, h, 1 << 20, (len & 1) != 0);
    FUZZ_CHECK(rc == 0 || rc == FERRY_EINVAL || rc == FERRY_ECORRUPT || rc == FERRY_EUNSUPPORTED ||
               rc == FERRY_ETOOBIG);
    FUZZ_CHECK(rc != 0 || (h->attributes & RB_ATTR_COMPRESSION_MASK) || all_read);
}

/* Validates one batch; a batch that fails only its CRC is also retried with the CRC fixed up, so that
 * mutated inputs get past the checksum to the record parser. */
static void validate_and_read(const uint8_t *batch, size_t len)
{
    struct rb_header h;
    int rc = rb_validate(batch, len, &h);
    FUZZ_CHECK(rc == 0 || rc == FERRY_EPARSE || rc == FERRY_ECORRUPT || rc == FERRY_EUNSUPPORTED);
    if (rc == 0) {
        FUZZ_CHECK(h.magic == 2 && (size_t)h.batch_length + RB_LOG_OVERHEAD == len);
        FUZZ_CHECK(h.crc == rb_compute_crc(batch, len));
        read_and_check_records(batch, len, &h);
        return;
    }
    if (rc != FERRY_ECORRUPT)
        return;
    uint8_t *copy = malloc(len);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, batch, len);
    proto_put_be32(copy + 17, rb_compute_crc(copy, len));
    rc = rb_validate(copy, len, &h);
    FUZZ_CHECK(rc == 0 || rc == FERRY_EPARSE); /* only the lastOffsetDelta check is left to fail */
    if (rc == 0)
        read_and_check_records(copy, len, &h);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FUZZ_CHECK(crc32c(0, data, size) == crc32c_sw(0, data, size));

    validate_and_read(data, size);

    struct rb_header h;
    int rc;
    struct rb_iter it;
    rb_iter_init(&it, data, size);
    const uint8_t *batch;
    size_t batch_len;
    size_t seen = 0;
    while ((rc = rb_iter_next(&it, &batch, &batch_len, &h)) == 1) {
        FUZZ_CHECK(batch == data + seen && batch_len >= RB_HEADER_SIZE && seen + batch_len <= size);
        seen += batch_len;
        validate_and_read(batch, batch_len);
    }
    FUZZ_CHECK(rc == 0 || rc == FERRY_EPARSE);
    if (rc == 0)
        FUZZ_CHECK(it.partial_tail == (seen < size));
    return 0;
}
