/* plog_retention: removing data from a partition log: retention by time and size, the log start offset
 * (DeleteRecords), truncation (replication, Raft) and the delayed removal of `.deleted` files.
 * See log.h. */
#include <string.h>
#include <time.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "plog_internal.h"

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int push_pending(struct plog *log, char *stem, int64_t due_ms)
{
    if (log->npending == log->pending_cap) {
        size_t cap = log->pending_cap ? log->pending_cap * 2 : 8;
        struct plog_pending_delete *np = ferry_realloc(log->pending, cap * sizeof *np);
        if (!np)
            return FERRY_ENOMEM;
        log->pending = np;
        log->pending_cap = cap;
    }
    log->pending[log->npending++] = (struct plog_pending_delete){stem, due_ms};
    return 0;
}

/* A segment already renamed `.deleted` and taken out of the array: close it, remove its files now or
 * queue them for file.delete.delay.ms. */
static void retire_segment(struct plog *log, struct log_segment *s, int64_t now_ms)
{
    char *stem = s->stem;
    s->stem = NULL;
    log_segment_close(s);
    if (log->cfg.file_delete_delay_ms == 0 || push_pending(log, stem, now_ms + log->cfg.file_delete_delay_ms) != 0) {
        log_segment_unlink_files(stem, ".deleted");
        ferry_free(stem);
    }
}

int plog_remove_segments(struct plog *log, size_t first, size_t n, int64_t now_ms, const char *reason)
{
    if (n == 0)
        return 0;
    int rc = 0;
    for (size_t i = first; i < first + n; i++) {
        struct log_segment *s = log->segs[i];
        LOG_INFO("log", "%s: deleting segment %s.log (base offset %lld, %u bytes, next offset %lld): %s", log->name,
                 s->stem, (long long)s->base_offset, s->size, (long long)s->next_offset, reason);
        int r = log_segment_add_suffix(s, ".deleted");
        if (r) {
            /* Could not rename: the data must not come back at the next start, so remove it now. */
            log_segment_unlink_files(s->stem, "");
            if (rc == 0)
                rc = r;
        }
        retire_segment(log, s, now_ms);
    }
    memmove(log->segs + first, log->segs + first + n, (log->nsegs - first - n) * sizeof *log->segs);
    log->nsegs -= n;
    log->dir_gen++;
    return rc;
}

void plog_housekeeping(struct plog *log, int64_t now_ms)
{
    size_t kept = 0;
    for (size_t i = 0; i < log->npending; i++) {
        if (log->pending[i].due_ms <= now_ms) {
            log_segment_unlink_files(log->pending[i].stem, ".deleted");
            ferry_free(log->pending[i].stem);
        } else {
            log->pending[kept++] = log->pending[i];
        }
    }
    log->npending = kept;
}

/* The log start offset moved up: the epoch cache and the recovery point follow (as Kafka). */
static void start_offset_moved(struct plog *log, int64_t offset)
{
    if (offset <= log->log_start_offset)
        return;
    log->log_start_offset = offset;
    if (log->recovery_point < offset)
        log->recovery_point = offset;
    if (log_epochs_truncate_from_start(&log->epochs, offset))
        log->epoch_gen++;
}

/* ---- retention (Kafka's deleteOldSegments) ---- */

struct retention_pred {
    const char *name;
    bool (*match)(struct retention_pred *p, const struct plog *log, const struct log_segment *s,
                  const struct log_segment *next);
    int64_t now_ms;
    int64_t bytes_over;
};

static bool by_time(struct retention_pred *p, const struct plog *log, const struct log_segment *s,
                    const struct log_segment *next)
{
    (void)next;
    return p->now_ms - log_segment_largest_timestamp(s) > log->cfg.retention_ms;
}

static bool by_size(struct retention_pred *p, const struct plog *log, const struct log_segment *s,
                    const struct log_segment *next)
{
    (void)log;
    (void)next;
    if (p->bytes_over - (int64_t)s->size < 0)
        return false;
    p->bytes_over -= s->size;
    return true;
}

static bool by_start_offset(struct retention_pred *p, const struct plog *log, const struct log_segment *s,
                            const struct log_segment *next)
{
    (void)p;
    (void)s;
    return next && next->base_offset <= log->log_start_offset;
}

/* How many segments from the oldest match, never one holding data at or above the high watermark and never
 * the last segment when it is empty. */
static size_t deletable(struct plog *log, int64_t high_watermark, struct retention_pred *p)
{
    size_t n = 0;
    for (size_t i = 0; i < log->nsegs; i++) {
        const struct log_segment *s = log->segs[i];
        const struct log_segment *next = i + 1 < log->nsegs ? log->segs[i + 1] : NULL;
        int64_t upper = next ? next->base_offset : log->log_end_offset;
        if (!next && s->size == 0)
            break;
        if (high_watermark < upper || !p->match(p, log, s, next))
            break;
        n++;
    }
    return n;
}

static int delete_oldest(struct plog *log, size_t n, int64_t now_ms, const char *reason)
{
    if (n == log->nsegs) {
        /* Kafka: there must always be a segment, so roll a new one before deleting them all. */
        int rc = plog_add_segment(log, log->log_end_offset, now_ms);
        if (rc)
            return rc;
    }
    int rc = plog_remove_segments(log, 0, n, now_ms, reason);
    start_offset_moved(log, log->segs[0]->base_offset);
    return rc;
}

int plog_apply_retention(struct plog *log, int64_t now_ms, int64_t high_watermark)
{
    if (high_watermark < 0 || high_watermark > log->log_end_offset)
        high_watermark = log->log_end_offset;
    int total = 0;
    struct retention_pred preds[3] = {
        {.name = "retention.ms", .match = by_time, .now_ms = now_ms},
        {.name = "retention.bytes", .match = by_size, .now_ms = now_ms},
        {.name = "below the log start offset", .match = by_start_offset, .now_ms = now_ms},
    };
    for (int k = 0; k < 3; k++) {
        if (k < 2 && !log->cfg.cleanup_delete)
            continue; /* cleanup.policy=compact: no time or size retention (Kafka) */
        if (k == 0 && log->cfg.retention_ms < 0)
            continue;
        if (k == 1) {
            int64_t size = plog_size_bytes(log);
            if (log->cfg.retention_bytes < 0 || size < log->cfg.retention_bytes)
                continue;
            preds[k].bytes_over = size - log->cfg.retention_bytes;
        }
        size_t n = deletable(log, high_watermark, &preds[k]);
        if (n == 0)
            continue;
        int rc = delete_oldest(log, n, now_ms, preds[k].name);
        if (rc)
            return rc;
        total += (int)n;
    }
    return total;
}

int plog_advance_log_start_offset(struct plog *log, int64_t offset, int64_t now_ms)
{
    if (offset > log->log_end_offset)
        return FERRY_ERANGE;
    if (offset <= log->log_start_offset)
        return 0;
    LOG_INFO("log", "%s: log start offset moves from %lld to %lld", log->name, (long long)log->log_start_offset,
             (long long)offset);
    start_offset_moved(log, offset);
    struct retention_pred p = {.name = "below the log start offset", .match = by_start_offset, .now_ms = now_ms};
    size_t n = deletable(log, log->log_end_offset, &p);
    return n ? delete_oldest(log, n, now_ms, p.name) : 0;
}

/* ---- truncation ---- */

int plog_truncate_fully(struct plog *log, int64_t offset)
{
    if (offset < 0)
        return FERRY_EINVAL;
    int64_t now = wall_ms();
    /* Free the file names first (a segment may already sit at `offset`), create the new segment, and only
     * then let the old ones go; on failure the old ones come back. */
    for (size_t i = 0; i < log->nsegs; i++)
        log_segment_add_suffix(log->segs[i], ".deleted");
    struct log_segment *fresh;
    int rc = log_segment_create(log->dir, offset, log->cfg.segment_index_bytes, now, &fresh);
    if (rc) {
        for (size_t i = 0; i < log->nsegs; i++)
            log_segment_add_suffix(log->segs[i], "");
        LOG_ERROR("log", "%s: cannot start the log over at offset %lld: %s", log->name, (long long)offset,
                  ferry_strerror(rc));
        return rc;
    }
    LOG_INFO("log", "%s: truncating fully (%zu segment(s), offsets %lld..%lld) and starting at offset %lld", log->name,
             log->nsegs, (long long)log->log_start_offset, (long long)log->log_end_offset, (long long)offset);
    for (size_t i = 0; i < log->nsegs; i++) {
        /* A segment whose rename failed must not come back at the next start (a no-op otherwise). */
        if (log->segs[i]->base_offset != offset)
            log_segment_unlink_files(log->segs[i]->stem, "");
        retire_segment(log, log->segs[i], now);
    }
    log->segs[0] = fresh; /* segs_cap >= 1: the log always had a segment */
    log->nsegs = 1;
    log->dir_gen++;
    log->log_start_offset = log->log_end_offset = log->recovery_point = offset;
    if (log->checkpoint_hw >= 0)
        log->checkpoint_hw = offset;
    log_epochs_clear(&log->epochs);
    log->epoch_gen++;
    log->truncations++;
    if (log->cleaner_offset > offset)
        log->cleaner_offset = offset; /* Kafka's maybeTruncateCheckpoint */
    log->first_unflushed_ms = -1;
    return 0;
}

int plog_truncate_to(struct plog *log, int64_t offset)
{
    if (offset < 0)
        return FERRY_EINVAL;
    if (offset >= log->log_end_offset)
        return 0;
    if (offset < log->segs[0]->base_offset)
        return plog_truncate_fully(log, offset);
    int64_t now = wall_ms();
    LOG_INFO("log", "%s: truncating from log end offset %lld to %lld", log->name, (long long)log->log_end_offset,
             (long long)offset);
    size_t keep = plog_segment_index(log, offset) + 1;
    int rc = plog_remove_segments(log, keep, log->nsegs - keep, now, "truncation");
    int r = log_segment_truncate_to(plog_active(log), offset, now);
    if (r) {
        LOG_ERROR("log", "%s: cannot truncate segment %s.log to offset %lld: %s", log->name, plog_active(log)->stem,
                  (long long)offset, ferry_strerror(r));
        rc = r;
    }
    log->log_end_offset = offset;
    if (log->recovery_point > offset)
        log->recovery_point = offset;
    if (log->checkpoint_hw > offset)
        log->checkpoint_hw = offset;
    if (log->log_start_offset > offset)
        log->log_start_offset = offset;
    if (log_epochs_truncate_from_end(&log->epochs, offset))
        log->epoch_gen++;
    log->truncations++;
    if (log->cleaner_offset > offset)
        log->cleaner_offset = offset; /* Kafka's maybeTruncateCheckpoint */
    return rc;
}
