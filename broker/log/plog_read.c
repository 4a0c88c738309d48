/* plog_read: fetch reads (whole batches, KIP-74), ListOffsets by timestamp and the leader epoch queries.
 * See log.h. */
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "log_fs.h"
#include "plog_internal.h"

/* Length of the whole, valid batches at the start of buf (each with last offset < max_offset if >= 0).
 * Every batch's CRC is checked, so that a segment damaged after a clean shutdown (which start-up trusts,
 * as Kafka does) is never served: reads stop before the first bad batch. */
static size_t whole_batches(const uint8_t *buf, size_t len, int64_t max_offset, int64_t *next_offset,
                            bool *corrupt)
{
    struct rb_iter it;
    rb_iter_init(&it, buf, len);
    const uint8_t *b;
    size_t blen;
    struct rb_header h;
    size_t end = 0;
    while (rb_iter_next(&it, &b, &blen, &h) == 1) {
        int64_t last = h.base_offset + h.last_offset_delta;
        if (max_offset >= 0 && last >= max_offset)
            break;
        if (h.magic != 2 || h.last_offset_delta < 0 || rb_validate(b, blen, &h) != 0) {
            *corrupt = true;
            break;
        }
        end += blen;
        *next_offset = last + 1;
    }
    return end;
}

int plog_read(struct plog *log, int64_t offset, size_t max_bytes, bool min_one_batch, int64_t max_offset,
              struct plog_read_result *out)
{
    memset(out, 0, sizeof *out);
    out->first_offset = -1;
    out->next_offset = offset;
    out->log_start_offset = log->log_start_offset;
    out->log_end_offset = log->log_end_offset;
    if (offset < log->log_start_offset || offset > log->log_end_offset)
        return FERRY_ERANGE;
    if (offset == log->log_end_offset)
        return 0;
    struct log_segment *s = NULL;
    uint32_t pos = 0;
    struct rb_header h;
    for (size_t i = plog_segment_index(log, offset); i < log->nsegs; i++) {
        int rc = log_segment_find(log->segs[i], offset, &pos, &h);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            s = log->segs[i];
            break;
        }
    }
    if (!s)
        return 0;
    int64_t first_last = h.base_offset + h.last_offset_delta;
    if (max_offset >= 0 && first_last >= max_offset)
        return 0;
    size_t first_len = (size_t)h.batch_length + RB_LOG_OVERHEAD;
    size_t avail = s->size - pos;
    size_t want = max_bytes < avail ? max_bytes : avail;
    if (want < first_len) {
        if (!min_one_batch)
            return 0;
        want = first_len;
    }
    uint8_t *buf = ferry_malloc(want);
    if (!buf)
        return FERRY_ENOMEM;
    int rc = log_pread_full(log_segment_fd(s), buf, want, pos);
    if (rc) {
        ferry_free(buf);
        LOG_ERROR("log", "%s: read of %zu bytes at position %u of %s.log failed: %s", log->name, want, pos, s->stem,
                  ferry_strerror(rc));
        return rc == FERRY_ERANGE ? FERRY_EIO : rc;
    }
    int64_t next = offset;
    bool corrupt = false;
    size_t len = whole_batches(buf, want, max_offset, &next, &corrupt);
    if (corrupt)
        LOG_ERROR("log", "%s: the batch at position %zu of %s/%s.log fails its checks (corrupt segment); it is not "
                  "served", log->name, (size_t)pos + len, log->dir, s->stem);
    if (len == 0) {
        ferry_free(buf);
        if (!corrupt)
            LOG_ERROR("log", "%s: the batch at position %u of %s/%s.log does not parse", log->name, pos, log->dir,
                      s->stem);
        return FERRY_ECORRUPT;
    }
    out->data = buf;
    out->len = len;
    out->first_offset = h.base_offset;
    out->next_offset = next;
    return 0;
}

int plog_offset_for_timestamp(struct plog *log, int64_t ts, int64_t *offset, int64_t *timestamp)
{
    *timestamp = -1;
    if (ts == PLOG_TS_LATEST) {
        *offset = log->log_end_offset;
        return 0;
    }
    if (ts == PLOG_TS_EARLIEST) {
        *offset = log->log_start_offset;
        return 0;
    }
    if (ts == PLOG_TS_MAX_TIMESTAMP) {
        const struct log_segment *best = NULL;
        for (size_t i = 0; i < log->nsegs; i++)
            if (log->segs[i]->max_ts >= 0 && (!best || log->segs[i]->max_ts > best->max_ts))
                best = log->segs[i];
        if (!best)
            return FERRY_ENOTFOUND;
        *offset = best->max_ts_offset;
        *timestamp = best->max_ts;
        return 0;
    }
    if (ts < 0)
        return FERRY_EINVAL;
    for (size_t i = 0; i < log->nsegs; i++) {
        const struct log_segment *s = log->segs[i];
        if (s->max_ts < ts || s->next_offset <= log->log_start_offset)
            continue;
        int rc = log_segment_find_timestamp(s, ts, log->log_start_offset, offset, timestamp);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
    return FERRY_ENOTFOUND;
}

int32_t plog_latest_epoch(const struct plog *log) { return log_epochs_latest(&log->epochs); }

const struct plog_epoch_entry *plog_epoch_entries(const struct plog *log, size_t *n)
{
    *n = log->epochs.n;
    return log->epochs.e;
}

void plog_end_offset_for_epoch(const struct plog *log, int32_t epoch, int32_t *out_epoch, int64_t *out_end_offset)
{
    log_epochs_end_offset_for(&log->epochs, epoch, log->log_end_offset, out_epoch, out_end_offset);
}
