/* plog_flush: durability (the flush policy and the three-step flush that keeps fsync off the loop).
 * See log.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "log_fs.h"
#include "plog_internal.h"

static void release(struct plog_flush *f)
{
    for (size_t i = 0; i < f->npaths; i++)
        ferry_free(f->paths[i]);
    ferry_free(f->paths);
    ferry_free(f->metadata_path);
    ferry_free(f->dir_path);
    ferry_free(f->root_path);
    ferry_free(f->epoch_path);
    ferry_free(f->epoch_text);
    memset(f, 0, sizeof *f);
}

int plog_flush_begin(struct plog *log, struct plog_flush *f)
{
    memset(f, 0, sizeof *f);
    if (log->flush_in_flight)
        return FERRY_EINVAL;
    f->offset = log->log_end_offset;
    f->truncations = log->truncations;
    f->dir_gen = log->dir_gen;
    f->epoch_gen = log->epoch_gen;
    int rc = FERRY_ENOMEM;
    /* Index tails go to the page cache too (never fsynced: indexes are validated at open). */
    log_segment_write_out_indexes(plog_active(log));
    /* Segments holding offsets at or above the recovery point. */
    size_t first = plog_segment_index(log, log->recovery_point);
    f->paths = ferry_calloc(log->nsegs - first, sizeof *f->paths);
    if (!f->paths)
        goto release_flush;
    for (size_t i = first; i < log->nsegs; i++) {
        f->paths[f->npaths] = log_segment_log_path(log->segs[i]);
        if (!f->paths[f->npaths])
            goto release_flush;
        f->npaths++;
    }
    if (log->epoch_gen != log->epoch_saved) {
        f->epoch_path = log_path_join(log->dir, "leader-epoch-checkpoint");
        if (!f->epoch_path || log_epochs_serialize(&log->epochs, &f->epoch_text, &f->epoch_len) != 0)
            goto release_flush;
    }
    if (!log->created_durably) { /* what the data depends on first: the log's own files and name */
        f->metadata_path = log_path_join(log->dir, "partition.metadata");
        f->root_path = ferry_strdup(log->root);
        if (!f->metadata_path || !f->root_path)
            goto release_flush;
    }
    if (log->dir_gen != log->dir_synced || f->epoch_path || f->root_path) {
        f->dir_path = ferry_strdup(log->dir);
        if (!f->dir_path)
            goto release_flush;
    }
    log->flush_in_flight = true;
    log->first_append_in_flight_ms = -1;
    return 0;
release_flush:
    release(f);
    return rc;
}

/* fdatasync of one segment file by path; ENOENT: the segment left the log meanwhile (renamed `.deleted` by
 * retention or truncation), so its data no longer needs to be durable. */
static int sync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        int rc = log_open_error(FERRY_EIO);
        if (rc == FERRY_ENOFD)
            LOG_WARN("log", "out of file descriptors opening %s to flush it", path);
        else
            LOG_ERROR("log", "cannot open %s to flush it: %s", path, strerror(errno));
        return rc;
    }
    int rc = 0;
    if (fdatasync(fd) != 0) {
        LOG_ERROR("log", "fdatasync of %s failed: %s", path, strerror(errno));
        rc = FERRY_EIO;
    }
    close(fd);
    return rc;
}

int plog_flush_run(struct plog_flush *f)
{
    int rc = f->metadata_path ? sync_path(f->metadata_path) : 0; /* a log not yet durably created */
    if (rc == FERRY_ENOFD)
        return rc;
    for (size_t i = 0; i < f->npaths; i++) {
        int r = sync_path(f->paths[i]);
        if (r == FERRY_ENOFD)
            return r;
        if (r != 0)
            rc = FERRY_EIO;
    }
    /* these fail with FERRY_EIO and errno set by the failed call */
    if (rc == 0 && f->epoch_path && (rc = log_write_file_atomic(f->epoch_path, f->epoch_text, f->epoch_len)))
        return rc == FERRY_EIO ? log_open_error(rc) : rc;
    if (rc == 0 && f->dir_path && (rc = log_fsync_dir(f->dir_path)))
        return log_open_error(rc);
    if (rc == 0 && f->root_path && (rc = log_fsync_dir(f->root_path)))
        return log_open_error(rc);
    return rc;
}

/* Tries of one flush that ran out of descriptors, each after shedding the cached ones. */
#define FLUSH_FD_RETRIES 3

bool plog_flush_retry(struct plog_flush *f, int rc)
{
    if (rc != FERRY_ENOFD || f->fd_retries >= FLUSH_FD_RETRIES)
        return false;
    f->fd_retries++;
    errno = EMFILE;
    log_fd_shed(f->npaths ? f->paths[0] : f->dir_path ? f->dir_path : "a flush's files");
    return true;
}

void plog_flush_end(struct plog *log, struct plog_flush *f, int rc)
{
    log->flush_in_flight = false;
    if (rc != 0) {
        LOG_ERROR("log", "%s: flush up to offset %lld failed: %s", log->name, (long long)f->offset, ferry_strerror(rc));
        release(f);
        return;
    }
    if (f->epoch_path)
        log->epoch_saved = f->epoch_gen;
    if (f->dir_path)
        log->dir_synced = f->dir_gen;
    if (f->root_path)
        log->created_durably = true;
    if (f->truncations == log->truncations) {
        if (f->offset > log->recovery_point)
            log->recovery_point = f->offset;
        if (log->recovery_point >= log->log_end_offset)
            log->first_unflushed_ms = -1;
        else
            log->first_unflushed_ms = log->first_append_in_flight_ms >= 0 ? log->first_append_in_flight_ms
                                                                           : log->first_unflushed_ms;
    }
    log->first_append_in_flight_ms = -1;
    release(f);
}

int plog_flush_sync(struct plog *log)
{
    struct plog_flush f;
    int rc = plog_flush_begin(log, &f);
    if (rc)
        return rc;
    do
        rc = plog_flush_run(&f);
    while (plog_flush_retry(&f, rc));
    plog_flush_end(log, &f, rc);
    return rc;
}

int64_t plog_unflushed_messages(const struct plog *log) { return log->log_end_offset - log->recovery_point; }

int64_t plog_unflushed_ms(const struct plog *log, int64_t now_ms)
{
    if (log->first_unflushed_ms < 0 || log->recovery_point >= log->log_end_offset)
        return 0;
    return now_ms > log->first_unflushed_ms ? now_ms - log->first_unflushed_ms : 0;
}

bool plog_flush_due(const struct plog *log, int64_t now_ms)
{
    int64_t n = plog_unflushed_messages(log);
    if (n <= 0)
        return false;
    /* Kafka also flushes every segment that rolls (in the background), which bounds crash recovery to the
     * active segment whatever the flush policy. */
    if (log->recovery_point < plog_active(log)->base_offset)
        return true;
    return n >= log->cfg.flush_messages || plog_unflushed_ms(log, now_ms) >= log->cfg.flush_ms;
}

bool plog_has_periodic_work(const struct plog *log, int64_t now_ms)
{
    if (log->npending > 0)
        return true;
    if (plog_unflushed_messages(log) <= 0)
        return false;
    /* without flush.ms only an append (a roll, flush.messages) makes a flush due */
    return log->cfg.flush_ms < INT64_MAX || plog_flush_due(log, now_ms);
}
