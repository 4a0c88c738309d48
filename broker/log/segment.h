/* segment: one log segment (internal): `<base>.log` plus its `.index` and `.timeindex`. The segment owns
 * its three files (log_file.h: descriptors opened on demand under the process-wide budget, closed when
 * least recently used) and their paths; the partition log (plog) owns the segments. Everything runs on the
 * loop thread, except a segment made by log_segment_create_suffixed, whose files stay open outside the
 * budget (and may be used by the thread that made it) until log_segment_manage.
 *
 * In memory a segment keeps only what appends and roll/retention decisions need: size, next offset, the
 * largest timestamp and its offset, the timestamp that drives segment.ms, and the last index entries. */
#ifndef FERRY_LOG_SEGMENT_H
#define FERRY_LOG_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/proto/record_batch.h"
#include "log_file.h"
#include "offset_index.h"
#include "time_index.h"

struct log_segment {
    int64_t base_offset;
    char *stem;              /* "<dir>/<20-digit base offset>", owned */
    const char *suffix;      /* "" or ".deleted": appended to every file name */
    struct log_file log;     /* the .log */
    uint32_t size;           /* bytes of data in the .log */
    uint64_t disk_size;      /* file size found by log_segment_open */
    int64_t next_offset;     /* last offset of the last batch + 1; base_offset when empty */
    int64_t max_ts;          /* largest batch maxTimestamp, -1 if none */
    int64_t max_ts_offset;   /* last offset of the batch holding it */
    int64_t rolling_ts;      /* maxTimestamp of the first append (segment.ms), -1 if none */
    int64_t created_ms;      /* when this process created or loaded it */
    uint32_t last_index_pos; /* position of the batch of the last offset-index entry (0 if none) */
    struct log_oindex oidx;
    struct log_tindex tidx;
};

/* The .log's descriptor, reopened if needed (log_file_fd: use it at once, -1 after a logged error). A const
 * segment may reopen: the descriptor cache is not part of its value. */
static inline int log_segment_fd(const struct log_segment *s) { return log_file_fd((struct log_file *)&s->log); }

/* Creates a new empty segment (the .log must not exist or be empty; stale index files are emptied). */
int log_segment_create(const char *dir, int64_t base_offset, int32_t index_bytes, int64_t now_ms,
                       struct log_segment **out);
/* The same with every file named `<stem>.<ext><suffix>` (log compaction's ".cleaned"; `suffix` must be a
 * string literal), its files unmanaged (open outside the budget until log_segment_manage). Thread-safe:
 * the cleaner's worker uses it for its own files. */
int log_segment_create_suffixed(const char *dir, int64_t base_offset, const char *suffix, int32_t index_bytes,
                                int64_t now_ms, struct log_segment **out);
/* Opens an existing segment as found on disk: size from the file, indexes opened or created.
 * `*index_suspect` is set when an index file was missing or has a partial entry. Nothing is validated:
 * see log_segment_load / log_segment_recover. */
int log_segment_open(const char *dir, int64_t base_offset, int32_t index_bytes, int64_t now_ms,
                     struct log_segment **out, bool *index_suspect);
void log_segment_close(struct log_segment *s);
/* Puts the files of a segment made by log_segment_create_suffixed under the budget (loop thread). */
void log_segment_manage(struct log_segment *s);
/* log_file_park for the three files of a segment made by log_segment_create_suffixed. */
void log_segment_park_files(struct log_segment *s);
/* Closes the segment's descriptors (it went inactive); the next use reopens them. */
void log_segment_release_files(struct log_segment *s);

/* For a segment trusted as clean: checks both indexes entry by entry and scans the tail after the last
 * index entry to find the next offset and the largest timestamp. FERRY_ECORRUPT means the segment must be
 * recovered (bad index or a tail that does not parse). */
int log_segment_load(struct log_segment *s);

/* Kafka's LogSegment.recover: reads every batch from the start (framing, magic 2, CRC, base offsets
 * increasing and >= the segment base, offsets that fit the index), rebuilds both indexes and calls
 * on_batch for each valid batch. Stops at the first bad batch; the bytes from there are copied to a
 * `.log.corrupt` side file and cut off. Returns the number of bytes cut (>= 0) or an error. */
typedef void (*log_segment_batch_fn)(void *arg, const struct rb_header *h);
int64_t log_segment_recover(struct log_segment *s, int32_t index_interval, log_segment_batch_fn on_batch, void *arg);

/* Moves the whole .log aside to a `.log.corrupt` side file and deletes the indexes (used for segments
 * after a corruption point). The segment is closed and freed. */
int log_segment_move_aside(struct log_segment *s);

/* Appends whole batches (offsets already final) with one pwrite, then updates the indexes batch by batch.
 * On failure the file and indexes are restored to their previous length. */
int log_segment_append(struct log_segment *s, const uint8_t *data, size_t len, int32_t index_interval);

/* Finds the first batch whose last offset is >= target: 1 with its position and header, 0 if the segment
 * holds no such batch, or FERRY_ECORRUPT/FERRY_EIO. */
int log_segment_find(const struct log_segment *s, int64_t target, uint32_t *pos, struct rb_header *h);

/* Reads the batch header at pos with framing checks: 0, FERRY_ERANGE at the end of the data, or
 * FERRY_ECORRUPT. */
int log_segment_header_at(const struct log_segment *s, uint32_t pos, struct rb_header *h);

/* First record at or after `min_offset` with timestamp >= ts (Kafka's findOffsetByTimestamp): 1 found,
 * 0 none, <0 error. */
int log_segment_find_timestamp(const struct log_segment *s, int64_t ts, int64_t min_offset, int64_t *offset,
                               int64_t *timestamp);

/* Cuts everything from the batch containing `offset` on (Kafka's LogSegment.truncateTo). */
int log_segment_truncate_to(struct log_segment *s, int64_t offset, int64_t now_ms);

/* The segment stops being active: appends the final time index entry (max timestamp so far) and writes
 * out the indexes' in-memory tails. */
int log_segment_seal(struct log_segment *s);
/* Writes out the indexes' in-memory tails (no fsync). */
int log_segment_write_out_indexes(struct log_segment *s);

/* Largest timestamp for retention: max_ts if >= 0, else the file's mtime in ms. */
int64_t log_segment_largest_timestamp(const struct log_segment *s);

/* Renames every file of the segment by appending `suffix` (".deleted"). */
int log_segment_add_suffix(struct log_segment *s, const char *suffix);
/* Unlinks every file `<stem>.{log,index,timeindex,txnindex}<suffix>`. */
void log_segment_unlink_files(const char *stem, const char *suffix);
/* "<stem>.log<suffix>" (ferry_malloc'd). */
char *log_segment_log_path(const struct log_segment *s);

#endif
