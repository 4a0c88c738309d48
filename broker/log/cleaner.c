/* cleaner: log compaction's three steps (begin on the loop, run on a worker, end on the loop) and the
 * choice of what to clean. See cleaner.h. */
#include "cleaner.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "cleaner_internal.h"
#include "log_fs.h"
#include "plog_internal.h"

#define CLEAN_WRITE_CHUNK (1u << 20) /* output is appended to the new segment in pieces of about this */

struct clean_seg {
    struct log_segment *seg; /* identity check at end (loop side only) */
    int64_t base, next;
    uint32_t size;
    char *path; /* its .log, opened by the worker while it reads it (a descriptor only then) */
};

struct clean_out {
    struct log_segment *s; /* the new segment, owned by the job until swapped in */
};

struct plog_clean {
    char *dir;
    char *name;
    struct plog_config cfg;
    int64_t now_ms;
    int64_t first_dirty, end_offset;
    struct clean_seg *segs; /* the segments below the first uncleanable offset */
    size_t nsegs, dirty_idx;
    struct clean_out *outs;
    size_t nouts;
    uint64_t truncations;
    int64_t min_horizon;
    int64_t kept, dropped;
    uint64_t bytes_before, bytes_after;
    int stop_after;
};

/* ---- what to clean ---- */

struct clean_range {
    size_t u;         /* first uncleanable segment */
    size_t dirty_idx; /* first segment of the dirty section */
    int64_t first_dirty;
    uint64_t clean_bytes, dirty_bytes;
};

static bool compute_range(struct plog *log, int64_t now_ms, int64_t hw, struct clean_range *r)
{
    if (!log->cfg.cleanup_compact || log->nsegs < 2)
        return false;
    if (hw < 0 || hw > log->log_end_offset)
        hw = log->log_end_offset;
    size_t u = log->nsegs - 1; /* never the active segment */
    for (size_t i = 0; i < log->nsegs - 1; i++) {
        const struct log_segment *s = log->segs[i];
        bool too_new = log->cfg.min_compaction_lag_ms > 0 &&
                       log_segment_largest_timestamp(s) > now_ms - log->cfg.min_compaction_lag_ms;
        if (s->next_offset > hw || too_new) {
            u = i;
            break;
        }
    }
    if (u == 0)
        return false;
    int64_t fd = log->cleaner_offset;
    if (fd < log->log_start_offset || fd > log->log_end_offset)
        fd = log->log_start_offset; /* Kafka resets a checkpoint outside the log */
    if (fd < log->segs[0]->base_offset)
        fd = log->segs[0]->base_offset;
    size_t di = fd >= log->segs[u]->base_offset ? u : plog_segment_index(log, fd);
    r->u = u;
    r->dirty_idx = di;
    r->first_dirty = fd;
    r->clean_bytes = r->dirty_bytes = 0;
    for (size_t i = 0; i < u; i++)
        *(i < di ? &r->clean_bytes : &r->dirty_bytes) += log->segs[i]->size;
    return true;
}

bool plog_clean_needed(struct plog *log, int64_t now_ms, int64_t high_watermark)
{
    struct clean_range r;
    if (log->clean_in_flight || !compute_range(log, now_ms, high_watermark, &r))
        return false;
    if (r.dirty_bytes > 0) {
        double ratio = (double)r.dirty_bytes / (double)(r.clean_bytes + r.dirty_bytes);
        if (ratio >= log->cfg.min_cleanable_dirty_ratio)
            return true;
        const struct log_segment *s = log->segs[r.dirty_idx];
        int64_t first_ts = s->rolling_ts >= 0 ? s->rolling_ts : s->created_ms;
        if (log->cfg.max_compaction_lag_ms < INT64_MAX && now_ms - first_ts > log->cfg.max_compaction_lag_ms)
            return true;
    }
    return r.clean_bytes > 0 && now_ms >= log->tombstone_horizon;
}

int64_t plog_cleaner_offset(const struct plog *log) { return log->cleaner_offset; }

void plog_clean_stop_after(struct plog_clean *c, int step) { c->stop_after = step; }

/* ---- begin (loop) ---- */

static void discard_outputs(struct plog_clean *c)
{
    for (size_t i = 0; i < c->nouts; i++) {
        struct log_segment *s = c->outs[i].s;
        if (!s)
            continue;
        const char *suffix = s->suffix;
        char *stem = ferry_strdup(s->stem);
        log_segment_close(s);
        if (stem) {
            log_segment_unlink_files(stem, suffix);
            ferry_free(stem);
        }
        c->outs[i].s = NULL;
    }
}

static void job_free(struct plog_clean *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nsegs; i++)
        ferry_free(c->segs[i].path);
    for (size_t i = 0; i < c->nouts; i++)
        log_segment_close(c->outs[i].s);
    ferry_free(c->segs);
    ferry_free(c->outs);
    ferry_free(c->dir);
    ferry_free(c->name);
    ferry_free(c);
}

int plog_clean_begin(struct plog *log, int64_t now_ms, int64_t high_watermark, struct plog_clean **out)
{
    *out = NULL;
    struct clean_range r;
    if (log->clean_in_flight || !compute_range(log, now_ms, high_watermark, &r))
        return FERRY_ENOTFOUND;
    if (r.clean_bytes + r.dirty_bytes == 0)
        return FERRY_ENOTFOUND;
    struct plog_clean *c = ferry_calloc(1, sizeof *c);
    if (!c)
        return FERRY_ENOMEM;
    c->dir = ferry_strdup(log->dir);
    c->name = ferry_strdup(log->name);
    c->segs = ferry_calloc(r.u, sizeof *c->segs);
    c->outs = ferry_calloc(r.u, sizeof *c->outs);
    if (!c->dir || !c->name || !c->segs || !c->outs) {
        job_free(c);
        return FERRY_ENOMEM;
    }
    c->nsegs = r.u;
    for (size_t i = 0; i < r.u; i++) {
        struct log_segment *s = log->segs[i];
        c->segs[i] = (struct clean_seg){s, s->base_offset, s->next_offset, s->size, log_segment_log_path(s)};
        if (!c->segs[i].path) {
            job_free(c);
            return FERRY_ENOMEM;
        }
    }
    c->cfg = log->cfg;
    c->now_ms = now_ms;
    c->first_dirty = r.first_dirty;
    c->dirty_idx = r.dirty_idx;
    c->end_offset = log->segs[r.u]->base_offset;
    c->truncations = log->truncations;
    c->min_horizon = INT64_MAX;
    log->clean_in_flight = true;
    *out = c;
    return 0;
}

/* ---- run (worker) ---- */

struct map_arg {
    struct clean_map *keys;
    int64_t first_dirty;
};

static int map_record(void *arg, int64_t offset, const struct rb_record *rec)
{
    struct map_arg *a = arg;
    if (rec->key.len < 0 || offset < a->first_dirty)
        return 0;
    return clean_map_put(a->keys, rec->key.p, (size_t)rec->key.len, offset);
}

/* Opens source segment `seg` for reading: a descriptor, or FERRY_ENOTFOUND when the file is gone (the log
 * was truncated meanwhile: plog_clean_end discards the work), FERRY_ENOFD (out of descriptors) or
 * FERRY_EIO, logged. */
static int open_source(const struct plog_clean *c, size_t seg)
{
    int fd = open(c->segs[seg].path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        return fd;
    int e = errno;
    int rc = e == ENOENT ? FERRY_ENOTFOUND : log_open_error(FERRY_EIO);
    if (e == ENOENT)
        LOG_INFO("log", "%s: cleaner: %s is gone (the log was truncated meanwhile); not cleaning", c->name,
                 c->segs[seg].path);
    else
        LOG_ERROR("log", "%s: cleaner cannot open %s: %s", c->name, c->segs[seg].path, strerror(e));
    return rc;
}

/* The next batch of segment `seg`; a damaged one stops the clean. */
static int next_batch(const struct plog_clean *c, size_t seg, struct clean_reader *rd, const uint8_t **b,
                      size_t *blen, struct rb_header *h)
{
    uint64_t pos = rd->pos;
    int n = clean_reader_next(rd, b, blen, h);
    if (n < 0)
        LOG_ERROR("log", "%s: cleaner cannot read the batch of segment %lld at position %llu (%s); not cleaning",
                  c->name, (long long)c->segs[seg].base, (unsigned long long)pos, ferry_strerror(n));
    return n;
}

/* The producer map (every cleanable segment) and the key map (the dirty section). */
static int build_maps(struct plog_clean *c, struct clean_map *keys, struct clean_map *producers)
{
    for (size_t i = 0; i < c->nsegs; i++) {
        int fd = open_source(c, i);
        if (fd < 0)
            return fd;
        struct clean_reader rd;
        clean_reader_init(&rd, fd, c->segs[i].size);
        const uint8_t *b;
        size_t blen;
        struct rb_header h;
        int rc;
        while ((rc = next_batch(c, i, &rd, &b, &blen, &h)) == 1) {
            int r = 0;
            if (h.producer_id >= 0) {
                uint8_t pid[8];
                proto_put_be64(pid, (uint64_t)h.producer_id);
                r = clean_map_put(producers, pid, sizeof pid, h.base_offset);
            }
            bool data = !(h.attributes & RB_ATTR_CONTROL) && h.record_count > 0;
            if (r == 0 && i >= c->dirty_idx && data && h.base_offset + h.last_offset_delta >= c->first_dirty) {
                const uint8_t *recs;
                size_t recs_len;
                uint8_t *owned;
                int d = clean_batch_records(b, blen, &h, &recs, &recs_len, &owned);
                if (d == 0) {
                    struct map_arg a = {keys, c->first_dirty};
                    r = clean_for_each_record(&h, recs, recs_len, map_record, &a);
                } else if (d == FERRY_ENOMEM) {
                    r = d;
                } else {
                    /* left as it is by the rewrite too, so older values of its keys simply stay */
                    LOG_WARN("log", "%s: cleaner cannot decompress the batch at offset %lld (%s); keeping it as is",
                             c->name, (long long)h.base_offset, ferry_strerror(d));
                }
                ferry_free(owned);
            }
            if (r) {
                rc = r;
                break;
            }
        }
        clean_reader_free(&rd);
        close(fd);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* One cleaned segment from source segments [first, last]. */
static int clean_group(struct plog_clean *c, struct clean_filter *f, size_t first, size_t last)
{
    int64_t base = c->segs[first].base;
    char *stem = log_path_fmt("%s/%020lld", c->dir, (long long)base);
    if (!stem)
        return FERRY_ENOMEM;
    log_segment_unlink_files(stem, ".cleaned");
    ferry_free(stem);
    struct log_segment *s;
    int rc = log_segment_create_suffixed(c->dir, base, ".cleaned", c->cfg.segment_index_bytes, c->now_ms, &s);
    if (rc)
        return rc == FERRY_EIO ? log_open_error(rc) : rc;
    c->outs[c->nouts++].s = s;
    int64_t out_next = base, group_end = base;
    struct rb_header last_h = {0};
    struct proto_writer w;
    proto_writer_init(&w);
    for (size_t i = first; i <= last && rc == 0; i++) {
        if (c->segs[i].size == 0)
            continue;
        int fd = open_source(c, i);
        if (fd < 0) {
            rc = fd;
            break;
        }
        struct clean_reader rd;
        clean_reader_init(&rd, fd, c->segs[i].size);
        const uint8_t *b;
        size_t blen;
        struct rb_header h;
        while ((rc = next_batch(c, i, &rd, &b, &blen, &h)) == 1) {
            rc = clean_filter_batch(f, b, blen, &h, &w, &out_next);
            if (rc == 0 && w.len >= CLEAN_WRITE_CHUNK) {
                rc = log_segment_append(s, w.buf, w.len, c->cfg.index_interval_bytes);
                c->bytes_after += w.len;
                w.len = 0;
            }
            if (rc)
                break;
            last_h = h;
        }
        clean_reader_free(&rd);
        close(fd);
        if (rc == 0 && c->segs[i].next > group_end)
            group_end = c->segs[i].next;
        if (rc == 0 && i == last && out_next < group_end) {
            /* keep the group's offset range known (crash recovery reads it from the last batch) */
            int64_t eb = out_next > last_h.base_offset ? out_next : last_h.base_offset;
            clean_write_empty_batch(&w, &last_h, eb, group_end - 1);
            out_next = group_end;
            rc = w.err;
        }
        if (rc == 0 && w.len > 0)
            rc = log_segment_append(s, w.buf, w.len, c->cfg.index_interval_bytes);
        c->bytes_after += w.len;
        c->bytes_before += c->segs[i].size;
        w.len = 0;
    }
    proto_writer_free(&w);
    if (rc == 0)
        rc = log_segment_seal(s);
    if (rc == 0 && fdatasync(log_segment_fd(s)) != 0) {
        LOG_ERROR("log", "%s: cannot fsync %s.log.cleaned: %s", c->name, s->stem, strerror(errno));
        rc = FERRY_EIO;
    }
    return rc;
}

int plog_clean_run(struct plog_clean *c)
{
    struct clean_map keys, producers;
    clean_map_init(&keys);
    clean_map_init(&producers);
    int rc = build_maps(c, &keys, &producers);
    struct clean_filter f = {.keys = &keys,
                             .producers = &producers,
                             .now_ms = c->now_ms,
                             .delete_retention_ms = c->cfg.delete_retention_ms,
                             .min_horizon = INT64_MAX};
    int32_t interval = c->cfg.index_interval_bytes > 0 ? c->cfg.index_interval_bytes : 1;
    uint64_t max_index_entries = (uint64_t)c->cfg.segment_index_bytes / 12;
    /* Kafka's groupSegmentsBySize: consecutive segments whose total fits in one segment and its indexes. */
    for (size_t i = 0; rc == 0 && i < c->nsegs;) {
        if (c->segs[i].size == 0) {
            i++;
            continue;
        }
        size_t j = i;
        uint64_t total = c->segs[i].size;
        while (j + 1 < c->nsegs) {
            uint64_t t = total + c->segs[j + 1].size;
            if (t > (uint64_t)c->cfg.segment_bytes || t / (uint64_t)interval + 2 > max_index_entries ||
                c->segs[j + 1].next - c->segs[i].base > INT32_MAX)
                break;
            total = t;
            j++;
        }
        rc = clean_group(c, &f, i, j);
        i = j + 1;
    }
    c->min_horizon = f.min_horizon;
    c->kept = f.records_kept;
    c->dropped = f.records_dropped;
    clean_map_free(&keys);
    clean_map_free(&producers);
    if (rc)
        discard_outputs(c);
    return rc;
}

/* ---- end (loop) ---- */

static bool still_valid(const struct plog *log, const struct plog_clean *c)
{
    if (log->truncations != c->truncations || c->nsegs >= log->nsegs)
        return false;
    for (size_t i = 0; i < c->nsegs; i++)
        if (log->segs[i] != c->segs[i].seg || log->segs[i]->base_offset != c->segs[i].base)
            return false;
    return true;
}

static int insert_front(struct plog *log, struct plog_clean *c)
{
    for (size_t i = 0; i < c->nouts; i++) {
        log_segment_manage(c->outs[i].s);
        int rc = plog_push_segment(log, c->outs[i].s);
        if (rc)
            return rc; /* the ones pushed stay at the end: the caller abandons the log */
        c->outs[i].s = NULL;
    }
    struct log_segment **tmp = ferry_malloc(c->nouts * sizeof *tmp);
    if (!tmp)
        return FERRY_ENOMEM;
    size_t rest = log->nsegs - c->nouts;
    memcpy(tmp, log->segs + rest, c->nouts * sizeof *tmp);
    memmove(log->segs + c->nouts, log->segs, rest * sizeof *log->segs);
    memcpy(log->segs, tmp, c->nouts * sizeof *tmp);
    ferry_free(tmp);
    return 0;
}

int plog_clean_end(struct plog *log, struct plog_clean *c, int rc)
{
    log->clean_in_flight = false;
    if (rc == 0 && !still_valid(log, c)) {
        LOG_INFO("log", "%s: the log changed under the cleaner (truncation or deletion); discarding its work",
                 log->name);
        rc = FERRY_ENOTFOUND;
    }
    if (rc == FERRY_ENOFD) {
        /* the worker ran out of descriptors: shed the cached ones so that the next clean (the caller's
         * next check) can open its files */
        errno = EMFILE;
        log_fd_shed(log->name);
    }
    if (rc || c->nouts == 0 || c->stop_after == 1) {
        bool crash = rc == 0 && c->stop_after == 1;
        if (!crash)
            discard_outputs(c);
        job_free(c);
        return crash ? FERRY_EIO : rc == FERRY_ENOTFOUND ? 0 : rc;
    }
    /* Kafka's replaceSegments: .cleaned -> .swap (last group first), old -> .deleted, .swap -> final. */
    for (size_t i = c->nouts; i-- > 0;) {
        rc = log_segment_add_suffix(c->outs[i].s, ".swap");
        if (rc) {
            LOG_ERROR("log", "%s: cannot rename the cleaned segment %s; discarding the clean", log->name,
                      c->outs[i].s->stem);
            discard_outputs(c);
            job_free(c);
            return rc;
        }
    }
    if (c->stop_after == 2)
        goto crash;
    int64_t now = c->now_ms;
    rc = plog_remove_segments(log, 0, c->nsegs, now, "replaced by its compacted copy");
    if (rc)
        LOG_ERROR("log", "%s: renaming replaced segments failed: %s", log->name, ferry_strerror(rc));
    if (c->stop_after == 3)
        goto crash;
    for (size_t i = 0; i < c->nouts; i++) {
        int r = log_segment_add_suffix(c->outs[i].s, "");
        if (r && rc == 0)
            rc = r;
    }
    if (c->stop_after == 4)
        goto crash;
    int r = insert_front(log, c);
    if (r) {
        LOG_ERROR("log", "%s: out of memory while swapping in cleaned segments; the next open completes it",
                  log->name);
        job_free(c);
        return r;
    }
    log->dir_gen++;
    log->cleaner_offset = c->end_offset;
    log->tombstone_horizon = c->min_horizon;
    plog_clean_store_checkpoint(log);
    LOG_INFO("log", "%s: cleaned offsets [%lld, %lld): %zu segment(s) -> %zu, %llu -> %llu bytes, %lld record(s) "
                    "kept, %lld removed",
             log->name, (long long)log->segs[0]->base_offset, (long long)c->end_offset, c->nsegs, c->nouts, (unsigned long long)c->bytes_before, (unsigned long long)c->bytes_after, (long long)c->kept,
             (long long)c->dropped);
    job_free(c);
    return rc;
crash:
    job_free(c);
    return FERRY_EIO;
}

int plog_clean_sync(struct plog *log, int64_t now_ms, int64_t high_watermark)
{
    struct plog_clean *c;
    int rc = plog_clean_begin(log, now_ms, high_watermark, &c);
    if (rc == FERRY_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    return plog_clean_end(log, c, plog_clean_run(c));
}
