/* time_index: see time_index.h. */
#include "time_index.h"

#include "broker/common/ferry_err.h"
#include "broker/proto/proto_buf.h"

static void decode(const struct log_tindex *ix, const uint8_t *e, struct log_tindex_entry *out)
{
    out->timestamp = (int64_t)proto_be64(e);
    out->offset = ix->f.base_offset + (int32_t)proto_be32(e + 8);
}

static int read_entry(const struct log_tindex *ix, int32_t i, struct log_tindex_entry *out)
{
    uint8_t e[LOG_TINDEX_ENTRY_SIZE];
    int rc = log_idxfile_read(&ix->f, i, e);
    if (rc == 0)
        decode(ix, e, out);
    return rc;
}

int log_tindex_open(struct log_tindex *ix, char *path, int64_t base_offset, int32_t index_bytes, bool *suspect)
{
    ix->last = (struct log_tindex_entry){-1, base_offset};
    return log_idxfile_open(&ix->f, path, base_offset, LOG_TINDEX_ENTRY_SIZE, index_bytes / LOG_TINDEX_ENTRY_SIZE,
                            suspect);
}

void log_tindex_close(struct log_tindex *ix) { log_idxfile_close(&ix->f); }

struct check_state {
    const struct log_tindex *ix;
    int64_t max_rel;
    int64_t prev_ts;
    int32_t prev_rel;
};

static int check_entry(void *arg, int32_t i, const uint8_t *e)
{
    struct check_state *st = arg;
    int64_t ts = (int64_t)proto_be64(e);
    int32_t rel = (int32_t)proto_be32(e + 8);
    if (rel < 0 || rel > st->max_rel || ts < 0)
        return FERRY_ECORRUPT;
    if (i > 0 && (ts <= st->prev_ts || rel < st->prev_rel))
        return FERRY_ECORRUPT;
    st->prev_ts = ts;
    st->prev_rel = rel;
    return 0;
}

int log_tindex_check(struct log_tindex *ix, int64_t next_offset)
{
    struct check_state st = {ix, next_offset - 1 - ix->f.base_offset, -1, 0};
    int rc = log_idxfile_scan(&ix->f, check_entry, &st);
    if (rc)
        return rc == FERRY_ENOMEM ? rc : FERRY_ECORRUPT;
    ix->last = (struct log_tindex_entry){-1, ix->f.base_offset};
    if (ix->f.entries > 0)
        ix->last = (struct log_tindex_entry){st.prev_ts, ix->f.base_offset + st.prev_rel};
    return 0;
}

int log_tindex_maybe_append(struct log_tindex *ix, int64_t timestamp, int64_t offset, bool skip_full_check)
{
    if (!skip_full_check && log_tindex_full(ix))
        return 0;
    if (timestamp <= ix->last.timestamp || (ix->f.entries > 0 && offset < ix->last.offset))
        return 0;
    int64_t rel = offset - ix->f.base_offset;
    if (rel < 0 || rel > INT32_MAX)
        return FERRY_ERANGE;
    uint8_t e[LOG_TINDEX_ENTRY_SIZE];
    proto_put_be64(e, (uint64_t)timestamp);
    proto_put_be32(e + 8, (uint32_t)rel);
    int rc = log_idxfile_append(&ix->f, e);
    if (rc == 0)
        ix->last = (struct log_tindex_entry){timestamp, offset};
    return rc;
}

int log_tindex_lookup(const struct log_tindex *ix, int64_t timestamp, struct log_tindex_entry *out)
{
    *out = (struct log_tindex_entry){-1, ix->f.base_offset};
    if (ix->f.entries == 0)
        return 0;
    if (timestamp >= ix->last.timestamp) {
        *out = ix->last;
        return 0;
    }
    int32_t lo = 0, hi = ix->f.entries - 1;
    struct log_tindex_entry e;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        int rc = read_entry(ix, mid, &e);
        if (rc)
            return rc;
        if (e.timestamp <= timestamp) {
            *out = e;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return 0;
}

int log_tindex_truncate_to(struct log_tindex *ix, int64_t offset)
{
    int32_t lo = 0, hi = ix->f.entries - 1, keep = ix->f.entries;
    struct log_tindex_entry e;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        int rc = read_entry(ix, mid, &e);
        if (rc)
            return rc;
        if (e.offset >= offset) {
            keep = mid;
            hi = mid - 1;
        } else {
            lo = mid + 1;
        }
    }
    int rc = log_idxfile_truncate(&ix->f, keep);
    if (rc)
        return rc;
    ix->last = (struct log_tindex_entry){-1, ix->f.base_offset};
    if (keep > 0)
        return read_entry(ix, keep - 1, &ix->last);
    return 0;
}

int log_tindex_reset(struct log_tindex *ix)
{
    ix->last = (struct log_tindex_entry){-1, ix->f.base_offset};
    return log_idxfile_truncate(&ix->f, 0);
}
