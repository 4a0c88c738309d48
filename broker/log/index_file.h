/* index_file: the fixed-size-entry file under both segment indexes (internal). Entries live on disk
 * (pread for lookups, through a log_file: the descriptor may be closed by the open-file budget and
 * reopened on demand); appends gather in a small in-memory tail written out with one pwrite when it
 * fills, and on log_idxfile_write_out (roll, flush, close). The file is sized to its entries, never
 * preallocated. A crash can lose the unwritten tail: the index is then sparser, still valid (every open
 * validates indexes). The typed layers are offset_index.h and time_index.h. */
#ifndef FERRY_LOG_INDEX_FILE_H
#define FERRY_LOG_INDEX_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log_file.h"

struct log_idxfile {
    struct log_file file; /* opened unmanaged; the segment puts it under the budget */
    int64_t base_offset; /* of the segment: entries hold offsets relative to it */
    size_t entry_size;   /* 8 or 12 */
    int32_t entries;     /* including the unwritten tail */
    int32_t max_entries; /* segment.index.bytes / entry_size */
    int32_t written;     /* entries on disk */
    uint8_t *tail;       /* entries [written, entries), LOG_IDXFILE_TAIL of them at most */
};

#define LOG_IDXFILE_TAIL 64

/* Opens or creates `path` (takes ownership of path, freed on failure too), unmanaged (log_file.h). `*trailing` is set when the
 * file size is not a multiple of entry_size (the extra bytes are ignored by `entries`). */
int log_idxfile_open(struct log_idxfile *f, char *path, int64_t base_offset, size_t entry_size,
                     int32_t max_entries, bool *trailing);
/* Writes out the tail if the descriptor is open (a closed one is not reopened: every path that keeps the
 * index seals or flushes it first), then closes. */
void log_idxfile_close(struct log_idxfile *f);
/* Reads entry i (0 <= i < entries) into buf (entry_size bytes). */
int log_idxfile_read(const struct log_idxfile *f, int32_t i, uint8_t *buf);
int log_idxfile_append(struct log_idxfile *f, const uint8_t *buf);
/* Writes the in-memory tail to the file. */
int log_idxfile_write_out(struct log_idxfile *f);
/* Keeps the first n entries (ftruncate). */
int log_idxfile_truncate(struct log_idxfile *f, int32_t n);
/* Walks every entry through fn in chunks; stops at the first nonzero return, which it returns. */
int log_idxfile_scan(struct log_idxfile *f, int (*fn)(void *arg, int32_t i, const uint8_t *e), void *arg);

#endif
