/* log: partition logs in Kafka's exact on-disk layout (Kafka 3.7), the storage under user topics and under
 * the `__cluster_metadata-0` Raft log.
 *
 * A `struct plog` is one partition directory `<log.dir>/<topic>-<partition>/`:
 *   00000000000000000000.log        v2 record batches exactly as appended (baseOffset and
 *                                   partitionLeaderEpoch rewritten by the leader path; the CRC does not
 *                                   cover them)
 *   00000000000000000000.index      sparse offset index: (i32 offset - base, i32 position), big-endian,
 *                                   one entry per `index.interval.bytes` of log
 *   00000000000000000000.timeindex  (i64 timestamp, i32 offset - base), appended only when the segment's
 *                                   max timestamp grows
 *   leader-epoch-checkpoint         "0\n<n>\n<epoch> <startOffset>\n..."
 *   partition.metadata              "version: 0\ntopic_id: <base64url uuid>\n"
 *   <segment>.log.corrupt           bytes cut off by crash recovery (never read back; see recovery below)
 * Index files are sized to their content (never preallocated), which Kafka reads as-is (it resizes the
 * active segment's indexes itself on load). Index entries gather in memory and reach the files in groups
 * (and at every roll, flush and close); they are never fsynced: every open validates the index files
 * entry by entry and rebuilds any that fail (or are missing) from the .log file, and lookups check the
 * batch an entry points at before trusting it.
 * The leader-epoch cache changes in memory on append/truncation; leader-epoch-checkpoint is written
 * (tmp + fsync + rename) by the next flush, before the recovery point moves past the new entries, so that
 * the file always covers everything below the recovery point (recovery re-derives epochs above it from the
 * batches). After plog_truncate_to, the owner should also rewrite the directory's recovery-point checkpoint
 * soon (logdir_checkpoint_*), as Kafka's LogManager does after truncation.
 *
 * Ownership and threads: a plog belongs to the event-loop thread; every function here except
 * plog_flush_run (and the pure helpers log_uuid_*) must be called on that thread. Nothing here fsyncs
 * except plog_flush_run, plog_flush_sync, plog_close and the start-up/shut-down paths (plog_open's
 * recovery). At most one flush may be in flight per log, and plog_close/plog_delete must not be called
 * while one is.
 *
 * Crash recovery (plog_open): without a clean shutdown, segments from the one holding the recovery point
 * onwards are read batch by batch (framing, magic 2, CRC, offsets increasing within the segment); every
 * other segment gets cheap checks (each index entry, the tail after the last index entry parses) and is
 * recovered the same way if they fail, or if an index file is missing. The log is truncated at the first bad batch: the bytes cut off are moved to
 * `<segment>.log.corrupt` (`.corrupt.1`, ... if that exists) and reported at LOG_ERROR with the path and
 * byte position; later segments are taken out of the log as Kafka does (it deletes them), but renamed to
 * `<segment>.log.corrupt` instead of being removed, so that no bytes are destroyed. Indexes of recovered
 * segments are rebuilt. No file content makes plog_open crash.
 *
 * Errors: 0 or a negative FERRY_E* (broker/common/ferry_err.h). FERRY_ERANGE maps to OFFSET_OUT_OF_RANGE,
 * FERRY_ETOOBIG to RECORD_LIST_TOO_LARGE / MESSAGE_TOO_LARGE, FERRY_EIO to KAFKA_STORAGE_ERROR. */
#ifndef FERRY_LOG_PLOG_H
#define FERRY_LOG_PLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/proto/proto_types.h"

/* ---- per-log configuration (Kafka topic config names) ------------------------------------------ */

struct plog_config {
    int64_t segment_bytes;        /* segment.bytes, default 1 GiB (1073741824) */
    int64_t segment_ms;           /* segment.ms, default 7 days */
    int64_t retention_ms;         /* retention.ms, default 7 days; -1 = unlimited */
    int64_t retention_bytes;      /* retention.bytes, default -1 = unlimited */
    int64_t flush_messages;       /* flush.messages, default INT64_MAX (never by count) */
    int64_t flush_ms;             /* flush.ms, default INT64_MAX (never by time) */
    int32_t index_interval_bytes; /* index.interval.bytes, default 4096 */
    int32_t segment_index_bytes;  /* segment.index.bytes, default 10 MiB: a segment rolls when its
                                     offset index (8 B/entry) or time index (12 B/entry) reaches it */
    int64_t file_delete_delay_ms; /* file.delete.delay.ms, default 60000; 0 = remove at once */
    /* cleanup.policy: `delete` (default) applies retention.ms/bytes; `compact` runs the cleaner
     * (broker/log/cleaner.h); both may be set. With `compact` alone time/size retention deletes nothing. */
    bool cleanup_delete;
    bool cleanup_compact;
    int64_t delete_retention_ms;      /* delete.retention.ms, default 1 day: how long tombstones stay */
    int64_t min_compaction_lag_ms;    /* min.compaction.lag.ms, default 0 */
    int64_t max_compaction_lag_ms;    /* max.compaction.lag.ms, default INT64_MAX */
    double min_cleanable_dirty_ratio; /* min.cleanable.dirty.ratio, default 0.5 */
};

/* Fills Kafka's defaults. */
void plog_config_default(struct plog_config *cfg);

/* ---- open / close --------------------------------------------------------------------------------- */

struct plog;

struct plog_open_opts {
    int64_t recovery_point;   /* from recovery-point-offset-checkpoint; 0 = recover every segment */
    int64_t log_start_offset; /* from log-start-offset-checkpoint; 0 = the first segment's base offset */
    bool clean_shutdown;      /* the log dir had a clean-shutdown marker: segments are trusted as Kafka
                                 does (only the cheap checks run) and the recovery point is the log end */
    const proto_uuid *topic_id; /* NULL: leave partition.metadata alone; else write it if absent, and
                                   fail with FERRY_EINVAL if it holds a different id */
    int64_t now_ms;           /* wall clock, for segment.ms of the active segment */
    bool has_high_watermark;  /* replication-offset-checkpoint had an entry for this log: */
    int64_t high_watermark;   /* its value (see plog_checkpoint_hw) */
    /* A worker thread creates a new log (logdir_new_log_*): the directory must not exist yet (else
     * FERRY_EEXIST: open it on the loop), no file descriptor stays open (plog_adopt_files puts the segment
     * files under the budget on the loop), and nothing is fsynced: partition.metadata is written by temp
     * file + rename without fsync and the log counts as not yet durably created (plog_created_durably)
     * until a filesystem sync (logdir_sync_*) or its first flush, which fsyncs partition.metadata, the
     * directory and the log directory's root. */
    bool off_loop;
};

/* Opens (creating `<log_dir>/<topic>-<partition>/` (mkdir -p) and an empty first segment if needed) and
 * recovers the partition log. Files it does not own (quorum-state, snapshots, producer-state snapshots) are
 * left alone; `*.deleted` and interrupted temp files of its own are removed. `opts` may be NULL: recovery point 0, no clean shutdown, now = CLOCK_REALTIME.
 * Blocking (reads every segment it recovers): call at start-up or for a new partition. */
int plog_open(const char *log_dir, const char *topic, int32_t partition, const struct plog_config *cfg,
              const struct plog_open_opts *opts, struct plog **out);

/* Loop thread, once, for a log opened with opts.off_loop: its segment files join the descriptor budget. */
void plog_adopt_files(struct plog *log);
/* False for a log created off the loop whose files and directory entries may not be on disk yet. */
bool plog_created_durably(const struct plog *log);

/* Flushes (fsync), writes the leader-epoch checkpoint, closes the files and frees the log. Removes
 * segments still waiting in `.deleted`. Returns the flush result; the log is freed in every case. */
int plog_close(struct plog *log);

/* Closes the files and frees the log without flushing or writing anything: what the disk holds is what
 * a kill -9 at this moment would leave (tests; also the path after an I/O error). */
void plog_close_abandon(struct plog *log);

/* Closes the log and deletes its directory: renamed `<topic>-<partition>.<uuid>-delete` (uuid: 32 hex
 * digits, as Kafka), then removed. The log is freed in every case. */
int plog_delete(struct plog *log);
/* The same in two steps, as Kafka's LogManager.asyncDelete: plog_delete_begin (loop) closes and frees the
 * log and renames its directory (one rename: the name is free for a new log at once, and a crash leaves a
 * `-delete` directory that start-up removes); plog_delete_run (any thread) makes the rename durable,
 * removes the renamed tree and frees `del`. begin returns 0 with `del` to run, or the error (logged; the
 * directory stays, nothing to run). */
struct plog_deletion {
    char *name;   /* "<topic>-<partition>", for the log lines */
    char *dir;    /* the partition directory as it was */
    char *parent; /* the log directory */
    char *target; /* the renamed directory */
};
int plog_delete_begin(struct plog *log, struct plog_deletion *del);
int plog_delete_run(struct plog_deletion *del);

/* Replaces the configuration (dynamic topic config change). Takes effect at the next append/retention. */
void plog_set_config(struct plog *log, const struct plog_config *cfg);
const struct plog_config *plog_config(const struct plog *log);

const char *plog_dir(const struct plog *log);   /* the partition directory path */
const char *plog_topic(const struct plog *log);
int32_t plog_partition(const struct plog *log);
/* The topic id from partition.metadata; false if there is none. */
bool plog_topic_id(const struct plog *log, proto_uuid *out);
/* Writes partition.metadata (tmp + fsync + rename: blocking, like plog_open). */
int plog_set_topic_id(struct plog *log, proto_uuid id);

/* ---- append ------------------------------------------------------------------------------------- */

enum plog_append_flags {
    /* Follower / Raft-follower append: batches keep their base offsets and leader epochs; the first must be
     * >= the log end offset and offsets must increase (else FERRY_ERANGE). The epoch cache follows the
     * batches' partitionLeaderEpoch. Without this flag (leader append) the log assigns offsets from the
     * log end offset and writes `leader_epoch` into every batch. */
    PLOG_APPEND_FOLLOWER = 1u << 0,
    /* message.timestamp.type=LogAppendTime (leader only): stamp `now_ms` into every batch
     * (attributes bit 3 + maxTimestamp, CRC recomputed). */
    PLOG_APPEND_LOG_APPEND_TIME = 1u << 1,
};

struct plog_append_info {
    int64_t first_offset;            /* base offset of the first batch */
    int64_t last_offset;             /* last offset of the last batch */
    int64_t max_timestamp;           /* largest batch maxTimestamp, -1 if none */
    int64_t offset_of_max_timestamp; /* last offset of the batch holding it */
    int64_t log_append_time;         /* now_ms with PLOG_APPEND_LOG_APPEND_TIME, else -1 */
    int64_t log_start_offset;        /* after the append */
    int32_t batch_count;
    int64_t record_count;            /* sum of lastOffsetDelta + 1 */
};

/* Appends a blob of whole v2 batches that the caller has validated (rb_validate). The blob is modified in
 * place (offsets, epochs, LogAppendTime) and written with one write(2); no fsync. Rolls the active
 * segment first if segment.bytes, segment.ms (first batch's timestamp, as Kafka) or a full index say so.
 * Errors: FERRY_EINVAL (empty blob, bad framing, epoch < 0 on the leader path), FERRY_ETOOBIG (a batch
 * larger than segment.bytes), FERRY_ERANGE (follower offsets), FERRY_EIO (the log is left as before the
 * call). */
int plog_append(struct plog *log, uint8_t *batches, size_t len, int32_t leader_epoch, int64_t now_ms,
                unsigned flags, struct plog_append_info *info);

/* ---- read --------------------------------------------------------------------------------------- */

struct plog_read_result {
    uint8_t *data;            /* whole batches, owned by the caller: ferry_free(data); NULL when len 0 */
    size_t len;
    int64_t first_offset;     /* base offset of the first batch returned, -1 if none */
    int64_t next_offset;      /* last offset returned + 1 (where the next read starts), or the offset asked
                                 for if nothing was returned */
    int64_t log_start_offset;
    int64_t log_end_offset;
};

/* Reads whole batches from the batch containing `offset`, at most `max_bytes`, from one segment (a read
 * that ends a segment stops there; the next read continues in the next one). With `min_one_batch`
 * (KIP-74) the first batch is returned whole even if larger than max_bytes. `max_offset` >= 0 (the high
 * watermark) returns only batches whose last offset is < max_offset; -1: no limit.
 * offset == log end offset returns 0 bytes; offset < log start or > log end: FERRY_ERANGE (the result
 * still carries the log start/end offsets). pread(2) from the page cache. */
int plog_read(struct plog *log, int64_t offset, size_t max_bytes, bool min_one_batch, int64_t max_offset,
              struct plog_read_result *out);

/* ---- offsets -------------------------------------------------------------------------------------- */

int64_t plog_log_start_offset(const struct plog *log);
int64_t plog_log_end_offset(const struct plog *log);
int64_t plog_recovery_point(const struct plog *log);
/* The high watermark that replication-offset-checkpoint keeps for this log: the checkpointed one (clamped
 * to [log start, log end]) from plog_open's opts until the replica manager sets its own; -1 when none is
 * known (the file had no entry, or none could be read). The log itself never uses it. */
int64_t plog_checkpoint_hw(const struct plog *log);
void plog_set_checkpoint_hw(struct plog *log, int64_t high_watermark);
/* Total bytes of all segments. */
int64_t plog_size_bytes(const struct plog *log);
size_t plog_segment_count(const struct plog *log);

/* ListOffsets special timestamps. */
#define PLOG_TS_LATEST (-1)
#define PLOG_TS_EARLIEST (-2)
#define PLOG_TS_MAX_TIMESTAMP (-3)

/* ListOffsets by timestamp: the first batch whose maxTimestamp >= ts (found through the segments' largest
 * timestamps and the time index); within an uncompressed batch the first record with timestamp >= ts, for
 * a compressed one the batch's base offset and maxTimestamp. PLOG_TS_LATEST / _EARLIEST give the log
 * end / start offset (timestamp -1); PLOG_TS_MAX_TIMESTAMP the offset of the largest timestamp.
 * FERRY_ENOTFOUND if no batch qualifies. */
int plog_offset_for_timestamp(struct plog *log, int64_t ts, int64_t *offset, int64_t *timestamp);

/* DeleteRecords / retention: moves the log start offset up to `offset` (<= log end offset, else
 * FERRY_ERANGE; lower than now: no-op) and deletes segments that lie wholly below it. The epoch cache is
 * truncated from the start. */
int plog_advance_log_start_offset(struct plog *log, int64_t offset, int64_t now_ms);

/* Truncates the log so that its end offset is `offset` (replication, Raft): removes segments above it and
 * cuts the segment holding it at the batch containing it (Kafka's truncateTo). offset >= log end: no-op.
 * offset below the first segment: same as plog_truncate_fully. Lowers the recovery point and truncates
 * the epoch cache from the end. */
int plog_truncate_to(struct plog *log, int64_t offset);

/* Deletes every segment and starts an empty log at `offset` (log start = end = recovery point = offset);
 * the epoch cache is cleared. Raft uses it when a snapshot lies beyond the log end. */
int plog_truncate_fully(struct plog *log, int64_t offset);

/* ---- leader epochs (leader-epoch-checkpoint) ------------------------------------------------------ */

struct plog_epoch_entry {
    int32_t epoch;
    int64_t start_offset;
};

/* Latest epoch in the cache, -1 if none. */
int32_t plog_latest_epoch(const struct plog *log);
/* The cache, oldest first; valid until the next call that changes the log. */
const struct plog_epoch_entry *plog_epoch_entries(const struct plog *log, size_t *n);
/* OffsetsForLeaderEpoch (Kafka's endOffsetFor): for the latest epoch (epoch, log end offset); otherwise
 * the start offset of the first epoch above `epoch`, paired with the largest known epoch <= `epoch` (or
 * `epoch` itself if none); (-1, -1) if `epoch` is -1 or above every known epoch. */
void plog_end_offset_for_epoch(const struct plog *log, int32_t epoch, int32_t *out_epoch, int64_t *out_end_offset);

/* ---- retention and housekeeping --------------------------------------------------------------------- */

/* Kafka's deleteOldSegments: segments past retention.ms (by their largest timestamp, or file mtime when
 * they hold no timestamp), then over retention.bytes, then wholly below the log start offset, only ever
 * segments whose data is all below `high_watermark` (pass the log end offset when there is no
 * replication). Deleting every segment rolls a new empty one first, as Kafka. Deleted segments are
 * renamed `.deleted` and removed after file.delete.delay.ms (plog_housekeeping). The log start offset
 * moves up to the first remaining segment. Returns the number of segments deleted, or an error. */
int plog_apply_retention(struct plog *log, int64_t now_ms, int64_t high_watermark);
/* (With cleanup.policy=compact alone only the log-start-offset rule applies, as in Kafka.) */

/* Removes `.deleted` files whose delay has passed. */
void plog_housekeeping(struct plog *log, int64_t now_ms);

/* Rolls the active segment now (if it holds data). */
int plog_roll(struct plog *log, int64_t now_ms);

/* ---- durability ---------------------------------------------------------------------------------------- */

/* A flush split in three so that fsync runs off the loop:
 *   plog_flush_begin (loop)   writes out the active segment's index tails, notes the paths of the `.log`
 *                             files holding unflushed data, snapshots the epoch checkpoint if it changed,
 *                             and notes the offset that becomes durable;
 *   plog_flush_run (worker)   opens those files by path one at a time and fdatasyncs them (a file gone by
 *                             then was removed from the log: nothing to flush), writes the epoch checkpoint
 *                             (tmp + fsync + rename), fsyncs the partition directory when files were
 *                             created or renamed; touches nothing but `f` (thread-safe). Descriptors are
 *                             held only while a worker runs, never while a flush waits in the queue;
 *   plog_flush_end (loop)     with rc == 0 records the new recovery point; always frees what `f` holds.
 * If the log was truncated while the flush ran, the recovery point is not moved. A run that finds the
 * process out of file descriptors returns FERRY_ENOFD: the loop then calls plog_flush_retry, which sheds
 * the cached segment descriptors, and runs the same flush again (at most 3 times) before ending it. */
struct plog_flush {
    char **paths;            /* the .log files to fdatasync */
    size_t npaths;
    char *metadata_path;     /* partition.metadata to fsync first (a log not yet durably created), or NULL */
    char *dir_path;          /* fsync this directory after the files, NULL if not needed */
    char *root_path;         /* then the log directory holding it (the same case), or NULL */
    char *epoch_path;        /* leader-epoch-checkpoint to write, NULL if unchanged */
    char *epoch_text;
    size_t epoch_len;
    int64_t offset;          /* log end offset at begin: durable once run succeeds */
    uint64_t truncations;    /* the log's truncation count at begin */
    uint64_t dir_gen, epoch_gen;
    int fd_retries;          /* plog_flush_retry calls so far */
};

/* Returns 0, or FERRY_ENOMEM/FERRY_EIO (nothing to release then). */
int plog_flush_begin(struct plog *log, struct plog_flush *f);
int plog_flush_run(struct plog_flush *f);
void plog_flush_end(struct plog *log, struct plog_flush *f, int rc);
/* Loop, after plog_flush_run returned rc: true when rc is FERRY_ENOFD and the flush may run again (cached
 * descriptors were shed; f is kept as begun); false: end it with rc. */
bool plog_flush_retry(struct plog_flush *f, int rc);
/* begin + run + end in the calling thread (tools, tests, shutdown). */
int plog_flush_sync(struct plog *log);

/* Messages (offsets) appended but not yet flushed: log end offset - recovery point. */
int64_t plog_unflushed_messages(const struct plog *log);
/* How long the oldest unflushed append has waited (0 if nothing is unflushed). */
int64_t plog_unflushed_ms(const struct plog *log, int64_t now_ms);
/* True when flush.messages or flush.ms says a flush is due, or when a segment rolled since the last flush
 * (Kafka flushes rolled segments in the background, so crash recovery only has the active one to read). */
bool plog_flush_due(const struct plog *log, int64_t now_ms);
/* Whether the log has periodic work left: a flush due, or unflushed data with a flush.ms (due some time
 * without another append), or segment files awaiting their deletion (file.delete.delay.ms,
 * plog_housekeeping). A log without any needs no visit until it is appended to (which may roll it or reach
 * flush.messages), truncated, reconfigured, or has its log start offset moved. */
bool plog_has_periodic_work(const struct plog *log, int64_t now_ms);

/* ---- uuids (their text form is proto_uuid_to_base64 / proto_uuid_from_base64 in proto_types.h) ---- */

/* A random version-4 uuid that is not reserved (all-zero high half with low half < 100) and whose string
 * does not start with '-', as Kafka's Uuid.randomUuid. 0 or FERRY_EIO. */
int log_uuid_random(proto_uuid *out);

#endif
