/* cleaner_filter: what the cleaned log keeps of one batch (internal; Kafka's MemoryRecords.filterTo with
 * the LogCleaner's record predicate). See cleaner.h for the rules. */
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/proto/compression.h"
#include "cleaner_internal.h"

int clean_batch_records(const uint8_t *batch, size_t len, const struct rb_header *h, const uint8_t **recs,
                        size_t *recs_len, uint8_t **owned)
{
    *owned = NULL;
    if (len < RB_HEADER_SIZE)
        return FERRY_ECORRUPT;
    int codec = h->attributes & RB_ATTR_COMPRESSION_MASK;
    if (codec == 0) {
        *recs = batch + RB_HEADER_SIZE;
        *recs_len = len - RB_HEADER_SIZE;
        return 0;
    }
    int rc = compression_decompress(codec, batch + RB_HEADER_SIZE, len - RB_HEADER_SIZE, CLEAN_MAX_DECOMPRESSED,
                                    owned, recs_len);
    if (rc == 0)
        *recs = *owned;
    return rc;
}

int clean_for_each_record(const struct rb_header *h, const uint8_t *recs, size_t recs_len, clean_record_fn fn,
                          void *arg)
{
    struct proto_reader r;
    proto_reader_init(&r, recs, recs_len);
    for (int32_t i = 0; i < h->record_count; i++) {
        struct rb_record rec;
        if (rb_read_record(&r, &rec) != 0 || r.err)
            return FERRY_ECORRUPT;
        int rc = fn(arg, h->base_offset + rec.offset_delta, &rec);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static size_t zz_size32(int32_t v) { return proto_uvarint_size(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)); }
static size_t zz_size64(int64_t v) { return proto_uvarint_size(((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); }

/* Writes a batch header with placeholders for length and CRC; returns its start. */
static size_t begin_batch(struct proto_writer *out, const struct rb_header *h, int64_t base, int16_t attributes,
                          int32_t last_delta, int64_t base_ts, int64_t max_ts, int32_t count)
{
    size_t start = out->len;
    int32_t seq = h->base_sequence;
    if (seq >= 0)
        seq = (int32_t)(((int64_t)seq + (base - h->base_offset)) % ((int64_t)INT32_MAX + 1));
    proto_write_i64(out, base);
    proto_write_i32(out, 0); /* batchLength */
    proto_write_i32(out, h->partition_leader_epoch);
    proto_write_i8(out, 2);
    proto_write_i32(out, 0); /* crc */
    proto_write_i16(out, attributes);
    proto_write_i32(out, last_delta);
    proto_write_i64(out, base_ts);
    proto_write_i64(out, max_ts);
    proto_write_i64(out, h->producer_id);
    proto_write_i16(out, h->producer_epoch);
    proto_write_i32(out, seq);
    proto_write_i32(out, count);
    return start;
}

static void finish_batch(struct proto_writer *out, size_t start)
{
    if (out->err)
        return;
    uint8_t *b = out->buf + start;
    size_t len = out->len - start;
    proto_put_be32(b + 8, (uint32_t)(len - RB_LOG_OVERHEAD));
    proto_put_be32(b + 17, rb_compute_crc(b, len));
}

void clean_write_empty_batch(struct proto_writer *out, const struct rb_header *h, int64_t base, int64_t last)
{
    int16_t attrs = (int16_t)(h->attributes & ~(RB_ATTR_COMPRESSION_MASK | CLEAN_ATTR_DELETE_HORIZON));
    int64_t ts = h->max_timestamp;
    size_t start = begin_batch(out, h, base, attrs, (int32_t)(last - base), ts, ts, 0);
    finish_batch(out, start);
}

struct kept {
    int64_t offset;
    int64_t ts;
    struct rb_record rec;
};

struct walk {
    struct clean_filter *f;
    const struct rb_header *h;
    int64_t horizon; /* the batch's delete horizon, -1 if none */
    struct kept *kept;
    int32_t nkept;
    bool kept_tombstone;
};

static int judge(void *arg, int64_t offset, const struct rb_record *rec)
{
    struct walk *w = arg;
    bool keep;
    if (rec->key.len < 0) {
        keep = false; /* Kafka's cleaner drops records without a key */
    } else {
        int64_t latest = clean_map_get(w->f->keys, rec->key.p, (size_t)rec->key.len);
        bool tombstone = rec->value.len < 0;
        bool retain_delete = w->horizon < 0 || w->horizon > w->f->now_ms;
        keep = offset >= latest && (!tombstone || retain_delete);
        if (keep && tombstone)
            w->kept_tombstone = true;
    }
    if (!keep) {
        w->f->records_dropped++;
        return 0;
    }
    w->f->records_kept++;
    w->kept[w->nkept++] = (struct kept){offset, w->h->base_timestamp + rec->timestamp_delta, *rec};
    return 0;
}

static void write_record(struct proto_writer *out, const struct kept *k, int64_t base, int64_t base_ts)
{
    int64_t tsd = k->ts - base_ts;
    int32_t od = (int32_t)(k->offset - base);
    int32_t kl = (int32_t)k->rec.key.len, vl = (int32_t)k->rec.value.len;
    size_t body = 1 + zz_size64(tsd) + zz_size32(od) + zz_size32(kl) + (size_t)(kl > 0 ? kl : 0) + zz_size32(vl) +
                  (size_t)(vl > 0 ? vl : 0) + zz_size32(k->rec.header_count) + k->rec.headers_len;
    proto_write_varint(out, (int32_t)body);
    proto_write_i8(out, 0);
    proto_write_varlong(out, tsd);
    proto_write_varint(out, od);
    proto_write_varint(out, kl);
    if (kl > 0)
        proto_write_raw(out, k->rec.key.p, (size_t)kl);
    proto_write_varint(out, vl);
    if (vl > 0)
        proto_write_raw(out, k->rec.value.p, (size_t)vl);
    proto_write_varint(out, k->rec.header_count);
    if (k->rec.headers_len)
        proto_write_raw(out, k->rec.headers, k->rec.headers_len);
}

/* Writes kept[from, to) (consecutive offsets) as one uncompressed batch. */
static void write_run(struct proto_writer *out, const struct walk *w, int32_t from, int32_t to)
{
    const struct rb_header *h = w->h;
    int64_t base = w->kept[from].offset;
    int64_t max_ts = -1;
    for (int32_t i = from; i < to; i++)
        if (w->kept[i].ts > max_ts)
            max_ts = w->kept[i].ts;
    if (h->attributes & RB_ATTR_LOG_APPEND_TIME)
        max_ts = h->max_timestamp;
    int16_t attrs = (int16_t)(h->attributes & ~(RB_ATTR_COMPRESSION_MASK | CLEAN_ATTR_DELETE_HORIZON));
    int64_t base_ts = w->kept[from].ts;
    if (w->horizon >= 0) {
        attrs |= CLEAN_ATTR_DELETE_HORIZON;
        base_ts = w->horizon;
    }
    size_t start = begin_batch(out, h, base, attrs, (int32_t)(w->kept[to - 1].offset - base), base_ts, max_ts,
                               to - from);
    for (int32_t i = from; i < to; i++)
        write_record(out, &w->kept[i], base, base_ts);
    finish_batch(out, start);
}

static bool producer_last_batch(const struct clean_filter *f, const struct rb_header *h)
{
    if (h->producer_id < 0)
        return false;
    uint8_t pid[8];
    proto_put_be64(pid, (uint64_t)h->producer_id);
    return clean_map_get(f->producers, pid, sizeof pid) == h->base_offset;
}

int clean_filter_batch(struct clean_filter *f, const uint8_t *batch, size_t len, const struct rb_header *h,
                       struct proto_writer *out, int64_t *next_offset)
{
    int64_t last = h->base_offset + h->last_offset_delta;
    const uint8_t *recs;
    size_t recs_len;
    uint8_t *owned = NULL;
    if ((h->attributes & RB_ATTR_CONTROL) || h->record_count == 0 ||
        clean_batch_records(batch, len, h, &recs, &recs_len, &owned) != 0) {
        /* kept as is: control batches, empty batches, and a compressed batch that does not decompress */
        proto_write_raw(out, batch, len);
        *next_offset = last + 1;
        return out->err;
    }
    struct walk w = {.f = f, .h = h, .horizon = (h->attributes & CLEAN_ATTR_DELETE_HORIZON) ? h->base_timestamp : -1};
    w.kept = ferry_malloc((size_t)h->record_count * sizeof *w.kept);
    int rc = FERRY_ENOMEM;
    if (!w.kept)
        goto free_kept;
    rc = clean_for_each_record(h, recs, recs_len, judge, &w);
    if (rc)
        goto free_kept;
    if (w.kept_tombstone && w.horizon < 0) {
        w.horizon = f->now_ms + f->delete_retention_ms;
        if (w.horizon < f->now_ms)
            w.horizon = INT64_MAX;
    }
    if (w.kept_tombstone && w.horizon < f->min_horizon)
        f->min_horizon = w.horizon;
    if (w.nkept == h->record_count && !(w.kept_tombstone && !(h->attributes & CLEAN_ATTR_DELETE_HORIZON))) {
        proto_write_raw(out, batch, len);
        *next_offset = last + 1;
    } else if (w.nkept == 0) {
        if (producer_last_batch(f, h)) {
            clean_write_empty_batch(out, h, h->base_offset, last);
            *next_offset = last + 1;
        }
    } else {
        int32_t from = 0;
        for (int32_t i = 1; i <= w.nkept; i++) {
            if (i == w.nkept || w.kept[i].offset != w.kept[i - 1].offset + 1) {
                write_run(out, &w, from, i);
                from = i;
            }
        }
        *next_offset = w.kept[w.nkept - 1].offset + 1;
        if (producer_last_batch(f, h) && *next_offset <= last) {
            clean_write_empty_batch(out, h, *next_offset, last);
            *next_offset = last + 1;
        }
    }
    rc = out->err;
free_kept:
    ferry_free(w.kept);
    ferry_free(owned);
    return rc;
}
