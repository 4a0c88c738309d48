/* producer_log: see producer_log.h (producer-state snapshots and rebuild for a partition log). */
#include "producer_log.h"

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/log/producer_snapshot.h"
#include "broker/proto/record_batch.h"

#define REPLAY_CHUNK ((size_t)1 << 20)

int prod_log_replay(struct prod_state *s, const uint8_t *batches, size_t len)
{
    struct rb_iter it;
    rb_iter_init(&it, batches, len);
    const uint8_t *b;
    size_t blen;
    struct rb_header h;
    int rc;
    while ((rc = rb_iter_next(&it, &b, &blen, &h)) == 1) {
        if (h.producer_id < 0 || (h.attributes & RB_ATTR_CONTROL))
            continue;
        int64_t last = h.base_offset + h.last_offset_delta;
        rc = prod_state_update(s, h.producer_id, h.producer_epoch, h.base_sequence,
                               prod_last_seq(h.base_sequence, h.last_offset_delta), h.base_offset, last,
                               h.max_timestamp);
        if (rc)
            return rc;
    }
    return rc < 0 ? rc : 0;
}

static int load_snapshot(struct prod_state *s, const char *dir, int64_t offset)
{
    struct log_psnap_entry *e;
    size_t n;
    int rc = log_psnap_read(dir, offset, &e, &n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        struct prod_entry pe = {.producer_id = e[i].producer_id, .epoch = e[i].epoch, .nbatches = 1,
                                .last_timestamp = e[i].timestamp};
        pe.batches[0] = (struct prod_batch){prod_first_seq(e[i].last_seq, e[i].offset_delta), e[i].last_seq,
                                            e[i].last_offset, e[i].offset_delta, e[i].timestamp};
        rc = prod_state_put(s, &pe);
    }
    ferry_free(e);
    return rc;
}

int prod_log_load(struct prod_state *s, struct plog *log)
{
    prod_state_clear(s);
    const char *dir = plog_dir(log);
    int64_t end = plog_log_end_offset(log), start = plog_log_start_offset(log);
    log_psnap_delete_above(dir, end);
    int64_t *offs;
    size_t n;
    int rc = log_psnap_list(dir, &offs, &n);
    if (rc)
        n = 0, offs = NULL;
    int64_t from = start;
    for (size_t i = n; i-- > 0;) {
        if (offs[i] < start)
            break; /* below the log start: its batches are gone; replay the whole log instead */
        rc = load_snapshot(s, dir, offs[i]);
        if (rc == 0) {
            from = offs[i];
            break;
        }
        prod_state_clear(s);
        LOG_WARN("producer", "%s-%d: producer snapshot at %lld unusable (%s); trying an older one", plog_topic(log),
                 plog_partition(log), (long long)offs[i], ferry_strerror(rc));
    }
    ferry_free(offs);
    rc = 0;
    while (from < end) {
        struct plog_read_result r;
        rc = plog_read(log, from, REPLAY_CHUNK, true, -1, &r);
        if (rc)
            break;
        if (r.len == 0)
            break;
        rc = prod_log_replay(s, r.data, r.len);
        ferry_free(r.data);
        if (rc)
            break;
        from = r.next_offset;
    }
    if (rc)
        LOG_ERROR("producer", "%s-%d: rebuilding the producer state stopped at offset %lld: %s", plog_topic(log),
                  plog_partition(log), (long long)from, ferry_strerror(rc));
    return rc;
}

int prod_log_snapshot(const struct prod_state *s, struct plog *log, int64_t offset, bool sync)
{
    struct log_psnap_entry *e = NULL;
    if (s->n) {
        e = ferry_calloc(s->n, sizeof *e);
        if (!e)
            return FERRY_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct prod_entry *pe = &s->entries[i];
        if (pe->nbatches == 0)
            continue;
        const struct prod_batch *b = &pe->batches[pe->nbatches - 1];
        e[k++] = (struct log_psnap_entry){pe->producer_id, pe->epoch, b->last_seq, b->last_offset, b->offset_delta,
                                          b->timestamp, -1, -1};
    }
    int rc = log_psnap_write(plog_dir(log), offset, e, k, sync);
    ferry_free(e);
    return rc;
}
