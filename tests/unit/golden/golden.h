/* golden.h: the types of the generated golden data (golden_vectors.inc, record_batches.inc), shared by
 * test_proto_golden.c and test_proto_batch.c. The data itself is written by scripts/gen-golden.py from
 * kafka-python 2.0.2 and an independent encoder; see that script for where each byte comes from. */
#ifndef FERRY_TESTS_GOLDEN_H
#define FERRY_TESTS_GOLDEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { GOLDEN_REQUEST = 0, GOLDEN_RESPONSE = 1 };

/* One request or response frame: header + body, without the int32 size prefix. */
struct golden_vector {
    const char *name;
    int16_t api_key;
    int16_t version;
    int kind;                /* GOLDEN_REQUEST or GOLDEN_RESPONSE */
    int32_t correlation_id;
    const char *client_id;   /* requests only; NULL: a null client id */
    size_t header_len;       /* the body starts here */
    const uint8_t *bytes;
    size_t len;
    bool exact;              /* re-encoding must give the same bytes (false: carries unknown tagged fields) */
};

/* One record header of a golden batch; key NULL ends a list. */
struct golden_header {
    const char *key;
    const uint8_t *value; /* NULL with value_len -1: a null value */
    int32_t value_len;
};

struct golden_record {
    int64_t timestamp_delta;
    int32_t offset_delta;
    const uint8_t *key;
    int32_t key_len; /* -1: null */
    const uint8_t *value;
    int32_t value_len; /* -1: null */
    int32_t header_count;
    int32_t first_header; /* index into the batch's header list */
};

/* A record batch (magic 2) built by kafka-python's DefaultRecordBatchBuilder, and what it holds. */
struct golden_batch {
    const char *name;
    const uint8_t *bytes;
    size_t len;
    int16_t attributes;
    int32_t record_count;
    int64_t base_offset;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int64_t base_timestamp;
    int64_t max_timestamp;
    const struct golden_record *records;
    const struct golden_header *headers;
};

/* CRC-32C of a deterministic buffer (see crc_buffer in gen-golden.py), computed by kafka-python. */
struct golden_crc {
    size_t len;
    int seed;
    uint32_t crc;
};

/* The generator's crc_buffer(n, seed). */
static inline void golden_crc_buffer(uint8_t *p, size_t n, int seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((i * 31 + (size_t)seed * 7 + (i >> 3)) & 0xff);
}

#endif
