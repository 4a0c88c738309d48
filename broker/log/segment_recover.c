/* segment_recover: loading a segment found on disk and Kafka-style crash recovery of one segment (see
 * segment.h). Nothing here trusts file content: every length and offset is bounds-checked before use. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "log_fs.h"
#include "segment.h"

int log_segment_load(struct log_segment *s)
{
    if (s->disk_size > INT32_MAX)
        return FERRY_ECORRUPT;
    int rc = log_oindex_check(&s->oidx, s->size);
    if (rc)
        return rc;
    /* The batch at the last index entry must be the one the entry names; then scan the tail. */
    uint32_t pos = s->oidx.f.entries > 0 ? s->oidx.last.position : 0;
    struct rb_header h;
    int64_t next = s->base_offset, tail_max_ts = -1, tail_max_off = s->base_offset;
    bool first = true;
    while ((rc = log_segment_header_at(s, pos, &h)) == 0) {
        int64_t last = h.base_offset + h.last_offset_delta;
        if (h.base_offset < next || last - s->base_offset > INT32_MAX)
            return FERRY_ECORRUPT;
        if (first && s->oidx.f.entries > 0 && last != s->oidx.last.offset)
            return FERRY_ECORRUPT;
        first = false;
        if (h.max_timestamp > tail_max_ts) {
            tail_max_ts = h.max_timestamp;
            tail_max_off = last;
        }
        next = last + 1;
        pos += (uint32_t)h.batch_length + RB_LOG_OVERHEAD;
    }
    if (rc != FERRY_ERANGE)
        return rc;
    if (s->oidx.f.entries > 0 && first)
        return FERRY_ECORRUPT; /* an entry whose position is the end of the data */
    s->next_offset = next;
    rc = log_tindex_check(&s->tidx, next);
    if (rc)
        return rc;
    s->max_ts = s->tidx.last.timestamp;
    s->max_ts_offset = s->tidx.last.offset;
    if (tail_max_ts > s->max_ts) {
        s->max_ts = tail_max_ts;
        s->max_ts_offset = tail_max_off;
    }
    s->last_index_pos = s->oidx.f.entries > 0 ? s->oidx.last.position : 0;
    s->rolling_ts = -1;
    if (s->size > 0 && log_segment_header_at(s, 0, &h) == 0)
        s->rolling_ts = h.max_timestamp;
    return 0;
}

/* A read-ahead buffer over the file for the sequential recovery scan. */
struct seg_reader {
    const struct log_segment *s;
    uint64_t file_size;
    uint8_t *buf;
    size_t cap;
    uint64_t start;
    size_t len;
};

enum { READER_CHUNK = 1 << 20 };

static int reader_get(struct seg_reader *r, uint64_t pos, size_t n, const uint8_t **p)
{
    if (pos > r->file_size || n > r->file_size - pos)
        return FERRY_ERANGE;
    if (pos >= r->start && pos + n <= r->start + r->len) {
        *p = r->buf + (pos - r->start);
        return 0;
    }
    size_t want = n > READER_CHUNK ? n : READER_CHUNK;
    if (want > r->file_size - pos)
        want = (size_t)(r->file_size - pos);
    if (want > r->cap) {
        uint8_t *nb = ferry_realloc(r->buf, want);
        if (!nb)
            return FERRY_ENOMEM;
        r->buf = nb;
        r->cap = want;
    }
    int rc = log_pread_full(log_segment_fd(r->s), r->buf, want, (off_t)pos);
    if (rc) {
        r->len = 0;
        return rc == FERRY_ERANGE ? FERRY_ECORRUPT : rc;
    }
    r->start = pos;
    r->len = want;
    *p = r->buf;
    return 0;
}

/* Copies [from, file_size) of the segment into a fresh side file `<stem>.log.corrupt[.N]`. */
static int save_tail(const struct log_segment *s, struct seg_reader *r, uint64_t from, char **side_path)
{
    char *path = NULL;
    int fd = -1;
    for (int n = 0; n < 1000 && fd < 0; n++) {
        ferry_free(path);
        path = n == 0 ? log_path_fmt("%s.log.corrupt", s->stem) : log_path_fmt("%s.log.corrupt.%d", s->stem, n);
        if (!path)
            return FERRY_ENOMEM;
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        LOG_ERROR("log", "cannot create a side file for the corrupt tail of %s.log: %s", s->stem, strerror(errno));
        ferry_free(path);
        return FERRY_EIO;
    }
    int rc = 0;
    for (uint64_t pos = from; pos < r->file_size && rc == 0;) {
        size_t n = r->file_size - pos > READER_CHUNK ? READER_CHUNK : (size_t)(r->file_size - pos);
        const uint8_t *p;
        rc = reader_get(r, pos, n, &p);
        if (rc == 0)
            rc = log_pwrite_full(fd, p, n, (off_t)(pos - from));
        pos += n;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = FERRY_EIO;
    close(fd);
    if (rc) {
        unlink(path);
        ferry_free(path);
        return rc;
    }
    *side_path = path;
    return 0;
}

int64_t log_segment_recover(struct log_segment *s, int32_t index_interval, log_segment_batch_fn on_batch, void *arg)
{
    int rc = log_oindex_reset(&s->oidx);
    if (rc == 0)
        rc = log_tindex_reset(&s->tidx);
    if (rc)
        return rc;
    struct seg_reader r = {.s = s, .file_size = s->disk_size};
    s->next_offset = s->base_offset;
    s->max_ts = -1;
    s->max_ts_offset = s->base_offset;
    s->rolling_ts = -1;
    s->last_index_pos = 0;
    uint64_t pos = 0;
    const char *why = NULL;
    while (pos < r.file_size) {
        const uint8_t *p;
        struct rb_header h;
        rc = reader_get(&r, pos, RB_HEADER_SIZE, &p);
        if (rc == FERRY_ERANGE) {
            why = "a partial batch header";
            break;
        }
        if (rc)
            goto free_reader;
        rb_parse_header(p, RB_HEADER_SIZE, &h);
        if (h.batch_length < RB_HEADER_SIZE - RB_LOG_OVERHEAD) {
            why = "a bad batch length";
            break;
        }
        size_t len = (size_t)h.batch_length + RB_LOG_OVERHEAD;
        if (len > r.file_size - pos) {
            why = "a batch cut short by the end of the file";
            break;
        }
        if (pos + len > INT32_MAX) {
            why = "data past the 2 GiB a segment can index";
            break;
        }
        rc = reader_get(&r, pos, len, &p);
        if (rc)
            goto free_reader;
        int vrc = rb_validate(p, len, &h);
        if (vrc) {
            why = vrc == FERRY_ECORRUPT ? "a CRC mismatch" : vrc == FERRY_EUNSUPPORTED ? "a batch that is not magic 2"
                                                                                  : "a malformed batch";
            break;
        }
        int64_t last = h.base_offset + h.last_offset_delta;
        if (h.base_offset < s->next_offset || h.base_offset > INT64_MAX - h.last_offset_delta ||
            last - s->base_offset > INT32_MAX) {
            why = "an offset out of order";
            break;
        }
        if (h.max_timestamp > s->max_ts) {
            s->max_ts = h.max_timestamp;
            s->max_ts_offset = last;
        }
        if (pos == 0)
            s->rolling_ts = h.max_timestamp;
        if ((int64_t)pos - (int64_t)s->last_index_pos > index_interval) {
            rc = log_oindex_append(&s->oidx, last, (uint32_t)pos);
            if (rc == 0)
                rc = log_tindex_maybe_append(&s->tidx, s->max_ts, s->max_ts_offset, true);
            if (rc)
                goto free_reader;
            s->last_index_pos = (uint32_t)pos;
        }
        if (on_batch)
            on_batch(arg, &h);
        s->next_offset = last + 1;
        pos += len;
    }
    int64_t cut = (int64_t)(r.file_size - pos);
    if (cut > 0) {
        char *side = NULL;
        rc = save_tail(s, &r, pos, &side);
        if (rc)
            goto free_reader;
        LOG_ERROR("log", "found %s in %s.log at byte position %llu: truncating the segment there; the %lld bytes "
                         "cut off are kept in %s",
                  why, s->stem, (unsigned long long)pos, (long long)cut, side);
        ferry_free(side);
        if (ftruncate(log_segment_fd(s), (off_t)pos) != 0 || fsync(log_segment_fd(s)) != 0) {
            rc = FERRY_EIO;
            goto free_reader;
        }
    }
    s->size = (uint32_t)pos;
    s->disk_size = pos;
    rc = log_tindex_maybe_append(&s->tidx, s->max_ts, s->max_ts_offset, true);
    if (rc == 0)
        rc = log_segment_write_out_indexes(s);
    if (rc)
        goto free_reader;
    ferry_free(r.buf);
    return cut;
free_reader:
    ferry_free(r.buf);
    return rc;
}

int log_segment_move_aside(struct log_segment *s)
{
    int rc = 0;
    char *from = log_segment_log_path(s);
    char *to = NULL;
    for (int n = 0; n < 1000 && from; n++) {
        ferry_free(to);
        to = n == 0 ? log_path_fmt("%s.log.corrupt", s->stem) : log_path_fmt("%s.log.corrupt.%d", s->stem, n);
        if (!to || !log_path_exists(to))
            break;
    }
    if (!from || !to) {
        rc = FERRY_ENOMEM;
        goto close_segment;
    }
    if (rename(from, to) != 0) {
        LOG_ERROR("log", "cannot move %s aside to %s: %s", from, to, strerror(errno));
        rc = FERRY_EIO;
        goto close_segment;
    }
    LOG_ERROR("log", "segment %s follows a corruption point: moved out of the log to %s", from, to);
    for (size_t i = 0; i < 2; i++) {
        const char *p = i == 0 ? s->oidx.f.file.path : s->tidx.f.file.path;
        if (p && unlink(p) != 0 && errno != ENOENT)
            LOG_WARN("log", "cannot delete %s: %s", p, strerror(errno));
    }
close_segment:
    ferry_free(from);
    ferry_free(to);
    log_segment_close(s);
    return rc;
}
