/* offset_index: see offset_index.h. */
#include "offset_index.h"

#include "broker/common/ferry_err.h"
#include "broker/proto/proto_buf.h"

static void decode(const struct log_oindex *ix, const uint8_t *e, struct log_oindex_entry *out)
{
    out->offset = ix->f.base_offset + (int32_t)proto_be32(e);
    out->position = proto_be32(e + 4);
}

static int read_entry(const struct log_oindex *ix, int32_t i, struct log_oindex_entry *out)
{
    uint8_t e[LOG_OINDEX_ENTRY_SIZE];
    int rc = log_idxfile_read(&ix->f, i, e);
    if (rc == 0)
        decode(ix, e, out);
    return rc;
}

int log_oindex_open(struct log_oindex *ix, char *path, int64_t base_offset, int32_t index_bytes, bool *suspect)
{
    ix->last = (struct log_oindex_entry){base_offset, 0};
    return log_idxfile_open(&ix->f, path, base_offset, LOG_OINDEX_ENTRY_SIZE, index_bytes / LOG_OINDEX_ENTRY_SIZE,
                            suspect);
}

void log_oindex_close(struct log_oindex *ix) { log_idxfile_close(&ix->f); }

struct check_state {
    const struct log_oindex *ix;
    uint64_t log_size;
    int32_t prev_rel;
    uint32_t prev_pos;
};

static int check_entry(void *arg, int32_t i, const uint8_t *e)
{
    struct check_state *st = arg;
    int32_t rel = (int32_t)proto_be32(e);
    int32_t pos = (int32_t)proto_be32(e + 4);
    if (rel < 0 || pos < 0 || (uint64_t)pos >= st->log_size)
        return FERRY_ECORRUPT;
    if (i > 0 && (rel <= st->prev_rel || (uint32_t)pos < st->prev_pos))
        return FERRY_ECORRUPT;
    st->prev_rel = rel;
    st->prev_pos = (uint32_t)pos;
    return 0;
}

int log_oindex_check(struct log_oindex *ix, uint64_t log_size)
{
    struct check_state st = {ix, log_size, 0, 0};
    int rc = log_idxfile_scan(&ix->f, check_entry, &st);
    if (rc)
        return rc == FERRY_ENOMEM ? rc : FERRY_ECORRUPT;
    ix->last = (struct log_oindex_entry){ix->f.base_offset, 0};
    if (ix->f.entries > 0)
        ix->last = (struct log_oindex_entry){ix->f.base_offset + st.prev_rel, st.prev_pos};
    return 0;
}

int log_oindex_append(struct log_oindex *ix, int64_t offset, uint32_t position)
{
    int64_t rel = offset - ix->f.base_offset;
    if (rel < 0 || rel > INT32_MAX || position > INT32_MAX)
        return FERRY_ERANGE;
    if (ix->f.entries > 0 && offset <= ix->last.offset)
        return FERRY_EINVAL;
    uint8_t e[LOG_OINDEX_ENTRY_SIZE];
    proto_put_be32(e, (uint32_t)rel);
    proto_put_be32(e + 4, position);
    int rc = log_idxfile_append(&ix->f, e);
    if (rc == 0)
        ix->last = (struct log_oindex_entry){offset, position};
    return rc;
}

int log_oindex_lookup(const struct log_oindex *ix, int64_t target, struct log_oindex_entry *out)
{
    *out = (struct log_oindex_entry){ix->f.base_offset, 0};
    if (ix->f.entries == 0 || target < ix->f.base_offset)
        return 0;
    if (target >= ix->last.offset) {
        *out = ix->last;
        return 0;
    }
    /* Largest slot with offset <= target. */
    int32_t lo = 0, hi = ix->f.entries - 1, found = -1;
    struct log_oindex_entry e, best = *out;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        int rc = read_entry(ix, mid, &e);
        if (rc)
            return rc;
        if (e.offset <= target) {
            found = mid;
            best = e;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    if (found >= 0)
        *out = best;
    return 0;
}

int log_oindex_truncate_to(struct log_oindex *ix, int64_t offset)
{
    /* First slot with offset >= target: everything from there goes. */
    int32_t lo = 0, hi = ix->f.entries - 1, keep = ix->f.entries;
    struct log_oindex_entry e;
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
    ix->last = (struct log_oindex_entry){ix->f.base_offset, 0};
    if (keep > 0)
        return read_entry(ix, keep - 1, &ix->last);
    return 0;
}

int log_oindex_reset(struct log_oindex *ix)
{
    ix->last = (struct log_oindex_entry){ix->f.base_offset, 0};
    return log_idxfile_truncate(&ix->f, 0);
}
