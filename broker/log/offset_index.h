/* offset_index: a segment's `.index` (internal): big-endian (i32 offset - base, i32 position) entries,
 * offsets strictly increasing, positions non-decreasing. Kafka's semantics: an entry maps the last offset
 * of a batch to the byte position where that batch starts; a lookup returns the largest entry whose
 * offset is <= the target (or (base, 0)) and the caller scans the log forward from there. */
#ifndef FERRY_LOG_OFFSET_INDEX_H
#define FERRY_LOG_OFFSET_INDEX_H

#include "index_file.h"

#define LOG_OINDEX_ENTRY_SIZE 8

struct log_oindex_entry {
    int64_t offset; /* absolute */
    uint32_t position;
};

struct log_oindex {
    struct log_idxfile f;
    struct log_oindex_entry last; /* (base, 0) when empty */
};

/* Opens or creates. `*suspect` is set if the file length is not a multiple of 8. Takes `path`. */
int log_oindex_open(struct log_oindex *ix, char *path, int64_t base_offset, int32_t index_bytes, bool *suspect);
void log_oindex_close(struct log_oindex *ix);
/* Checks every entry (offsets increasing, non-negative, positions non-decreasing and < log_size) and
 * loads the last one. FERRY_ECORRUPT if the index must be rebuilt. */
int log_oindex_check(struct log_oindex *ix, uint64_t log_size);
int log_oindex_append(struct log_oindex *ix, int64_t offset, uint32_t position);
int log_oindex_lookup(const struct log_oindex *ix, int64_t target, struct log_oindex_entry *out);
/* Drops the entries whose offset is >= offset. */
int log_oindex_truncate_to(struct log_oindex *ix, int64_t offset);
int log_oindex_reset(struct log_oindex *ix);
static inline bool log_oindex_full(const struct log_oindex *ix) { return ix->f.entries >= ix->f.max_entries; }

#endif
