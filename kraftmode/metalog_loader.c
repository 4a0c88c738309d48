/* metalog_loader: see metalog_loader.h. */
#include "kraftmode/metalog_loader.h"

#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "kraftmode/metalog_record.h"

#define REC_BEGIN_TXN 23
#define REC_END_TXN 24
#define REC_ABORT_TXN 25

void metalog_loader_init(struct metalog_loader *l, struct md_image *img, struct md_delta *delta)
{
    memset(l, 0, sizeof *l);
    l->img = img;
    l->delta = delta;
    l->last_epoch = -1;
    l->leader_id = -1;
    l->txn_start = -1;
}

void metalog_loader_free(struct metalog_loader *l)
{
    ferry_free(l->txn_buf);
    l->txn_buf = NULL;
    l->txn_len = l->txn_cap = 0;
}

void metalog_loader_abort_txn(struct metalog_loader *l)
{
    if (l->in_txn)
        LOG_WARN("kraft", "dropping the records of the metadata transaction begun at offset %lld",
                 (long long)l->txn_start);
    l->in_txn = false;
    l->txn_len = 0;
    l->txn_start = -1;
}

static int apply(struct metalog_loader *l, const struct proto_message *m, void *data, int64_t offset)
{
    int rc = md_image_apply(l->img, m, data, offset, l->delta);
    if (rc == FERRY_ENOMEM)
        return rc;
    if (rc) {
        l->refused++;
        LOG_ERROR("kraft", "%s at offset %lld could not be applied to the metadata image", m->name, (long long)offset);
        return 0;
    }
    l->applied++;
    return 0;
}

static int hold(struct metalog_loader *l, int64_t offset, const uint8_t *value, uint32_t len)
{
    size_t need = l->txn_len + 12 + len;
    if (need > l->txn_cap) {
        size_t ncap = l->txn_cap ? l->txn_cap : 4096;
        while (ncap < need)
            ncap *= 2;
        uint8_t *p = ferry_realloc(l->txn_buf, ncap);
        if (!p)
            return FERRY_ENOMEM;
        l->txn_buf = p;
        l->txn_cap = ncap;
    }
    uint8_t *p = l->txn_buf + l->txn_len;
    memcpy(p, &offset, 8);
    memcpy(p + 8, &len, 4);
    memcpy(p + 12, value, len);
    l->txn_len = need;
    return 0;
}

/* Applies the held records of a finished transaction. */
static int release(struct metalog_loader *l)
{
    struct proto_arena a;
    proto_arena_init(&a);
    int rc = 0;
    for (size_t pos = 0; pos < l->txn_len && !rc;) {
        int64_t offset;
        uint32_t len;
        memcpy(&offset, l->txn_buf + pos, 8);
        memcpy(&len, l->txn_buf + pos + 8, 4);
        const struct proto_message *m;
        int16_t v;
        void *data;
        rc = metalog_decode_value(l->txn_buf + pos + 12, len, &a, &m, &v, &data);
        if (!rc)
            rc = apply(l, m, data, offset);
        pos += 12 + len;
    }
    proto_arena_free(&a);
    l->txn_len = 0;
    return rc;
}

/* One data record: transaction markers steer buffering; the rest is applied or held. */
static int record(struct metalog_loader *l, const struct rb_record *rec, const struct metalog_entry *e)
{
    switch (e->m->api_key) {
    case REC_BEGIN_TXN:
        if (l->in_txn)
            LOG_WARN("kraft", "BeginTransactionRecord at offset %lld inside the transaction begun at %lld",
                     (long long)e->offset, (long long)l->txn_start);
        l->in_txn = true;
        l->txn_start = e->offset;
        return apply(l, e->m, e->data, e->offset);
    case REC_END_TXN:
        if (!l->in_txn) {
            LOG_WARN("kraft", "EndTransactionRecord at offset %lld with no open transaction", (long long)e->offset);
            return apply(l, e->m, e->data, e->offset);
        }
        l->in_txn = false;
        l->txn_start = -1;
        {
            int rc = release(l);
            return rc ? rc : apply(l, e->m, e->data, e->offset);
        }
    case REC_ABORT_TXN:
        metalog_loader_abort_txn(l);
        return apply(l, e->m, e->data, e->offset);
    default:
        if (l->in_txn)
            return hold(l, e->offset, rec->value.p, (uint32_t)rec->value.len);
        return apply(l, e->m, e->data, e->offset);
    }
}

int metalog_loader_batch(struct metalog_loader *l, const uint8_t *batch, size_t len)
{
    struct proto_arena a;
    proto_arena_init(&a);
    struct metalog_batch mb;
    int rc = metalog_decode_batch(batch, len, &a, &mb);
    if (rc) {
        struct rb_header h;
        int64_t at = rb_parse_header(batch, len, &h) == 0 ? h.base_offset : -1;
        if (rc != FERRY_ENOMEM)
            LOG_ERROR("kraft", "metadata log batch at offset %lld cannot be decoded: %s", (long long)at,
                      ferry_strerror(rc));
        proto_arena_free(&a);
        return rc;
    }
    l->last_epoch = mb.h.partition_leader_epoch;
    l->next_offset = mb.h.base_offset + mb.h.last_offset_delta + 1;
    if (mb.control) {
        if (mb.control_type == METALOG_CTRL_LEADER_CHANGE && mb.control_data) {
            const struct LeaderChangeMessage *lc = mb.control_data;
            l->leader_id = lc->LeaderId;
        }
        proto_arena_free(&a);
        return 0;
    }
    /* Walk the records again for their raw values (held records are kept as bytes). */
    struct proto_reader r;
    proto_reader_init(&r, batch + RB_HEADER_SIZE, len - RB_HEADER_SIZE);
    for (size_t i = 0; i < mb.n && !rc; i++) {
        struct rb_record rec;
        rc = rb_read_record(&r, &rec);
        if (!rc)
            rc = record(l, &rec, &mb.entries[i]);
    }
    proto_arena_free(&a);
    return rc;
}

int metalog_loader_batch_cb(void *arg, const uint8_t *batch, size_t len) { return metalog_loader_batch(arg, batch, len); }
