/* cleaner: log compaction for cleanup.policy=compact (Kafka's LogCleaner, one log at a time).
 *
 * What: the segments below the first uncleanable offset (never the active segment, never data at or above
 * the high watermark, never a segment whose largest timestamp is newer than min.compaction.lag.ms) are
 * rewritten keeping, for each key, only its latest record (the latest offset in the dirty section, i.e.
 * past the cleaner checkpoint), as Kafka does:
 *   - records without a key are dropped (Kafka's cleaner counts them as invalid and drops them);
 *   - a tombstone (null value) that is the latest for its key stays; the first clean that keeps it sets
 *     the batch's delete horizon (attributes bit 6, baseTimestamp = now + delete.retention.ms, KIP-534)
 *     and a clean after the horizon drops it;
 *   - compressed batches are decompressed (broker/proto/compression.h) for the map and the rewrite;
 *   - batches keep their producer id/epoch, leader epoch and offsets (gaps appear); a batch that loses
 *     records (or whose tombstones get a delete horizon) is rewritten uncompressed, split into runs of
 *     consecutive offsets (Ferry's batch check wants lastOffsetDelta == recordCount - 1), base sequences
 *     shifted to match, CRC recomputed; a batch that keeps everything is copied byte for byte (still
 *     compressed); a batch emptied of records stays as an empty batch when it is its producer's last batch
 *     or the last batch of a cleaned group (so that the group's offset range stays known, which crash
 *     recovery relies on);
 *   - control batches, and a compressed batch that fails to decompress, are kept as they are and their
 *     records are not mapped;
 *   - small segments are grouped into one (total bytes <= segment.bytes).
 * When: plog_clean_needed: dirty bytes / (clean + dirty bytes) >= min.cleanable.dirty.ratio, or the
 * oldest dirty data is older than max.compaction.lag.ms, or a delete horizon has passed.
 * Files: `<base>.{log,index,timeindex}.cleaned` are written and fsynced by the worker; plog_clean_end
 * renames them `.swap` (last group first), renames the replaced segments `.deleted`, renames `.swap` to
 * the final names, as Kafka's replaceSegments. plog_open completes or rolls back an interrupted swap as
 * Kafka's LogLoader (cleaner_recover.c). `<log.dir>/cleaner-offset-checkpoint` ("0\n<n>\n<topic>
 * <partition> <offset>\n...") holds each log's first dirty offset.
 * Memory: the worker reads segments through a buffer of about 1 MiB (larger only for a larger batch) and
 * writes in pieces of about 1 MiB; the key map holds every distinct key of the dirty section (Kafka bounds
 * it with log.cleaner.dedupe.buffer.size and cleans less at a time; Ferry does not yet).
 * Threads: begin and end on the loop (they own the plog); run on a worker, touching only the immutable
 * segments (each opened by path while it is read, so a clean holds no descriptor while it waits in the
 * queue) and its own `.cleaned` files. One clean per log at a time. */
#ifndef FERRY_LOG_CLEANER_H
#define FERRY_LOG_CLEANER_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"

struct plog_clean;

/* Whether the log is due for cleaning now (cleanup.policy has compact and no clean runs). `high_watermark`:
 * nothing at or above it is cleaned (-1 or beyond the end: the log end offset). */
bool plog_clean_needed(struct plog *log, int64_t now_ms, int64_t high_watermark);

/* Loop: snapshots what to clean. 0 with *out, FERRY_ENOTFOUND when nothing is cleanable, or an error. */
int plog_clean_begin(struct plog *log, int64_t now_ms, int64_t high_watermark, struct plog_clean **out);
/* Worker: builds the offset map and writes and fsyncs the `.cleaned` segments. Thread-safe. */
int plog_clean_run(struct plog_clean *c);
/* Loop: with rc == 0, swaps the cleaned segments in, unless the log was truncated or lost segments
 * meanwhile (then the cleaned files are discarded); moves the cleaner checkpoint. Frees c. */
int plog_clean_end(struct plog *log, struct plog_clean *c, int rc);
/* begin + run + end in the calling thread (tests, tools). 0 also when nothing was cleanable. */
int plog_clean_sync(struct plog *log, int64_t now_ms, int64_t high_watermark);

/* Tests: plog_clean_end stops after step `step` (1: `.cleaned` written, 2: renamed `.swap`, 3: old
 * segments renamed `.deleted`, 4: `.swap` renamed) as a crash would, returning FERRY_EIO; the caller must
 * then plog_close_abandon the log. 0: no stop. */
void plog_clean_stop_after(struct plog_clean *c, int step);

/* The log's first dirty offset (cleaner checkpoint), -1 if it was never cleaned. */
int64_t plog_cleaner_offset(const struct plog *log);

#endif
