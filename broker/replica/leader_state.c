/* leader_state: see leader_state.h. */
#include "leader_state.h"

#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"

void rp_leader_init(struct rp_leader *l)
{
    memset(l, 0, sizeof *l);
    l->self = -1;
    l->leader_epoch = -1;
    l->partition_epoch = -1;
    l->high_watermark = 0;
}

void rp_leader_free(struct rp_leader *l)
{
    ferry_free(l->isr);
    ferry_free(l->followers);
    ferry_free(l->pending_isr);
    rp_leader_init(l);
}

static bool ints_has(const int32_t *v, int32_t n, int32_t id)
{
    for (int32_t i = 0; i < n; i++)
        if (v[i] == id)
            return true;
    return false;
}

static struct rp_follower *follower(struct rp_leader *l, int32_t id)
{
    for (int32_t i = 0; i < l->nfollowers; i++)
        if (l->followers[i].id == id)
            return &l->followers[i];
    return NULL;
}

int rp_leader_sync(struct rp_leader *l, int32_t self, int32_t leader_epoch, int32_t partition_epoch,
                   const int32_t *replicas, int32_t nreplicas, const int32_t *isr, int32_t nisr, int64_t leader_end,
                   int64_t high_watermark, int64_t now_ms)
{
    int32_t *new_isr = ferry_malloc(sizeof *new_isr * (size_t)(nisr + 1));
    struct rp_follower *fs = ferry_calloc((size_t)nreplicas + 1, sizeof *fs);
    if (!new_isr || !fs) {
        ferry_free(new_isr);
        ferry_free(fs);
        return FERRY_ENOMEM;
    }
    if (nisr > 0)
        memcpy(new_isr, isr, sizeof *isr * (size_t)nisr);
    bool new_epoch = leader_epoch != l->leader_epoch || self != l->self;
    int32_t nf = 0;
    for (int32_t i = 0; i < nreplicas; i++) {
        if (replicas[i] == self || ints_has(replicas, i, replicas[i]))
            continue;
        struct rp_follower *old = new_epoch ? NULL : follower(l, replicas[i]);
        if (old) {
            fs[nf++] = *old;
            continue;
        }
        /* Kafka's resetReplicaState: log end unknown; an ISR member counts as caught up now */
        fs[nf] = (struct rp_follower){.id = replicas[i], .log_end = -1, .last_fetch_leader_end = -1};
        if (ints_has(isr, nisr, replicas[i]))
            fs[nf].last_caught_up_ms = now_ms;
        nf++;
    }
    ferry_free(l->isr);
    ferry_free(l->followers);
    l->isr = new_isr;
    l->nisr = nisr;
    l->followers = fs;
    l->nfollowers = nf;
    if (new_epoch) {
        l->self = self;
        l->leader_epoch = leader_epoch;
        l->epoch_start = leader_end;
        l->high_watermark = high_watermark < leader_end ? high_watermark : leader_end;
        l->pending = false;
    } else if (l->pending && partition_epoch > l->pending_epoch) {
        l->pending = false; /* the image moved on: our proposal was applied or superseded */
    }
    l->partition_epoch = partition_epoch;
    return 0;
}

bool rp_leader_follower_fetch(struct rp_leader *l, int32_t replica_id, int64_t fetch_offset, int64_t leader_end,
                              int64_t now_ms)
{
    struct rp_follower *f = follower(l, replica_id);
    if (!f)
        return false;
    /* Kafka's ReplicaState.updateFetchStateOrThrow */
    if (fetch_offset >= leader_end) {
        if (now_ms > f->last_caught_up_ms)
            f->last_caught_up_ms = now_ms;
    } else if (f->last_fetch_leader_end >= 0 && fetch_offset >= f->last_fetch_leader_end) {
        if (f->last_fetch_ms > f->last_caught_up_ms)
            f->last_caught_up_ms = f->last_fetch_ms;
    }
    f->log_end = fetch_offset;
    f->last_fetch_leader_end = leader_end;
    f->last_fetch_ms = now_ms;
    return true;
}

static bool caught_up(const struct rp_follower *f, int64_t leader_end, int64_t now_ms, int64_t lag_ms)
{
    return f->log_end >= leader_end || (f->last_caught_up_ms > 0 && now_ms - f->last_caught_up_ms <= lag_ms);
}

/* The committed ISR plus what a pending expansion adds (Kafka's maximalIsr). */
static bool in_maximal_isr(const struct rp_leader *l, int32_t id)
{
    return ints_has(l->isr, l->nisr, id) || (l->pending && ints_has(l->pending_isr, l->npending, id));
}

bool rp_leader_update_hw(struct rp_leader *l, int64_t leader_end, int64_t now_ms, int64_t lag_ms)
{
    int64_t hw = leader_end;
    for (int32_t i = 0; i < l->nfollowers; i++) {
        const struct rp_follower *f = &l->followers[i];
        if (f->log_end < hw && (in_maximal_isr(l, f->id) || caught_up(f, leader_end, now_ms, lag_ms)))
            hw = f->log_end;
    }
    if (hw <= l->high_watermark)
        return false;
    l->high_watermark = hw;
    return true;
}

static void propose(struct rp_leader *l, const int32_t *isr, int32_t n, int32_t *out, int32_t *nout)
{
    int32_t *copy = ferry_malloc(sizeof *copy * (size_t)(n + 1));
    if (copy) {
        memcpy(copy, isr, sizeof *isr * (size_t)n);
        ferry_free(l->pending_isr);
        l->pending_isr = copy;
        l->npending = n;
    } else {
        l->npending = 0; /* maximal ISR then is the committed one: the HW errs on the safe side */
    }
    if (out != isr)
        memmove(out, isr, sizeof *isr * (size_t)n);
    *nout = n;
    l->pending = true;
    l->pending_epoch = l->partition_epoch;
}

bool rp_leader_isr_change(struct rp_leader *l, int64_t leader_end, int64_t now_ms, int64_t lag_ms,
                          bool (*eligible)(void *arg, int32_t id), void *arg, int32_t *out, int32_t *nout)
{
    if (l->pending || !ints_has(l->isr, l->nisr, l->self))
        return false;
    /* shrink: every out-of-sync follower at once (maybeShrinkIsr) */
    int32_t n = 0;
    bool shrink = false;
    for (int32_t i = 0; i < l->nisr; i++) {
        const struct rp_follower *f = follower(l, l->isr[i]);
        if (l->isr[i] != l->self && (!f || !caught_up(f, leader_end, now_ms, lag_ms))) {
            shrink = true;
            continue;
        }
        out[n++] = l->isr[i];
    }
    if (shrink) {
        propose(l, out, n, out, nout);
        return true;
    }
    /* expand: one follower in sync (log end >= high watermark and >= the epoch's start offset) */
    for (int32_t i = 0; i < l->nfollowers; i++) {
        const struct rp_follower *f = &l->followers[i];
        if (ints_has(l->isr, l->nisr, f->id) || f->log_end < 0 || f->log_end < l->high_watermark ||
            f->log_end < l->epoch_start || (eligible && !eligible(arg, f->id)))
            continue;
        memcpy(out, l->isr, sizeof *l->isr * (size_t)l->nisr);
        out[l->nisr] = f->id;
        propose(l, out, l->nisr + 1, out, nout);
        return true;
    }
    return false;
}

void rp_leader_alter_failed(struct rp_leader *l) { l->pending = false; }
