/* producer_state: see producer_state.h (Kafka 3.7's per-partition producer state, pure). */
#include "producer_state.h"

#include <stdint.h>

#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/proto/record_batch.h"

void prod_state_init(struct prod_state *s) { memset(s, 0, sizeof *s); }

void prod_state_free(struct prod_state *s)
{
    ferry_free(s->entries);
    memset(s, 0, sizeof *s);
}

void prod_state_clear(struct prod_state *s) { s->n = 0; }

int32_t prod_last_seq(int32_t first_seq, int32_t delta)
{
    /* Kafka's DefaultRecordBatch.incrementSequence */
    if (first_seq > INT32_MAX - delta)
        return delta - (INT32_MAX - first_seq) - 1;
    return first_seq + delta;
}

int32_t prod_first_seq(int32_t last_seq, int32_t delta)
{
    if (last_seq < delta)
        return INT32_MAX - (delta - last_seq) + 1;
    return last_seq - delta;
}

/* Index of producer_id, or of where it would be inserted (*found = 0). */
static size_t find(const struct prod_state *s, int64_t pid, int *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->entries[mid].producer_id < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < s->n && s->entries[lo].producer_id == pid;
    return lo;
}

const struct prod_entry *prod_state_get(const struct prod_state *s, int64_t pid)
{
    int found;
    size_t i = find(s, pid, &found);
    return found ? &s->entries[i] : NULL;
}

static int in_sequence(int32_t last, int32_t next)
{
    return (int64_t)next == (int64_t)last + 1 || (next == 0 && last == INT32_MAX);
}

struct prod_verdict prod_state_check(const struct prod_state *s, int64_t pid, int16_t epoch, int32_t first_seq,
                                     int32_t last_seq)
{
    struct prod_verdict v = {0, 0, -1, -1, -1};
    const struct prod_entry *e = prod_state_get(s, pid);
    if (!e || e->epoch == PROD_NO_EPOCH)
        return v; /* no state: any sequence (Kafka 3.7) */
    if (epoch == e->epoch) {
        for (int i = 0; i < e->nbatches; i++) {
            const struct prod_batch *b = &e->batches[i];
            if (b->first_seq == first_seq && b->last_seq == last_seq) {
                v.duplicate = 1;
                v.dup_first_offset = b->last_offset - b->offset_delta;
                v.dup_last_offset = b->last_offset;
                v.dup_timestamp = b->timestamp;
                return v;
            }
        }
    }
    if (epoch < e->epoch) {
        v.error = KERR_INVALID_PRODUCER_EPOCH;
    } else if (epoch > e->epoch) {
        if (first_seq != 0)
            v.error = KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    } else {
        int32_t last = e->nbatches ? e->batches[e->nbatches - 1].last_seq : -1;
        if (e->nbatches && !in_sequence(last, first_seq))
            v.error = KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    }
    return v;
}

static struct prod_entry *get_or_add(struct prod_state *s, int64_t pid)
{
    int found;
    size_t i = find(s, pid, &found);
    if (found)
        return &s->entries[i];
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        struct prod_entry *ne = ferry_realloc(s->entries, cap * sizeof *ne);
        if (!ne)
            return NULL;
        s->entries = ne;
        s->cap = cap;
    }
    memmove(&s->entries[i + 1], &s->entries[i], (s->n - i) * sizeof *s->entries);
    s->n++;
    struct prod_entry *e = &s->entries[i];
    memset(e, 0, sizeof *e);
    e->producer_id = pid;
    e->epoch = PROD_NO_EPOCH;
    return e;
}

int prod_state_update(struct prod_state *s, int64_t pid, int16_t epoch, int32_t first_seq, int32_t last_seq,
                      int64_t first_offset, int64_t last_offset, int64_t max_timestamp)
{
    struct prod_entry *e = get_or_add(s, pid);
    if (!e)
        return FERRY_ENOMEM;
    if (epoch != e->epoch) {
        e->epoch = epoch;
        e->nbatches = 0;
    }
    if (e->nbatches == PROD_BATCHES_RETAINED) {
        memmove(&e->batches[0], &e->batches[1], (PROD_BATCHES_RETAINED - 1) * sizeof e->batches[0]);
        e->nbatches--;
    }
    e->batches[e->nbatches++] = (struct prod_batch){first_seq, last_seq, last_offset,
                                                    (int32_t)(last_offset - first_offset), max_timestamp};
    e->last_timestamp = max_timestamp;
    return 0;
}

int prod_state_put(struct prod_state *s, const struct prod_entry *src)
{
    struct prod_entry *e = get_or_add(s, src->producer_id);
    if (!e)
        return FERRY_ENOMEM;
    *e = *src;
    return 0;
}

static void remove_at(struct prod_state *s, size_t i)
{
    memmove(&s->entries[i], &s->entries[i + 1], (s->n - i - 1) * sizeof *s->entries);
    s->n--;
}

size_t prod_state_expire(struct prod_state *s, int64_t now_ms, int64_t expiration_ms)
{
    size_t removed = 0;
    for (size_t i = 0; i < s->n;) {
        if (now_ms - s->entries[i].last_timestamp >= expiration_ms) {
            remove_at(s, i);
            removed++;
        } else {
            i++;
        }
    }
    return removed;
}

void prod_state_truncate_above(struct prod_state *s, int64_t offset)
{
    for (size_t i = 0; i < s->n;) {
        struct prod_entry *e = &s->entries[i];
        while (e->nbatches && e->batches[e->nbatches - 1].last_offset >= offset)
            e->nbatches--;
        if (e->nbatches == 0) {
            remove_at(s, i);
            continue;
        }
        e->last_timestamp = e->batches[e->nbatches - 1].timestamp;
        i++;
    }
}

struct prod_verdict prod_state_check_records(const struct prod_state *s, const uint8_t *batches, size_t len)
{
    struct prod_verdict v = {0, 0, -1, -1, -1};
    struct rb_iter it;
    rb_iter_init(&it, batches, len);
    const uint8_t *b;
    size_t blen;
    struct rb_header h;
    int64_t prev_pid = -1;
    int16_t prev_epoch = 0;
    int32_t prev_last = 0;
    while (rb_iter_next(&it, &b, &blen, &h) == 1) {
        if (h.producer_id < 0)
            continue;
        int32_t last = prod_last_seq(h.base_sequence, h.last_offset_delta);
        if (h.producer_id == prev_pid) {
            /* follows an earlier batch of this request */
            if (h.producer_epoch < prev_epoch)
                v.error = KERR_INVALID_PRODUCER_EPOCH;
            else if (h.producer_epoch > prev_epoch ? h.base_sequence != 0 : !in_sequence(prev_last, h.base_sequence))
                v.error = KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
        } else {
            v = prod_state_check(s, h.producer_id, h.producer_epoch, h.base_sequence, last);
        }
        if (v.error || v.duplicate)
            return v;
        prev_pid = h.producer_id;
        prev_epoch = h.producer_epoch;
        prev_last = last;
    }
    return v;
}
