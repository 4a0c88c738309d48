/* metalog_tail: see metalog_tail.h. */
#include "metalog_tail.h"

#include <stdbool.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/proto/record_batch.h"

void metalog_tail_init(struct metalog_tail *t, size_t max_bytes)
{
    *t = (struct metalog_tail){.max_bytes = max_bytes};
}

void metalog_tail_free(struct metalog_tail *t)
{
    ferry_free(t->buf);
    ferry_free(t->batches);
    metalog_tail_init(t, t->max_bytes);
}

void metalog_tail_reset(struct metalog_tail *t)
{
    t->len = 0;
    t->nbatches = 0;
    t->base = t->end = 0;
}

/* The index of the first batch whose last offset is >= offset (nbatches if none). */
static size_t batch_holding(const struct metalog_tail *t, int64_t offset)
{
    size_t lo = 0, hi = t->nbatches;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->batches[mid].last < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Keeps the batches from index i on. */
static void drop_before(struct metalog_tail *t, size_t i)
{
    if (i >= t->nbatches) {
        metalog_tail_reset(t);
        return;
    }
    size_t pos = t->batches[i].pos;
    memmove(t->buf, t->buf + pos, t->len - pos);
    t->len -= pos;
    memmove(t->batches, t->batches + i, (t->nbatches - i) * sizeof *t->batches);
    t->nbatches -= i;
    for (size_t k = 0; k < t->nbatches; k++)
        t->batches[k].pos -= pos;
}

static bool grow(void **p, size_t *cap, size_t need, size_t size, size_t first)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : first;
    while (c < need)
        c *= 2;
    void *np = ferry_realloc(*p, c * size);
    if (!np)
        return false;
    *p = np;
    *cap = c;
    return true;
}

void metalog_tail_append(struct metalog_tail *t, const uint8_t *batches, size_t len, int64_t base)
{
    if (len > t->max_bytes) {
        metalog_tail_reset(t); /* too big to keep: the readers use the log */
        return;
    }
    if (t->len == 0 || base != t->end)
        metalog_tail_reset(t);
    if (t->len + len > t->max_bytes) { /* the oldest batches go, down to about half of what may be kept */
        size_t keep = (t->max_bytes - len) / 2, i = 0;
        while (i < t->nbatches && t->len - t->batches[i].pos > keep)
            i++;
        drop_before(t, i);
    }
    size_t len0 = t->len, n0 = t->nbatches;
    if (!grow((void **)&t->buf, &t->cap, t->len + len, 1, 64 * 1024)) {
        metalog_tail_reset(t);
        return;
    }
    memcpy(t->buf + t->len, batches, len);
    struct rb_iter it;
    rb_iter_init(&it, t->buf + len0, len);
    const uint8_t *b;
    size_t blen, whole = 0;
    struct rb_header h;
    while (rb_iter_next(&it, &b, &blen, &h) == 1) {
        if (!grow((void **)&t->batches, &t->batches_cap, t->nbatches + 1, sizeof *t->batches, 256)) {
            metalog_tail_reset(t);
            return;
        }
        t->batches[t->nbatches++] = (struct metalog_tail_batch){(size_t)(b - t->buf), h.base_offset + h.last_offset_delta};
        whole += blen;
    }
    if (whole != len || t->nbatches == n0) {
        metalog_tail_reset(t); /* not whole batches: nothing to trust */
        return;
    }
    t->len = len0 + len;
    t->end = t->batches[t->nbatches - 1].last + 1;
    struct rb_header first; /* the base offset of the oldest batch kept */
    rb_parse_header(t->buf + t->batches[0].pos, t->len - t->batches[0].pos, &first);
    t->base = first.base_offset;
}

void metalog_tail_truncate(struct metalog_tail *t, int64_t offset)
{
    if (offset >= t->end)
        return;
    if (offset <= t->base) {
        metalog_tail_reset(t);
        return;
    }
    size_t i = batch_holding(t, offset);
    struct rb_header h;
    rb_parse_header(t->buf + t->batches[i].pos, t->len - t->batches[i].pos, &h);
    if (h.base_offset < offset) {
        metalog_tail_reset(t); /* inside a batch: the log's truncation decides what stays; read it there */
        return;
    }
    t->len = t->batches[i].pos;
    t->nbatches = i;
    t->end = offset;
}

void metalog_tail_from(const struct metalog_tail *t, int64_t offset, const uint8_t **p, size_t *len)
{
    *p = NULL;
    *len = 0;
    if (t->nbatches == 0 || offset < t->base || offset >= t->end)
        return;
    size_t pos = t->batches[batch_holding(t, offset)].pos;
    *p = t->buf + pos;
    *len = t->len - pos;
}

int metalog_tail_read(const struct metalog_tail *t, int64_t from, int64_t to, size_t max_bytes, uint8_t **buf,
                      size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (t->nbatches == 0 || from < t->base || from >= t->end)
        return 0;
    size_t i = batch_holding(t, from), pos = t->batches[i].pos, n = 0;
    for (; i < t->nbatches && (to < 0 || t->batches[i].last < to); i++) {
        size_t next = i + 1 < t->nbatches ? t->batches[i + 1].pos : t->len;
        if (n > 0 && next - pos > max_bytes)
            break;
        n = next - pos;
    }
    if (n == 0)
        return 1;
    *buf = ferry_malloc(n);
    if (!*buf)
        return FERRY_ENOMEM;
    memcpy(*buf, t->buf + pos, n);
    *len = n;
    return 1;
}
