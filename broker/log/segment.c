/* segment: see segment.h. Opening, appending, finding batches, truncation and renames; loading and crash
 * recovery are in segment_recover.c. */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "log_fs.h"

char *log_segment_log_path(const struct log_segment *s) { return log_path_fmt("%s.log%s", s->stem, s->suffix); }

static struct log_segment *segment_new(const char *dir, int64_t base_offset, int64_t now_ms)
{
    struct log_segment *s = ferry_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->stem = log_path_fmt("%s/%020lld", dir, (long long)base_offset);
    if (!s->stem) {
        ferry_free(s);
        return NULL;
    }
    s->base_offset = base_offset;
    s->suffix = "";
    s->log.fd = -1;
    s->next_offset = base_offset;
    s->max_ts = -1;
    s->max_ts_offset = base_offset;
    s->rolling_ts = -1;
    s->created_ms = now_ms;
    s->oidx.f.file.fd = -1;
    s->tidx.f.file.fd = -1;
    return s;
}

/* Opens both index files; `*suspect` when one was missing (with data in the log) or has a partial entry. */
static int open_indexes(struct log_segment *s, int32_t index_bytes, bool *suspect)
{
    bool partial = false;
    char *opath = log_path_fmt("%s.index%s", s->stem, s->suffix);
    char *tpath = log_path_fmt("%s.timeindex%s", s->stem, s->suffix);
    bool had_o = opath && log_path_exists(opath), had_t = tpath && log_path_exists(tpath);
    int rc = log_oindex_open(&s->oidx, opath, s->base_offset, index_bytes, &partial);
    if (rc) {
        ferry_free(tpath);
        return rc;
    }
    *suspect = partial || !had_o;
    rc = log_tindex_open(&s->tidx, tpath, s->base_offset, index_bytes, &partial);
    if (rc)
        return rc;
    *suspect = *suspect || partial || !had_t;
    return 0;
}

/* The open failed with errno EMFILE/ENFILE and log_fd_shed closed cached descriptors: worth one more try
 * (loop thread only). The failed attempt left nothing open and at most empty files, which a retry reuses. */
static bool retry_after_shedding(int rc, int64_t base_offset)
{
    if (rc != FERRY_EIO)
        return false;
    int e = errno;
    char what[48];
    snprintf(what, sizeof what, "the files of segment %lld", (long long)base_offset);
    errno = e;
    return log_fd_shed(what);
}

int log_segment_create_suffixed(const char *dir, int64_t base_offset, const char *suffix, int32_t index_bytes,
                                int64_t now_ms, struct log_segment **out)
{
    struct log_segment *s = segment_new(dir, base_offset, now_ms);
    if (!s)
        return FERRY_ENOMEM;
    s->suffix = suffix;
    int e = 0; /* errno of a failed open, given back to the caller */
    int rc = log_file_open(&s->log, log_segment_log_path(s), true, false);
    if (rc) {
        e = errno;
        LOG_ERROR("log", "cannot create segment %s.log%s: %s", s->stem, suffix,
                  rc == FERRY_ENOMEM ? "out of memory" : strerror(e));
        goto close_segment;
    }
    struct stat st;
    if (fstat(s->log.fd, &st) != 0 || st.st_size != 0) {
        LOG_ERROR("log", "cannot create segment %s: a non-empty file is in the way", s->log.path);
        rc = FERRY_EEXIST;
        goto close_segment;
    }
    bool suspect;
    rc = open_indexes(s, index_bytes, &suspect);
    if (rc == 0)
        rc = log_oindex_reset(&s->oidx);
    if (rc == 0)
        rc = log_tindex_reset(&s->tidx);
    if (rc) {
        e = errno;
        LOG_ERROR("log", "cannot create the index files of segment %s%s: %s", s->stem, suffix,
                  rc == FERRY_EIO ? strerror(e) : ferry_strerror(rc));
        goto close_segment;
    }
    *out = s;
    return 0;
close_segment:
    log_segment_close(s);
    errno = e;
    return rc;
}

int log_segment_create(const char *dir, int64_t base_offset, int32_t index_bytes, int64_t now_ms,
                       struct log_segment **out)
{
    int rc = log_segment_create_suffixed(dir, base_offset, "", index_bytes, now_ms, out);
    if (retry_after_shedding(rc, base_offset))
        rc = log_segment_create_suffixed(dir, base_offset, "", index_bytes, now_ms, out);
    if (rc == 0)
        log_segment_manage(*out);
    return rc;
}

static int open_existing(const char *dir, int64_t base_offset, int32_t index_bytes, int64_t now_ms,
                         struct log_segment **out, bool *index_suspect)
{
    struct log_segment *s = segment_new(dir, base_offset, now_ms);
    if (!s)
        return FERRY_ENOMEM;
    int e = 0;
    int rc = log_file_open(&s->log, log_segment_log_path(s), false, false);
    struct stat st;
    if (rc || fstat(s->log.fd, &st) != 0) {
        e = errno;
        LOG_ERROR("log", "cannot open segment %s.log: %s", s->stem, rc == FERRY_ENOMEM ? "out of memory" : strerror(e));
        rc = rc ? rc : FERRY_EIO;
        goto close_segment;
    }
    s->disk_size = (uint64_t)st.st_size;
    s->size = s->disk_size > INT32_MAX ? INT32_MAX : (uint32_t)s->disk_size;
    rc = open_indexes(s, index_bytes, index_suspect);
    if (rc) {
        e = errno;
        LOG_ERROR("log", "cannot open the index files of segment %s: %s", s->stem,
                  rc == FERRY_EIO ? strerror(e) : ferry_strerror(rc));
        goto close_segment;
    }
    if (s->disk_size == 0)
        *index_suspect = false;
    log_segment_manage(s);
    *out = s;
    return 0;
close_segment:
    log_segment_close(s);
    errno = e;
    return rc;
}

int log_segment_open(const char *dir, int64_t base_offset, int32_t index_bytes, int64_t now_ms,
                     struct log_segment **out, bool *index_suspect)
{
    int rc = open_existing(dir, base_offset, index_bytes, now_ms, out, index_suspect);
    if (retry_after_shedding(rc, base_offset))
        rc = open_existing(dir, base_offset, index_bytes, now_ms, out, index_suspect);
    return rc;
}

void log_segment_close(struct log_segment *s)
{
    if (!s)
        return;
    log_file_close(&s->log);
    log_oindex_close(&s->oidx);
    log_tindex_close(&s->tidx);
    ferry_free(s->stem);
    ferry_free(s);
}

void log_segment_manage(struct log_segment *s)
{
    log_file_manage(&s->log);
    log_file_manage(&s->oidx.f.file);
    log_file_manage(&s->tidx.f.file);
}

void log_segment_park_files(struct log_segment *s)
{
    log_file_park(&s->log);
    log_file_park(&s->oidx.f.file);
    log_file_park(&s->tidx.f.file);
}

void log_segment_release_files(struct log_segment *s)
{
    log_file_release(&s->log);
    log_file_release(&s->oidx.f.file);
    log_file_release(&s->tidx.f.file);
}

int log_segment_header_at(const struct log_segment *s, uint32_t pos, struct rb_header *h)
{
    if (pos == s->size)
        return FERRY_ERANGE;
    if (pos > s->size || s->size - pos < RB_HEADER_SIZE)
        return FERRY_ECORRUPT;
    uint8_t hdr[RB_HEADER_SIZE];
    int rc = log_pread_full(log_segment_fd(s), hdr, sizeof hdr, pos);
    if (rc)
        return rc == FERRY_ERANGE ? FERRY_ECORRUPT : rc;
    rb_parse_header(hdr, sizeof hdr, h);
    if (h->magic != 2 || h->batch_length < RB_HEADER_SIZE - RB_LOG_OVERHEAD || h->last_offset_delta < 0 ||
        (uint64_t)h->batch_length + RB_LOG_OVERHEAD > (uint64_t)(s->size - pos) || h->base_offset < s->base_offset ||
        h->base_offset > INT64_MAX - h->last_offset_delta)
        return FERRY_ECORRUPT;
    return 0;
}

static int scan_from(const struct log_segment *s, uint32_t pos, int64_t target, uint32_t *out_pos,
                     struct rb_header *h)
{
    for (;;) {
        int rc = log_segment_header_at(s, pos, h);
        if (rc == FERRY_ERANGE)
            return 0;
        if (rc)
            return rc;
        if (h->base_offset + h->last_offset_delta >= target) {
            *out_pos = pos;
            return 1;
        }
        pos += (uint32_t)h->batch_length + RB_LOG_OVERHEAD;
    }
}

static void warn_bad_index(const struct log_segment *s, uint32_t pos, int64_t target)
{
    char *path = log_segment_log_path(s);
    LOG_WARN("log", "offset index of %s points at a bad position %u (looking for offset %lld); scanning from the start",
             path ? path : s->stem, pos, (long long)target);
    ferry_free(path);
}

int log_segment_find(const struct log_segment *s, int64_t target, uint32_t *pos, struct rb_header *h)
{
    if (target >= s->next_offset)
        return 0;
    struct log_oindex_entry e;
    uint32_t start = 0;
    if (log_oindex_lookup(&s->oidx, target, &e) == 0 && e.position != 0) {
        /* Trust the entry only if the batch there is the one it names. */
        struct rb_header eh;
        if (log_segment_header_at(s, e.position, &eh) == 0 && eh.base_offset + eh.last_offset_delta == e.offset)
            start = e.position;
        else
            warn_bad_index(s, e.position, target);
    }
    int rc = scan_from(s, start, target, pos, h);
    if (rc < 0) {
        char *path = log_segment_log_path(s);
        LOG_ERROR("log", "cannot find offset %lld in %s: the segment does not parse (%s)", (long long)target,
                  path ? path : s->stem, ferry_strerror(rc));
        ferry_free(path);
    }
    return rc;
}

/* Index updates for the batches of an append written at `start`. */
static int index_batches(struct log_segment *s, const uint8_t *data, size_t len, uint32_t start, int32_t interval)
{
    struct rb_iter it;
    rb_iter_init(&it, data, len);
    const uint8_t *batch;
    size_t blen;
    struct rb_header h;
    uint32_t pos = start;
    while (rb_iter_next(&it, &batch, &blen, &h) == 1) {
        int64_t last = h.base_offset + h.last_offset_delta;
        if (h.max_timestamp > s->max_ts) {
            s->max_ts = h.max_timestamp;
            s->max_ts_offset = last;
        }
        if ((int64_t)pos - (int64_t)s->last_index_pos > interval) {
            int rc = log_oindex_append(&s->oidx, last, pos);
            if (rc == 0)
                rc = log_tindex_maybe_append(&s->tidx, s->max_ts, s->max_ts_offset, false);
            if (rc)
                return rc;
            s->last_index_pos = pos;
        }
        s->next_offset = last + 1;
        pos += (uint32_t)blen;
    }
    return 0;
}

int log_segment_append(struct log_segment *s, const uint8_t *data, size_t len, int32_t index_interval)
{
    if (len == 0)
        return 0;
    if ((uint64_t)s->size + len > INT32_MAX)
        return FERRY_ETOOBIG;
    uint32_t old_size = s->size;
    int rc = log_pwrite_full(log_segment_fd(s), data, len, old_size);
    if (rc) {
        char *path = log_segment_log_path(s);
        LOG_ERROR("log", "write of %zu bytes at position %u of %s failed: %s", len, old_size, path ? path : s->stem,
                  strerror(errno));
        ferry_free(path);
        goto restore_log;
    }
    struct log_segment saved = *s; /* for the scalar fields only */
    rc = index_batches(s, data, len, old_size, index_interval);
    if (rc) {
        char *path = log_segment_log_path(s);
        LOG_ERROR("log", "index update for %s failed: %s", path ? path : s->stem, ferry_strerror(rc));
        ferry_free(path);
        log_idxfile_truncate(&s->oidx.f, saved.oidx.f.entries);
        log_idxfile_truncate(&s->tidx.f, saved.tidx.f.entries);
        s->oidx.last = saved.oidx.last;
        s->tidx.last = saved.tidx.last;
        s->next_offset = saved.next_offset;
        s->max_ts = saved.max_ts;
        s->max_ts_offset = saved.max_ts_offset;
        s->last_index_pos = saved.last_index_pos;
        goto restore_log;
    }
    if (old_size == 0) {
        /* Kafka: the largest timestamp of the first append drives segment.ms. */
        struct rb_iter it;
        rb_iter_init(&it, data, len);
        const uint8_t *b;
        size_t blen;
        struct rb_header h;
        int64_t largest = -1;
        while (rb_iter_next(&it, &b, &blen, &h) == 1)
            if (h.max_timestamp > largest)
                largest = h.max_timestamp;
        s->rolling_ts = largest;
    }
    s->size = old_size + (uint32_t)len;
    s->disk_size = s->size;
    return 0;
restore_log:
    if (ftruncate(log_segment_fd(s), old_size) != 0)
        LOG_ERROR("log", "cannot restore the length of segment %s after a failed append", s->stem);
    return rc;
}

/* The timestamp scan inside one batch. */
static int search_batch(const struct log_segment *s, uint32_t pos, const struct rb_header *h, int64_t ts,
                        int64_t min_offset, int64_t *offset, int64_t *timestamp)
{
    int64_t first = h->base_offset > min_offset ? h->base_offset : min_offset;
    bool compressed = (h->attributes & RB_ATTR_COMPRESSION_MASK) != 0;
    if (compressed || (h->attributes & RB_ATTR_LOG_APPEND_TIME)) {
        /* LogAppendTime: every record has the batch's maxTimestamp. Compressed: not decompressed here, so the
         * batch itself answers (its base offset and maxTimestamp). */
        *offset = first;
        *timestamp = h->max_timestamp;
        return 1;
    }
    size_t len = (size_t)h->batch_length + RB_LOG_OVERHEAD;
    uint8_t *buf = ferry_malloc(len);
    if (!buf)
        return FERRY_ENOMEM;
    int rc = log_pread_full(log_segment_fd(s), buf, len, pos);
    if (rc)
        goto free_buf;
    struct proto_reader r;
    proto_reader_init(&r, buf + RB_HEADER_SIZE, len - RB_HEADER_SIZE);
    rc = 0;
    for (int32_t i = 0; i < h->record_count; i++) {
        struct rb_record rec;
        if (rb_read_record(&r, &rec) != 0) {
            rc = FERRY_ECORRUPT;
            break;
        }
        int64_t rts = h->base_timestamp + rec.timestamp_delta;
        int64_t roff = h->base_offset + rec.offset_delta;
        if (rts >= ts && roff >= min_offset) {
            *offset = roff;
            *timestamp = rts;
            rc = 1;
            break;
        }
    }
free_buf:
    ferry_free(buf);
    return rc;
}

int log_segment_find_timestamp(const struct log_segment *s, int64_t ts, int64_t min_offset, int64_t *offset,
                               int64_t *timestamp)
{
    struct log_tindex_entry te;
    struct log_oindex_entry oe;
    int rc = log_tindex_lookup(&s->tidx, ts, &te);
    if (rc)
        return rc;
    int64_t from = te.offset > min_offset ? te.offset : min_offset;
    rc = log_oindex_lookup(&s->oidx, from, &oe);
    if (rc)
        return rc;
    uint32_t start = 0;
    if (oe.position != 0) {
        struct rb_header eh;
        if (log_segment_header_at(s, oe.position, &eh) == 0 && eh.base_offset + eh.last_offset_delta == oe.offset)
            start = oe.position;
        else
            warn_bad_index(s, oe.position, from);
    }
    for (uint32_t pos = start;;) {
        struct rb_header h;
        rc = log_segment_header_at(s, pos, &h);
        if (rc == FERRY_ERANGE)
            return 0;
        if (rc)
            return rc;
        if (h.max_timestamp >= ts && h.base_offset + h.last_offset_delta >= min_offset) {
            rc = search_batch(s, pos, &h, ts, min_offset, offset, timestamp);
            if (rc != 0)
                return rc;
        }
        pos += (uint32_t)h.batch_length + RB_LOG_OVERHEAD;
    }
}

int log_segment_truncate_to(struct log_segment *s, int64_t offset, int64_t now_ms)
{
    uint32_t pos;
    struct rb_header h;
    int rc = log_segment_find(s, offset, &pos, &h);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return 0; /* nothing at or above offset */
    rc = log_oindex_truncate_to(&s->oidx, offset);
    if (rc == 0)
        rc = log_tindex_truncate_to(&s->tidx, offset);
    if (rc)
        return rc;
    if (ftruncate(log_segment_fd(s), pos) != 0)
        return FERRY_EIO;
    s->size = pos;
    s->disk_size = pos;
    /* Recompute what the tail held: next offset and largest timestamp (Kafka's readLargestTimestamp). */
    s->next_offset = s->base_offset;
    s->max_ts = s->tidx.last.timestamp;
    s->max_ts_offset = s->tidx.last.offset;
    s->last_index_pos = s->oidx.f.entries > 0 ? s->oidx.last.position : 0;
    uint32_t p = s->last_index_pos;
    while ((rc = log_segment_header_at(s, p, &h)) == 0) {
        int64_t last = h.base_offset + h.last_offset_delta;
        if (h.max_timestamp > s->max_ts) {
            s->max_ts = h.max_timestamp;
            s->max_ts_offset = last;
        }
        s->next_offset = last + 1;
        p += (uint32_t)h.batch_length + RB_LOG_OVERHEAD;
    }
    if (rc != FERRY_ERANGE)
        return rc;
    if (s->size == 0) {
        s->created_ms = now_ms;
        s->rolling_ts = -1;
        s->max_ts = -1;
        s->max_ts_offset = s->base_offset;
    }
    return 0;
}

int log_segment_seal(struct log_segment *s)
{
    int rc = s->max_ts >= 0 ? log_tindex_maybe_append(&s->tidx, s->max_ts, s->max_ts_offset, true) : 0;
    int orc = log_idxfile_write_out(&s->oidx.f);
    int trc = log_idxfile_write_out(&s->tidx.f);
    return rc ? rc : orc ? orc : trc;
}

int log_segment_write_out_indexes(struct log_segment *s)
{
    int orc = log_idxfile_write_out(&s->oidx.f);
    int trc = log_idxfile_write_out(&s->tidx.f);
    return orc ? orc : trc;
}

int64_t log_segment_largest_timestamp(const struct log_segment *s)
{
    if (s->max_ts >= 0)
        return s->max_ts;
    struct stat st;
    if (!s->log.path || stat(s->log.path, &st) != 0)
        return 0;
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

static const char *const file_exts[] = {".log", ".index", ".timeindex", ".txnindex"};

/* Renames and unlinks build their paths on the stack: removing data must not depend on malloc. */
int log_segment_add_suffix(struct log_segment *s, const char *suffix)
{
    int rc = 0;
    for (size_t i = 0; i < sizeof file_exts / sizeof file_exts[0]; i++) {
        char from[PATH_MAX], to[PATH_MAX];
        if ((size_t)snprintf(from, sizeof from, "%s%s%s", s->stem, file_exts[i], s->suffix) >= sizeof from ||
            (size_t)snprintf(to, sizeof to, "%s%s%s", s->stem, file_exts[i], suffix) >= sizeof to) {
            rc = FERRY_EINVAL;
            continue;
        }
        if (rename(from, to) != 0 && errno != ENOENT) {
            LOG_ERROR("log", "cannot rename %s to %s: %s", from, to, strerror(errno));
            rc = FERRY_EIO;
        }
    }
    s->suffix = suffix;
    /* The descriptors follow the files; the paths must too, for reopens. */
    log_file_set_path(&s->log, log_segment_log_path(s));
    log_file_set_path(&s->oidx.f.file, log_path_fmt("%s.index%s", s->stem, suffix));
    log_file_set_path(&s->tidx.f.file, log_path_fmt("%s.timeindex%s", s->stem, suffix));
    return rc;
}

void log_segment_unlink_files(const char *stem, const char *suffix)
{
    for (size_t i = 0; i < sizeof file_exts / sizeof file_exts[0]; i++) {
        char path[PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s%s%s", stem, file_exts[i], suffix) >= sizeof path)
            continue;
        if (unlink(path) != 0 && errno != ENOENT)
            LOG_WARN("log", "cannot delete %s: %s", path, strerror(errno));
    }
}
