/* raft_core: creation, the action list, messages held until durable, persistence notifications and the
 * input entry points (raft.h). Elections are in raft_election.c, replication in raft_replication.c, the
 * log mirror in raft_log.c. */
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "kraftmode/raft/raft_internal.h"

const char *raft_role_name(enum raft_role role)
{
    static const char *names[] = {"Unattached", "Voted", "Prospective", "Candidate", "Leader", "Follower", "Resigned"};
    return (unsigned)role < sizeof names / sizeof names[0] ? names[role] : "?";
}

const char *raft_msg_name(enum raft_msg_type type)
{
    static const char *names[] = {"Vote",     "VoteResponse",  "BeginQuorumEpoch", "BeginQuorumEpochResponse",
                                  "EndQuorumEpoch", "EndQuorumEpochResponse", "Fetch", "FetchResponse",
                                  "FetchSnapshot", "FetchSnapshotResponse"};
    return (unsigned)type < sizeof names / sizeof names[0] ? names[type] : "?";
}

void raft_config_defaults(struct raft_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->election_timeout_ms = 1000;
    cfg->fetch_timeout_ms = 2000;
    cfg->election_backoff_max_ms = 1000;
    cfg->request_timeout_ms = 2000;
    cfg->fetch_max_wait_ms = 500;
    cfg->fetch_snapshot_max_bytes = 8 << 20;
    cfg->pre_vote = true;
}

int raft_voter_index(const struct raft *r, int32_t id)
{
    for (size_t i = 0; i < r->cfg.nvoters; i++)
        if (r->voters[i] == id)
            return (int)i;
    return -1;
}

bool raft_is_voter(const struct raft *r, int32_t id) { return raft_voter_index(r, id) >= 0; }

int32_t raft_live_leader(const struct raft *r)
{
    if (r->role == RAFT_LEADER || (r->role == RAFT_FOLLOWER && !r->leader_gone))
        return r->leader_id;
    return RAFT_NO_ID;
}

size_t raft_majority(const struct raft *r) { return r->cfg.nvoters / 2 + 1; }

uint64_t raft_rand(struct raft *r, uint64_t bound) { return bound ? r->cfg.rand(r->cfg.rand_arg) % bound : 0; }

uint32_t raft_new_corr(struct raft *r)
{
    if (++r->next_corr == 0)
        r->next_corr = 1;
    return r->next_corr;
}

static bool voters_sane(const int32_t *v, size_t n)
{
    if (n == 0 || n > RAFT_MAX_VOTERS)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < 0)
            return false;
        for (size_t j = 0; j < i; j++)
            if (v[i] == v[j])
                return false;
    }
    return true;
}

static bool same_voter_set(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        bool found = false;
        for (size_t j = 0; j < nb && !found; j++)
            found = a[i] == b[j];
        if (!found)
            return false;
    }
    return true;
}

static int check_persisted(const struct raft_config *cfg, const struct raft_persisted *p)
{
    if (p->voters && p->nvoters && !same_voter_set(p->voters, p->nvoters, cfg->voters, cfg->nvoters))
        return FERRY_EINVAL;
    if (p->epoch < 0 || p->log_start_offset < 0 || p->log_end_offset < p->log_start_offset)
        return FERRY_EINVAL;
    if (p->snapshot.end_offset != 0 && p->snapshot.end_offset != p->log_start_offset)
        return FERRY_EINVAL;
    for (size_t i = 0; i < p->nepochs; i++) {
        if (p->epochs[i].epoch < 0 || p->epochs[i].start_offset > p->log_end_offset)
            return FERRY_EINVAL;
        if (i && (p->epochs[i].epoch <= p->epochs[i - 1].epoch ||
                  p->epochs[i].start_offset < p->epochs[i - 1].start_offset))
            return FERRY_EINVAL;
    }
    return 0;
}

/* KRaft's start-up rules (QuorumState.initialize). */
static int initial_role(struct raft *r, const struct raft_persisted *p)
{
    int32_t log_epoch = raft_log_last_epoch(r);
    r->epoch = p->epoch;
    r->leader_id = p->leader_id;
    r->voted_id = p->voted_id;
    if (p->epoch < log_epoch) {
        r->epoch = log_epoch;
        r->leader_id = r->voted_id = RAFT_NO_ID;
        r->role = RAFT_UNATTACHED;
        raft_reset_election_timer(r);
        return raft_persist_state(r);
    }
    if (r->leader_id == r->cfg.node_id && r->is_voter) {
        r->role = RAFT_RESIGNED; /* cannot lead or vote in this epoch again */
        r->voted_id = RAFT_NO_ID;
        raft_reset_election_timer(r);
        return 0;
    }
    if (r->voted_id == r->cfg.node_id && r->is_voter) {
        r->role = RAFT_CANDIDATE;
        r->vote_corr = raft_new_corr(r);
        memset(r->votes_granted, 0, sizeof r->votes_granted);
        memset(r->votes_rejected, 0, sizeof r->votes_rejected);
        r->votes_granted[raft_voter_index(r, r->cfg.node_id)] = true;
        for (size_t i = 0; i < RAFT_MAX_VOTERS; i++)
            r->vote_sent_ms[i] = INT64_MIN / 2;
        raft_reset_election_timer(r);
        return 0;
    }
    if (r->voted_id != RAFT_NO_ID && r->is_voter) {
        r->role = RAFT_VOTED;
        raft_reset_election_timer(r);
        return 0;
    }
    if (r->leader_id != RAFT_NO_ID && r->leader_id != r->cfg.node_id) {
        r->role = RAFT_FOLLOWER;
        r->voted_id = RAFT_NO_ID;
        raft_reset_election_timer(r);
        return 0;
    }
    r->role = RAFT_UNATTACHED;
    r->leader_id = r->voted_id = RAFT_NO_ID;
    raft_reset_election_timer(r);
    return 0;
}

int raft_new(const struct raft_config *cfg, const struct raft_persisted *p, int64_t now_ms, struct raft **out)
{
    *out = NULL;
    if (!cfg || !p || !cfg->rand || cfg->node_id < 0 || !voters_sane(cfg->voters, cfg->nvoters) ||
        cfg->election_timeout_ms <= 0 || cfg->fetch_timeout_ms <= 0 || cfg->election_backoff_max_ms <= 0 ||
        cfg->request_timeout_ms <= 0 || cfg->fetch_max_wait_ms < 0 || cfg->fetch_snapshot_max_bytes <= 0)
        return FERRY_EINVAL;
    int rc = check_persisted(cfg, p);
    if (rc)
        return rc;
    struct raft *r = ferry_calloc(1, sizeof *r);
    if (!r)
        return FERRY_ENOMEM;
    r->cfg = *cfg;
    memcpy(r->voters, cfg->voters, cfg->nvoters * sizeof *cfg->voters);
    r->cfg.voters = r->voters;
    r->is_voter = raft_voter_index(r, cfg->node_id) >= 0;
    r->now = now_ms;
    r->hw = -1;
    r->leader_contact_ms = INT64_MIN / 2;
    r->backoff_until = RAFT_NEVER;
    r->check_quorum_deadline = RAFT_NEVER;
    r->log_start = p->log_start_offset;
    r->snapshot = p->snapshot;
    r->end = r->durable_end = p->log_end_offset;
    r->commit = p->log_start_offset;
    if (p->nepochs) {
        r->epochs = ferry_malloc(p->nepochs * sizeof *r->epochs);
        if (!r->epochs) {
            ferry_free(r);
            return FERRY_ENOMEM;
        }
        memcpy(r->epochs, p->epochs, p->nepochs * sizeof *r->epochs);
        r->nepochs = r->capepochs = p->nepochs;
    }
    rc = initial_role(r, p);
    if (rc == 0 && r->is_voter && cfg->nvoters == 1 && r->role != RAFT_LEADER)
        r->election_deadline = now_ms; /* a single voter elects itself at the first tick */
    if (rc) {
        raft_free(r);
        return rc;
    }
    LOG_INFO("raft", "node %d: start %s epoch %d leader %d voted %d log [%lld, %lld)%s", cfg->node_id,
             raft_role_name(r->role), r->epoch, r->leader_id, r->voted_id, (long long)r->log_start,
             (long long)r->end, r->is_voter ? "" : " (observer)");
    *out = r;
    return 0;
}

void raft_free(struct raft *r)
{
    if (!r)
        return;
    ferry_free(r->epochs);
    ferry_free(r->acts);
    ferry_free(r->deferred);
    ferry_free(r);
}

int raft_emit(struct raft *r, const struct raft_action *a)
{
    if (r->nacts == r->capacts) {
        size_t cap = r->capacts ? r->capacts * 2 : 16;
        struct raft_action *n = ferry_realloc(r->acts, cap * sizeof *n);
        if (!n)
            return FERRY_ENOMEM;
        r->acts = n;
        r->capacts = cap;
    }
    r->acts[r->nacts++] = *a;
    return 0;
}

int raft_set_fatal(struct raft *r, const char *reason)
{
    if (r->fatal)
        return 0;
    LOG_ERROR("raft", "node %d: fatal in epoch %d: %s", r->cfg.node_id, r->epoch, reason);
    r->fatal = true;
    struct raft_action a = {.type = RAFT_ACT_FATAL, .reason = reason};
    return raft_emit(r, &a);
}

static bool deferred_ready(const struct raft *r, const struct raft_deferred *d)
{
    return d->need_state_seq <= r->state_seq_durable && d->need_log_end <= r->durable_end;
}

/* Sends now if nothing earlier is still held and what it needs is durable; else holds it (in order). */
int raft_send(struct raft *r, const struct raft_msg *m, int64_t need_log_end)
{
    struct raft_deferred d = {.msg = *m, .need_state_seq = r->state_seq, .need_log_end = need_log_end};
    d.msg.from = r->cfg.node_id;
    if (r->cfg.test_bugs & RAFT_BUG_ACK_BEFORE_FSYNC)
        d.need_log_end = 0;
    if (r->ndeferred == 0 && deferred_ready(r, &d)) {
        struct raft_action a = {.type = RAFT_ACT_SEND, .msg = d.msg};
        return raft_emit(r, &a);
    }
    if (r->ndeferred == r->capdeferred) {
        size_t cap = r->capdeferred ? r->capdeferred * 2 : 8;
        struct raft_deferred *n = ferry_realloc(r->deferred, cap * sizeof *n);
        if (!n)
            return FERRY_ENOMEM;
        r->deferred = n;
        r->capdeferred = cap;
    }
    r->deferred[r->ndeferred++] = d;
    return 0;
}

int raft_release_deferred(struct raft *r)
{
    size_t i = 0;
    while (i < r->ndeferred && deferred_ready(r, &r->deferred[i])) {
        struct raft_action a = {.type = RAFT_ACT_SEND, .msg = r->deferred[i].msg};
        int rc = raft_emit(r, &a);
        if (rc)
            return rc;
        i++;
    }
    if (i == 0)
        return 0;
    memmove(r->deferred, r->deferred + i, (r->ndeferred - i) * sizeof *r->deferred);
    r->ndeferred -= i;
    return 0;
}

int raft_persist_state(struct raft *r)
{
    struct raft_action a = {.type = RAFT_ACT_PERSIST_STATE,
                            .seq = ++r->state_seq,
                            .epoch = r->epoch,
                            .leader_id = r->leader_id,
                            .voted_id = r->voted_id};
    return raft_emit(r, &a);
}

/* The commit reported to the application: the high watermark, capped by the fsynced log end. */
int raft_update_commit(struct raft *r)
{
    if (r->hw < 0)
        return 0;
    int64_t c = r->hw < r->durable_end ? r->hw : r->durable_end;
    if (c <= r->commit)
        return 0;
    r->commit = c;
    struct raft_action a = {.type = RAFT_ACT_COMMIT, .offset = c};
    return raft_emit(r, &a);
}

/* Releases what became safe to send and reports the commit. An allocation failure may have cut a
 * transition short (an action not emitted): the core then stops, as Kafka's raft client would exit. */
static int finish_input(struct raft *r, int rc)
{
    if (rc == 0)
        rc = raft_release_deferred(r);
    if (rc == 0)
        rc = raft_update_commit(r);
    if (rc == FERRY_ENOMEM && !r->fatal) {
        LOG_ERROR("raft", "node %d: out of memory in epoch %d: stopping", r->cfg.node_id, r->epoch);
        r->fatal = true;
    }
    return rc;
}

static int advance_clock(struct raft *r, int64_t now_ms)
{
    if (now_ms > r->now)
        r->now = now_ms;
    return 0;
}

int raft_tick(struct raft *r, int64_t now_ms)
{
    if (r->fatal)
        return 0;
    advance_clock(r, now_ms);
    int rc = raft_election_tick(r);
    if (rc == 0 && !r->fatal)
        rc = raft_replication_tick(r);
    return finish_input(r, rc);
}

int raft_step(struct raft *r, int64_t now_ms, const struct raft_msg *m)
{
    if (r->fatal)
        return 0;
    if (m->to != r->cfg.node_id)
        return FERRY_EINVAL;
    advance_clock(r, now_ms);
    int rc;
    switch (m->type) {
    case RAFT_MSG_VOTE: rc = raft_handle_vote(r, m); break;
    case RAFT_MSG_VOTE_RESP: rc = raft_handle_vote_resp(r, m); break;
    case RAFT_MSG_BEGIN_EPOCH: rc = raft_handle_begin_epoch(r, m); break;
    case RAFT_MSG_END_EPOCH: rc = raft_handle_end_epoch(r, m); break;
    case RAFT_MSG_BEGIN_EPOCH_RESP:
    case RAFT_MSG_END_EPOCH_RESP: rc = raft_handle_epoch_resp(r, m); break;
    case RAFT_MSG_FETCH: rc = raft_handle_fetch(r, m); break;
    case RAFT_MSG_FETCH_RESP: rc = raft_handle_fetch_resp(r, m); break;
    case RAFT_MSG_FETCH_SNAPSHOT: rc = raft_handle_fetch_snapshot(r, m); break;
    case RAFT_MSG_FETCH_SNAPSHOT_RESP: rc = raft_handle_fetch_snapshot_resp(r, m); break;
    default: return FERRY_EINVAL;
    }
    return finish_input(r, rc);
}

int raft_propose(struct raft *r, int64_t now_ms, int32_t count, const void *data, size_t len, int64_t *base_offset)
{
    if (r->fatal || r->role != RAFT_LEADER || count < 1 || r->nprop_batches >= RAFT_PROPOSALS_PER_INPUT)
        return FERRY_EINVAL;
    advance_clock(r, now_ms);
    /* the append action points at it until the next input call */
    struct raft_batch *b = &r->prop_batches[r->nprop_batches++ % RAFT_PROPOSALS_PER_INPUT];
    *b = (struct raft_batch){.base_offset = r->end, .count = count, .epoch = r->epoch, .data = data, .len = len};
    int rc = raft_log_append(r, b, 1);
    if (rc == 0)
        rc = raft_log_sync(r);
    if (rc == 0)
        *base_offset = b->base_offset;
    if (rc == 0)
        rc = raft_leader_complete_parked(r, false);
    return finish_input(r, rc);
}

int raft_state_persisted(struct raft *r, int64_t now_ms, uint64_t seq)
{
    if (r->fatal)
        return 0;
    advance_clock(r, now_ms);
    if (seq > r->state_seq)
        return FERRY_EINVAL;
    if (seq > r->state_seq_durable)
        r->state_seq_durable = seq;
    return finish_input(r, 0);
}

int raft_log_persisted(struct raft *r, int64_t now_ms, uint64_t seq)
{
    if (r->fatal)
        return 0;
    advance_clock(r, now_ms);
    if (seq > r->log_seq)
        return FERRY_EINVAL;
    raft_log_on_persisted(r, seq);
    int rc = 0;
    if (r->role == RAFT_LEADER)
        rc = raft_leader_maybe_advance_hw(r);
    return finish_input(r, rc);
}

int raft_snapshot_done(struct raft *r, int64_t now_ms, struct raft_snapshot_id id)
{
    if (r->fatal)
        return 0;
    advance_clock(r, now_ms);
    if (id.end_offset > r->commit || id.end_offset <= r->snapshot.end_offset || id.end_offset <= 0 ||
        id.end_offset < r->log_start)
        return FERRY_EINVAL;
    r->snapshot = id;
    r->log_start = id.end_offset;
    /* epoch-cache entries wholly below the new start are no longer needed */
    size_t drop = 0;
    while (drop + 1 < r->nepochs && r->epochs[drop + 1].start_offset <= r->log_start)
        drop++;
    if (drop)
        memmove(r->epochs, r->epochs + drop, (r->nepochs - drop) * sizeof *r->epochs);
    r->nepochs -= drop;
    LOG_INFO("raft", "node %d: snapshot (%lld, %d); log start %lld", r->cfg.node_id, (long long)id.end_offset,
             id.epoch, (long long)r->log_start);
    struct raft_action a = {.type = RAFT_ACT_LOG_START, .offset = r->log_start};
    return finish_input(r, raft_emit(r, &a));
}

int raft_resign(struct raft *r, int64_t now_ms)
{
    if (r->fatal)
        return 0;
    advance_clock(r, now_ms);
    if (r->role != RAFT_LEADER)
        return 0;
    return finish_input(r, raft_become_resigned(r));
}

int raft_peer_lost(struct raft *r, int64_t now_ms, int32_t id)
{
    if (r->fatal)
        return 0;
    if (id == r->cfg.node_id)
        return FERRY_EINVAL;
    advance_clock(r, now_ms);
    return finish_input(r, raft_handle_peer_lost(r, id));
}

const struct raft_action *raft_actions(const struct raft *r, size_t *n)
{
    *n = r->nacts;
    return r->acts;
}

void raft_actions_clear(struct raft *r)
{
    r->nacts = 0;
    r->nprop_batches = 0;
}

int64_t raft_next_deadline(const struct raft *r)
{
    int64_t d = r->election_deadline;
    if (r->backoff_until < d)
        d = r->backoff_until;
    if (r->check_quorum_deadline < d)
        d = r->check_quorum_deadline;
    if (r->fetch_corr && r->fetch_sent_ms + r->cfg.request_timeout_ms < d)
        d = r->fetch_sent_ms + r->cfg.request_timeout_ms;
    if (r->role == RAFT_LEADER) {
        for (size_t i = 0; i < r->cfg.nvoters; i++)
            if (r->progress[i].parked && r->progress[i].parked_until < d)
                d = r->progress[i].parked_until;
        for (size_t i = 0; i < r->nobservers; i++)
            if (r->observers[i].parked && r->observers[i].parked_until < d)
                d = r->observers[i].parked_until;
    }
    if (r->role == RAFT_LEADER || r->role == RAFT_CANDIDATE || r->role == RAFT_PROSPECTIVE ||
        r->role == RAFT_RESIGNED)
        if (r->now + r->cfg.request_timeout_ms < d)
            d = r->now + r->cfg.request_timeout_ms; /* resends */
    return d;
}

enum raft_role raft_role(const struct raft *r) { return r->role; }
int32_t raft_epoch(const struct raft *r) { return r->epoch; }
int32_t raft_leader(const struct raft *r) { return r->leader_id; }
int32_t raft_voted_for(const struct raft *r) { return r->voted_id; }
int64_t raft_log_end(const struct raft *r) { return r->end; }
int64_t raft_log_durable_end(const struct raft *r) { return r->durable_end; }
int32_t raft_last_epoch(const struct raft *r) { return raft_log_last_epoch(r); }
int64_t raft_commit(const struct raft *r) { return r->commit; }
int64_t raft_high_watermark(const struct raft *r) { return r->hw; }
bool raft_fatal(const struct raft *r) { return r->fatal; }

static void describe_one(const struct raft_progress *p, struct raft_replica_info *out)
{
    out->id = p->id;
    out->log_end_offset = p->end_offset;
    out->last_fetch_ms = p->last_fetch_ms;
    out->last_caught_up_ms = p->last_caught_up_ms;
}

int raft_describe(const struct raft *r, struct raft_describe *out)
{
    if (r->role != RAFT_LEADER)
        return FERRY_EINVAL;
    memset(out, 0, sizeof *out);
    out->leader_id = r->cfg.node_id;
    out->epoch = r->epoch;
    out->high_watermark = r->hw;
    for (size_t i = 0; i < r->cfg.nvoters; i++) {
        describe_one(&r->progress[i], &out->voters[i]);
        if (r->voters[i] == r->cfg.node_id) {
            out->voters[i].log_end_offset = r->end;
            out->voters[i].last_fetch_ms = out->voters[i].last_caught_up_ms = r->now;
        }
    }
    out->nvoters = r->cfg.nvoters;
    for (size_t i = 0; i < r->nobservers; i++)
        describe_one(&r->observers[i], &out->observers[i]);
    out->nobservers = r->nobservers;
    return 0;
}
