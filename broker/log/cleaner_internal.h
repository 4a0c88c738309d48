/* cleaner_internal: the pieces of the cleaner (internal): the key -> latest offset map, the producer
 * -> last batch map, and the batch filter that rewrites one batch. See cleaner.h. */
#ifndef FERRY_LOG_CLEANER_INTERNAL_H
#define FERRY_LOG_CLEANER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/proto/proto_buf.h"
#include "broker/proto/record_batch.h"

/* Open-addressing hash map from a byte string (copied) to an offset. */
struct clean_map_entry {
    uint64_t hash;
    uint8_t *key; /* NULL: free slot */
    size_t klen;
    int64_t offset;
};
struct clean_map {
    struct clean_map_entry *slots;
    size_t cap, n;
};
void clean_map_init(struct clean_map *m);
void clean_map_free(struct clean_map *m);
/* Sets key -> offset when offset is larger than what the map holds (or the key is new). */
int clean_map_put(struct clean_map *m, const uint8_t *key, size_t klen, int64_t offset);
/* The offset for key, -1 if absent. */
int64_t clean_map_get(const struct clean_map *m, const uint8_t *key, size_t klen);

#define CLEAN_ATTR_DELETE_HORIZON 0x40 /* batch attributes bit 6 (KIP-534) */

struct clean_filter {
    const struct clean_map *keys;      /* key -> latest offset in the dirty section */
    const struct clean_map *producers; /* producer id (8 bytes) -> base offset of its last batch */
    int64_t now_ms;
    int64_t delete_retention_ms;
    int64_t min_horizon;               /* out: earliest delete horizon written, INT64_MAX none */
    int64_t records_kept, records_dropped;
};

/* A segment read batch by batch (cleaner_read.c); the batch returned stays valid until the next call. */
struct clean_reader {
    int fd;
    uint64_t size;    /* bytes of the segment */
    uint64_t pos;     /* file position of the next batch */
    uint8_t *buf;
    size_t cap, len;  /* buf holds file bytes [buf_pos, buf_pos + len) */
    uint64_t buf_pos;
};
void clean_reader_init(struct clean_reader *r, int fd, uint32_t size);
/* 1 with the next whole, checked batch; 0 at the end; FERRY_ECORRUPT (bad framing, partial or failing
 * batch), FERRY_EIO, FERRY_ENOMEM. */
int clean_reader_next(struct clean_reader *r, const uint8_t **batch, size_t *len, struct rb_header *h);
void clean_reader_free(struct clean_reader *r);

/* Most bytes a compressed batch may decompress to in the cleaner. */
#define CLEAN_MAX_DECOMPRESSED (256u << 20)

/* The records region of a batch: in place for an uncompressed batch, else decompressed into `*owned`
 * (ferry_free it once the records are no longer used). FERRY_ECORRUPT/ETOOBIG/EUNSUPPORTED/ENOMEM. */
int clean_batch_records(const uint8_t *batch, size_t len, const struct rb_header *h, const uint8_t **recs,
                        size_t *recs_len, uint8_t **owned);

/* Walks the record_count records of a records region; fn returns <0 to stop. The records point into
 * `recs`. */
typedef int (*clean_record_fn)(void *arg, int64_t offset, const struct rb_record *rec);
int clean_for_each_record(const struct rb_header *h, const uint8_t *recs, size_t recs_len, clean_record_fn fn,
                          void *arg);

/* Appends to `out` what the cleaned log keeps of one valid batch (the batch itself, rewritten runs, an
 * empty batch or nothing). `*next_offset` is set past the last offset written (unchanged if nothing). */
int clean_filter_batch(struct clean_filter *f, const uint8_t *batch, size_t len, const struct rb_header *h,
                       struct proto_writer *out, int64_t *next_offset);
/* Appends an empty batch covering [base, last] with the producer fields of h. */
void clean_write_empty_batch(struct proto_writer *out, const struct rb_header *h, int64_t base, int64_t last);

#endif
