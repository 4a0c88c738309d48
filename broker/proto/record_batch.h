/* record_batch: Kafka record batch v2 (magic 2): header parsing and validation, CRC-32C, walking the
 * batches of a records blob and the records of an uncompressed batch, and building batches (used by the
 * metadata log and tests), and checking every record of a batch before it is accepted (rb_validate_records,
 * the one place that decompresses, through compression.h: offsets and counts still come from the header,
 * and the blob is stored and served as received). */
#ifndef FERRY_RECORD_BATCH_H
#define FERRY_RECORD_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto_buf.h"

#define RB_HEADER_SIZE 61  /* bytes from baseOffset through recordCount */
#define RB_LOG_OVERHEAD 12 /* baseOffset + batchLength: batch size = batchLength + 12 */
#define RB_CRC_START 21    /* the CRC covers [21, end) */

#define RB_ATTR_COMPRESSION_MASK 0x07
#define RB_ATTR_LOG_APPEND_TIME 0x08
#define RB_ATTR_TRANSACTIONAL 0x10
#define RB_ATTR_CONTROL 0x20

struct rb_header {
    int64_t base_offset;
    int32_t batch_length;
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
};

/* Decodes the 61-byte header at p (len bytes available). FERRY_EPARSE if len < 61. No checks. */
int rb_parse_header(const uint8_t *p, size_t len, struct rb_header *h);

/* Checks one whole batch of exactly len bytes: magic 2, batchLength + 12 == len, a non-negative record
 * count consistent with lastOffsetDelta for uncompressed batches, and the CRC. Returns 0,
 * FERRY_EUNSUPPORTED (magic 0/1), FERRY_ECORRUPT (bad CRC) or FERRY_EPARSE (bad framing). */
int rb_validate(const uint8_t *p, size_t len, struct rb_header *h);

uint32_t rb_compute_crc(const uint8_t *batch, size_t len);
/* Rewrites fields the CRC does not cover. */
void rb_set_base_offset(uint8_t *batch, int64_t base_offset);
void rb_set_leader_epoch(uint8_t *batch, int32_t epoch);
/* Sets LogAppendTime on a batch (attributes bit 3, maxTimestamp) and recomputes its CRC. */
void rb_set_log_append_time(uint8_t *batch, size_t len, int64_t ts);

/* Walks consecutive batches in a blob. rb_iter_next returns 1 with the next whole batch, 0 at the end
 * (a trailing partial batch is reported through `partial_tail`), or FERRY_EPARSE if a header is garbage
 * (batchLength < 49). */
struct rb_iter {
    const uint8_t *p;
    size_t len;
    size_t pos;
    bool partial_tail;
};
void rb_iter_init(struct rb_iter *it, const uint8_t *p, size_t len);
int rb_iter_next(struct rb_iter *it, const uint8_t **batch, size_t *batch_len, struct rb_header *h);

/* One record of an uncompressed batch; key/value/headers point into the batch. */
struct rb_record {
    int8_t attributes;
    int64_t timestamp_delta;
    int32_t offset_delta;
    proto_bytes key;   /* len -1: null */
    proto_bytes value; /* len -1: null */
    int32_t header_count;
    const uint8_t *headers; /* raw encoded headers */
    size_t headers_len;
};
/* Reads the records region of an uncompressed batch (the bytes after the 61-byte header). */
int rb_read_record(struct proto_reader *r, struct rb_record *rec);

/* Walks every record of one v2 batch that rb_validate accepted (decompressing it first when its codec is
 * 1-4, into at most max_decompressed bytes), with Kafka's rules for a batch a client produces
 * (LogValidator, DefaultRecordBatch, DefaultRecord):
 * - recordCount >= 1 and lastOffsetDelta == recordCount - 1;
 * - exactly recordCount records and no byte after the last one;
 * - each record's length is within the bytes left and its fields fill it exactly: attributes 0, offset
 *   delta i for the i-th record, key and value length >= -1 and within the record, header count >= 0,
 *   every header key length >= 0 and value length >= -1, both within the record;
 * - with require_keys (a compacted topic), every record has a key (Kafka: INVALID_RECORD).
 * Two rules are stricter than Kafka's: record attributes must be 0 (Kafka ignores them), and offset deltas
 * must run 0..n-1 (Kafka ignores them in uncompressed batches and rewrites compressed ones; Ferry stores
 * the batch as received, so consumers would see the wrong offsets).
 * Returns:
 *   0;
 *   FERRY_EINVAL        a record or the record count is wrong (Kafka: InvalidRecordException,
 *                       INVALID_RECORD);
 *   FERRY_ECORRUPT      the compressed payload does not decompress, or the batch is shorter than a header
 *                       (CORRUPT_MESSAGE);
 *   FERRY_EUNSUPPORTED  codec 5-7;
 *   FERRY_ETOOBIG       the payload decompresses to more than max_decompressed bytes;
 *   FERRY_ENOMEM.
 * Uncompressed batches are walked in place, without allocating. */
int rb_validate_records(const uint8_t *batch, size_t len, const struct rb_header *h, size_t max_decompressed,
                        bool require_keys);

/* Builds one uncompressed batch into a writer. */
struct rb_builder {
    struct proto_writer *w;
    size_t start;
    int32_t count;
    int64_t base_timestamp;
    int64_t max_timestamp;
};
void rb_builder_begin(struct rb_builder *b, struct proto_writer *w, int64_t base_offset, int32_t leader_epoch,
                      int16_t attributes, int64_t base_timestamp);
void rb_builder_add(struct rb_builder *b, int64_t timestamp, proto_bytes key, proto_bytes value);
/* Fills in length, count, lastOffsetDelta and CRC; returns the writer's error (0 or FERRY_ENOMEM). */
int rb_builder_finish(struct rb_builder *b);

#endif
