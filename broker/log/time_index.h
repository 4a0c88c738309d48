/* time_index: a segment's `.timeindex` (internal): big-endian (i64 timestamp, i32 offset - base) entries.
 * Kafka's rules: an entry is appended only when the timestamp is larger than the last one's (the
 * segment's max timestamp grew), offsets never go back; a lookup returns the largest entry whose
 * timestamp is <= the target, or (-1, base). */
#ifndef FERRY_LOG_TIME_INDEX_H
#define FERRY_LOG_TIME_INDEX_H

#include "index_file.h"

#define LOG_TINDEX_ENTRY_SIZE 12

struct log_tindex_entry {
    int64_t timestamp;
    int64_t offset; /* absolute */
};

struct log_tindex {
    struct log_idxfile f;
    struct log_tindex_entry last; /* (-1, base) when empty */
};

int log_tindex_open(struct log_tindex *ix, char *path, int64_t base_offset, int32_t index_bytes, bool *suspect);
void log_tindex_close(struct log_tindex *ix);
/* Checks every entry (timestamps increasing, offsets non-decreasing and in [base, next_offset)) and loads
 * the last one. FERRY_ECORRUPT if the index must be rebuilt. */
int log_tindex_check(struct log_tindex *ix, int64_t next_offset);
/* Appends (timestamp, offset) if timestamp > last timestamp; with skip_full_check even when full (the
 * final entry written when a segment stops being active). */
int log_tindex_maybe_append(struct log_tindex *ix, int64_t timestamp, int64_t offset, bool skip_full_check);
int log_tindex_lookup(const struct log_tindex *ix, int64_t timestamp, struct log_tindex_entry *out);
/* Drops the entries whose offset is >= offset. */
int log_tindex_truncate_to(struct log_tindex *ix, int64_t offset);
int log_tindex_reset(struct log_tindex *ix);
static inline bool log_tindex_full(const struct log_tindex *ix) { return ix->f.entries >= ix->f.max_entries; }

#endif
