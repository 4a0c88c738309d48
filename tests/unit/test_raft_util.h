/* test_raft_util: helpers shared by the Raft core's unit tests (test_raft_*.c): a core built from a
 * described state, its actions captured after each input, and "the disk finishes" helpers that report
 * every pending quorum-state write and log fsync as durable. Header-only (static functions). */
#ifndef FERRY_TEST_RAFT_UTIL_H
#define FERRY_TEST_RAFT_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "kraftmode/raft/raft.h"

#define TR_MAX_ACTS 256

struct tr {
    struct raft *r;
    int32_t id;
    int64_t now;
    uint64_t rng;
    struct raft_action acts[TR_MAX_ACTS]; /* captured since the last tr_clear */
    size_t nacts;
    uint64_t state_seq, log_seq; /* highest pending sequence numbers seen */
};

static uint64_t tr_rand(void *arg)
{
    struct tr *t = arg;
    t->rng = t->rng * 6364136223846793005ull + 1442695040888963407ull;
    return t->rng >> 33;
}

static const int32_t tr_voters3[] = {1, 2, 3};

/* Captures the core's pending actions (appended to t->acts). */
static inline void tr_take(struct tr *t)
{
    size_t n;
    const struct raft_action *a = raft_actions(t->r, &n);
    for (size_t i = 0; i < n; i++) {
        assert_true(t->nacts < TR_MAX_ACTS);
        t->acts[t->nacts++] = a[i];
        if (a[i].type == RAFT_ACT_PERSIST_STATE && a[i].seq > t->state_seq)
            t->state_seq = a[i].seq;
        if (a[i].type == RAFT_ACT_LOG_SYNC && a[i].seq > t->log_seq)
            t->log_seq = a[i].seq;
    }
    raft_actions_clear(t->r);
}

static inline void tr_clear(struct tr *t) { t->nacts = 0; }

/* Kafka's defaults for node `id` of `voters`, with t's RNG. */
static inline void tr_config(struct raft_config *cfg, struct tr *t, int32_t id, const int32_t *voters, size_t nvoters)
{
    raft_config_defaults(cfg);
    cfg->node_id = id;
    cfg->voters = voters;
    cfg->nvoters = nvoters;
    cfg->rand = tr_rand;
    cfg->rand_arg = t;
}

static inline void tr_open(struct tr *t, int32_t id, const int32_t *voters, size_t nvoters, bool pre_vote,
                    const struct raft_persisted *p)
{
    memset(t, 0, sizeof *t);
    ferry_log_set_level(FERRY_LOG_ERROR);
    t->rng = 42;
    t->now = 1000;
    t->id = id;
    struct raft_config cfg;
    tr_config(&cfg, t, id, voters, nvoters);
    cfg.pre_vote = pre_vote;
    struct raft_persisted empty = {.leader_id = -1, .voted_id = -1};
    assert_int_equal(raft_new(&cfg, p ? p : &empty, t->now, &t->r), 0);
    assert_int_equal(raft_tick(t->r, t->now), 0);
    tr_take(t);
}

static inline void tr_close(struct tr *t) { raft_free(t->r); }

/* Every quorum-state write issued so far is durable. */
static inline void tr_state_durable(struct tr *t)
{
    if (t->state_seq)
        assert_int_equal(raft_state_persisted(t->r, t->now, t->state_seq), 0);
    tr_take(t);
}

/* Every log action issued so far is fsynced. */
static inline void tr_log_durable(struct tr *t)
{
    if (t->log_seq)
        assert_int_equal(raft_log_persisted(t->r, t->now, t->log_seq), 0);
    tr_take(t);
}

static inline void tr_all_durable(struct tr *t)
{
    tr_state_durable(t);
    tr_log_durable(t);
}

static inline void tr_tick(struct tr *t, int64_t advance_ms)
{
    t->now += advance_ms;
    assert_int_equal(raft_tick(t->r, t->now), 0);
    tr_take(t);
}

static inline void tr_step(struct tr *t, const struct raft_msg *m)
{
    assert_int_equal(raft_step(t->r, t->now, m), 0);
    tr_take(t);
}

/* The i-th captured action of a type (NULL if none). */
static inline const struct raft_action *tr_find(const struct tr *t, enum raft_action_type type, size_t nth)
{
    for (size_t i = 0; i < t->nacts; i++)
        if (t->acts[i].type == type && nth-- == 0)
            return &t->acts[i];
    return NULL;
}

/* The first captured message of a type to a node (to < 0: any). */
static inline const struct raft_msg *tr_sent(const struct tr *t, enum raft_msg_type type, int32_t to)
{
    for (size_t i = 0; i < t->nacts; i++)
        if (t->acts[i].type == RAFT_ACT_SEND && t->acts[i].msg.type == type && (to < 0 || t->acts[i].msg.to == to))
            return &t->acts[i].msg;
    return NULL;
}

static inline size_t tr_count_sent(const struct tr *t, enum raft_msg_type type)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nacts; i++)
        n += t->acts[i].type == RAFT_ACT_SEND && t->acts[i].msg.type == type;
    return n;
}

static inline struct raft_msg tr_vote(int32_t from, int32_t to, int32_t epoch, int32_t last_epoch, int64_t last_offset,
                               bool pre)
{
    struct raft_msg m = {.type = RAFT_MSG_VOTE, .from = from, .to = to, .corr = 7, .epoch = epoch, .leader_id = -1};
    m.u.vote.last_epoch = last_epoch;
    m.u.vote.last_offset = last_offset;
    m.u.vote.pre_vote = pre;
    return m;
}

static inline struct raft_msg tr_fetch(int32_t from, int32_t to, int32_t epoch, int64_t offset, int32_t last_epoch,
                                int32_t max_wait)
{
    struct raft_msg m = {.type = RAFT_MSG_FETCH, .from = from, .to = to, .corr = 9, .epoch = epoch, .leader_id = -1};
    m.u.fetch.fetch_offset = offset;
    m.u.fetch.last_fetched_epoch = last_epoch;
    m.u.fetch.max_wait_ms = max_wait;
    return m;
}

/* An empty successful fetch response from `leader` to the request `req`. */
static inline struct raft_msg tr_fetch_resp(const struct raft_msg *req, int32_t epoch, int64_t hw)
{
    struct raft_msg m = {.type = RAFT_MSG_FETCH_RESP,
                         .from = req->to,
                         .to = req->from,
                         .corr = req->corr,
                         .epoch = epoch,
                         .leader_id = req->to};
    m.u.fetch_resp.high_watermark = hw;
    m.u.fetch_resp.diverging_epoch = -1;
    m.u.fetch_resp.diverging_end_offset = -1;
    m.u.fetch_resp.snapshot = (struct raft_snapshot_id){-1, -1};
    return m;
}

/* A BeginQuorumEpoch from `leader` in `epoch` is received and everything made durable; actions cleared. */
static inline void tr_begin_epoch(struct tr *t, int32_t leader, int32_t epoch)
{
    struct raft_msg b = {
        .type = RAFT_MSG_BEGIN_EPOCH, .from = leader, .to = t->id, .corr = 5, .epoch = epoch, .leader_id = leader};
    tr_step(t, &b);
    tr_all_durable(t);
    tr_clear(t);
}

/* Makes the core at t a leader of {1,2,3} in epoch 1 (it is node 1; pre-vote off); everything durable. */
static inline void tr_make_leader(struct tr *t)
{
    tr_open(t, 1, tr_voters3, 3, false, NULL);
    tr_tick(t, 2000); /* election timeout: Candidate in epoch 1 */
    assert_int_equal(raft_role(t->r), RAFT_CANDIDATE);
    tr_all_durable(t);
    struct raft_msg v = {.type = RAFT_MSG_VOTE_RESP, .from = 2, .to = 1, .epoch = 1, .leader_id = -1};
    v.u.vote_resp.granted = true;
    tr_step(t, &v);
    assert_int_equal(raft_role(t->r), RAFT_LEADER);
    tr_all_durable(t);
    tr_clear(t);
}

#endif
