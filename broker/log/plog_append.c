/* plog_append: the produce/replication hot path (offset assignment, segment roll, one write per append).
 * See log.h. */
#include <string.h>

#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "plog_internal.h"

struct append_scan {
    int64_t first_offset, last_offset;
    int64_t max_ts, max_ts_offset;
    int32_t batches;
    int64_t records;
};

/* Walks the blob once: framing, offsets (assigned on the leader path), epochs, LogAppendTime. */
static int scan_batches(struct plog *log, uint8_t *blob, size_t len, int32_t epoch, int64_t now_ms, unsigned flags,
                        struct append_scan *out)
{
    bool follower = flags & PLOG_APPEND_FOLLOWER;
    struct rb_iter it;
    rb_iter_init(&it, blob, len);
    const uint8_t *cb;
    size_t blen;
    struct rb_header h;
    int64_t next = log->log_end_offset;
    int r;
    *out = (struct append_scan){.first_offset = -1, .max_ts = -1, .max_ts_offset = -1};
    while ((r = rb_iter_next(&it, &cb, &blen, &h)) == 1) {
        uint8_t *b = (uint8_t *)cb; /* the blob is the caller's mutable buffer */
        if (h.magic != 2 || h.last_offset_delta < 0)
            return FERRY_EINVAL;
        if ((int64_t)blen > log->cfg.segment_bytes)
            return FERRY_ETOOBIG;
        if (!follower) {
            rb_set_base_offset(b, next);
            rb_set_leader_epoch(b, epoch);
            if (flags & PLOG_APPEND_LOG_APPEND_TIME)
                rb_set_log_append_time(b, blen, now_ms);
            rb_parse_header(b, blen, &h);
        } else if (h.base_offset < next || h.base_offset > INT64_MAX - h.last_offset_delta - 1) {
            return FERRY_ERANGE;
        }
        int64_t last = h.base_offset + h.last_offset_delta;
        if (out->first_offset < 0)
            out->first_offset = h.base_offset;
        if (h.max_timestamp > out->max_ts) {
            out->max_ts = h.max_timestamp;
            out->max_ts_offset = last;
        }
        out->last_offset = last;
        out->batches++;
        out->records += (int64_t)h.last_offset_delta + 1;
        next = last + 1;
    }
    if (r < 0 || it.partial_tail || out->batches == 0)
        return FERRY_EINVAL;
    if (out->last_offset - out->first_offset > INT32_MAX)
        return FERRY_ERANGE;
    return 0;
}

/* Kafka's LogSegment.shouldRoll, plus the 2 GiB position limit of the index format. */
static const char *roll_reason(const struct plog *log, const struct log_segment *s, size_t len,
                               const struct append_scan *a, int64_t now_ms)
{
    if (s->size == 0)
        return a->last_offset - s->base_offset > INT32_MAX ? "offsets beyond the index range" : NULL;
    if ((int64_t)s->size > log->cfg.segment_bytes - (int64_t)len)
        return "segment.bytes";
    if ((uint64_t)s->size + len > INT32_MAX)
        return "the 2 GiB segment limit";
    int64_t waited = s->rolling_ts >= 0 ? a->max_ts - s->rolling_ts : now_ms - s->created_ms;
    if (waited > log->cfg.segment_ms)
        return "segment.ms";
    if (log_oindex_full(&s->oidx) || log_tindex_full(&s->tidx))
        return "a full index";
    if (a->last_offset - s->base_offset > INT32_MAX)
        return "offsets beyond the index range";
    return NULL;
}

static int roll_at(struct plog *log, int64_t base_offset, int64_t now_ms, const char *why)
{
    struct log_segment *s = plog_active(log);
    if (s->size == 0 && s->base_offset == base_offset)
        return 0;
    int rc = plog_add_segment(log, base_offset, now_ms);
    if (rc)
        LOG_ERROR("log", "%s: cannot roll a new segment at offset %lld: %s", log->name, (long long)base_offset,
                  ferry_strerror(rc));
    else
        LOG_INFO("log", "%s: rolled a new segment at offset %lld in %s (%s)", log->name, (long long)base_offset,
                 log->dir, why);
    return rc;
}

int plog_roll(struct plog *log, int64_t now_ms)
{
    if (plog_active(log)->size == 0)
        return 0;
    return roll_at(log, log->log_end_offset, now_ms, "requested");
}

int plog_append(struct plog *log, uint8_t *batches, size_t len, int32_t leader_epoch, int64_t now_ms,
                unsigned flags, struct plog_append_info *info)
{
    bool follower = flags & PLOG_APPEND_FOLLOWER;
    if (!batches || len == 0 || (!follower && leader_epoch < 0))
        return FERRY_EINVAL;
    struct append_scan a;
    int rc = scan_batches(log, batches, len, leader_epoch, now_ms, flags, &a);
    if (rc)
        return rc;
    const char *why = roll_reason(log, plog_active(log), len, &a, now_ms);
    if (why) {
        rc = roll_at(log, a.first_offset, now_ms, why);
        if (rc)
            return rc;
    }
    rc = log_segment_append(plog_active(log), batches, len, log->cfg.index_interval_bytes);
    if (rc)
        return rc;

    /* Leader epochs: Kafka assigns (epoch, base offset) for every batch; only a new epoch changes the cache. */
    if (!follower) {
        plog_assign_epoch(log, leader_epoch, a.first_offset);
    } else {
        struct rb_iter it;
        rb_iter_init(&it, batches, len);
        const uint8_t *b;
        size_t blen;
        struct rb_header h;
        while (rb_iter_next(&it, &b, &blen, &h) == 1)
            if (h.partition_leader_epoch >= 0)
                plog_assign_epoch(log, h.partition_leader_epoch, h.base_offset);
    }
    log->log_end_offset = a.last_offset + 1;
    if (log->first_unflushed_ms < 0)
        log->first_unflushed_ms = now_ms;
    if (log->flush_in_flight && log->first_append_in_flight_ms < 0)
        log->first_append_in_flight_ms = now_ms;
    if (info) {
        info->first_offset = a.first_offset;
        info->last_offset = a.last_offset;
        info->max_timestamp = a.max_ts;
        info->offset_of_max_timestamp = a.max_ts_offset;
        info->log_append_time = (!follower && (flags & PLOG_APPEND_LOG_APPEND_TIME)) ? now_ms : -1;
        info->log_start_offset = log->log_start_offset;
        info->batch_count = a.batches;
        info->record_count = a.records;
    }
    return 0;
}
