/* raft_log: the core's mirror of the metadata log (start, end, fsynced end, leader-epoch cache) and the
 * log actions it emits (append, truncate, snapshot install, sync). The bytes are the I/O layer's. */
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "kraftmode/raft/raft_internal.h"

int32_t raft_log_last_epoch(const struct raft *r)
{
    /* cache entries exist only for appended batches and the snapshot's base; an empty log without a
     * snapshot has epoch 0 (Kafka's LastFetchedEpoch rule) */
    return r->nepochs ? r->epochs[r->nepochs - 1].epoch : r->snapshot.epoch;
}

void raft_log_end_for_epoch(const struct raft *r, int32_t epoch, int32_t *out_epoch, int64_t *out_end)
{
    for (size_t i = r->nepochs; i-- > 0;) {
        if (r->epochs[i].epoch <= epoch) {
            *out_epoch = r->epochs[i].epoch;
            *out_end = i + 1 < r->nepochs ? r->epochs[i + 1].start_offset : r->end;
            return;
        }
    }
    /* below every cached epoch: the log start, with the snapshot's epoch */
    *out_epoch = r->snapshot.epoch;
    *out_end = r->log_start;
}

bool raft_log_up_to_date(const struct raft *r, int32_t last_epoch, int64_t last_offset)
{
    int32_t mine = raft_log_last_epoch(r);
    if (last_epoch != mine)
        return last_epoch > mine;
    return last_offset >= r->end;
}

static int track_pending(struct raft *r)
{
    if (r->npending == RAFT_MAX_PENDING_LOG) {
        /* too many unsynced actions: forget the oldest (its durability is then learned later) */
        memmove(r->pending, r->pending + 1, (r->npending - 1) * sizeof *r->pending);
        r->npending--;
    }
    r->pending[r->npending++] = (struct raft_pending_log){.seq = r->log_seq, .end_after = r->end};
    return 0;
}

static int push_epoch(struct raft *r, int32_t epoch, int64_t start)
{
    if (r->nepochs && r->epochs[r->nepochs - 1].epoch >= epoch)
        return 0;
    if (r->nepochs == r->capepochs) {
        size_t cap = r->capepochs ? r->capepochs * 2 : 8;
        struct raft_epoch_entry *n = ferry_realloc(r->epochs, cap * sizeof *n);
        if (!n)
            return FERRY_ENOMEM;
        r->epochs = n;
        r->capepochs = cap;
    }
    r->epochs[r->nepochs++] = (struct raft_epoch_entry){epoch, start};
    return 0;
}

int raft_log_append(struct raft *r, const struct raft_batch *b, size_t n)
{
    if (n == 0)
        return 0;
    int64_t end = r->end;
    int32_t last = raft_log_last_epoch(r);
    for (size_t i = 0; i < n; i++) {
        if (b[i].base_offset != end || b[i].count < 1 || b[i].epoch < last || b[i].epoch > r->epoch)
            return FERRY_EINVAL;
        end += b[i].count;
        last = b[i].epoch;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = push_epoch(r, b[i].epoch, b[i].base_offset);
        if (rc)
            return rc;
    }
    r->end = end;
    r->log_seq++;
    struct raft_action a = {.type = RAFT_ACT_LOG_APPEND, .seq = r->log_seq, .batches = b, .nbatches = n};
    if (n == 1 && b[0].leader_change) {
        a.granting = r->granting;
        a.ngranting = r->ngranting;
    }
    track_pending(r);
    return raft_emit(r, &a);
}

static void clamp_durable(struct raft *r, int64_t offset)
{
    if (r->durable_end > offset)
        r->durable_end = offset;
    for (size_t i = 0; i < r->npending; i++)
        if (r->pending[i].end_after > offset)
            r->pending[i].end_after = offset;
}

int raft_log_truncate(struct raft *r, int64_t offset)
{
    if (offset >= r->end)
        return 0;
    if (offset < r->commit || offset < r->hw || offset < r->log_start)
        return raft_set_fatal(r, "truncation below the committed offset");
    while (r->nepochs && r->epochs[r->nepochs - 1].start_offset >= offset)
        r->nepochs--;
    LOG_INFO("raft", "node %d: truncate log to %lld (was %lld)", r->cfg.node_id, (long long)offset, (long long)r->end);
    r->end = offset;
    clamp_durable(r, offset);
    r->log_seq++;
    track_pending(r);
    struct raft_action a = {.type = RAFT_ACT_LOG_TRUNCATE, .seq = r->log_seq, .offset = offset};
    return raft_emit(r, &a);
}

int raft_log_install_snapshot(struct raft *r, struct raft_snapshot_id id)
{
    r->nepochs = 0;
    int rc = push_epoch(r, id.epoch, id.end_offset);
    if (rc)
        return rc;
    r->snapshot = id;
    r->log_start = r->end = id.end_offset;
    clamp_durable(r, r->commit); /* until the install is durable only the committed prefix is the same */
    r->log_seq++;
    track_pending(r);
    struct raft_action a = {.type = RAFT_ACT_SNAPSHOT_INSTALL, .seq = r->log_seq, .snapshot = id};
    rc = raft_emit(r, &a);
    return rc ? rc : raft_log_sync(r);
}

int raft_log_sync(struct raft *r)
{
    struct raft_action a = {.type = RAFT_ACT_LOG_SYNC, .seq = r->log_seq};
    return raft_emit(r, &a);
}

void raft_log_on_persisted(struct raft *r, uint64_t seq)
{
    if (seq <= r->log_seq_durable)
        return;
    r->log_seq_durable = seq;
    size_t i = 0;
    int64_t end = -1;
    while (i < r->npending && r->pending[i].seq <= seq)
        end = r->pending[i++].end_after;
    if (i)
        memmove(r->pending, r->pending + i, (r->npending - i) * sizeof *r->pending);
    r->npending -= i;
    if (end > r->durable_end)
        r->durable_end = end;
    if (seq == r->log_seq)
        r->durable_end = r->end; /* everything issued is durable */
}
