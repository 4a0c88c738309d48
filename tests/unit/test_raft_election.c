/* Unit tests for the Raft core's elections: vote granting with the log comparison, epoch handling of
 * Vote/BeginQuorumEpoch/EndQuorumEpoch, candidate and leader transitions, pre-vote (KIP-996),
 * check-quorum, graceful resignation, start-up from quorum-state, the durability ordering of votes, and a
 * leader whose connection closed (raft_peer_lost). */
#include "tests/unit/test_raft_util.h"

/* A voter (node 2 of {1,2,3}) whose log holds epoch 1 at [0,3) and epoch 2 at [3,5). */
static void open_voter_with_log(struct tr *t, int32_t file_epoch)
{
    static const struct raft_epoch_entry epochs[] = {{1, 0}, {2, 3}};
    struct raft_persisted p = {.epoch = file_epoch,
                               .leader_id = -1,
                               .voted_id = -1,
                               .log_end_offset = 5,
                               .epochs = epochs,
                               .nepochs = 2};
    tr_open(t, 2, tr_voters3, 3, true, &p);
    tr_clear(t);
}

static const struct raft_msg *vote_answer(struct tr *t)
{
    const struct raft_msg *m = tr_sent(t, RAFT_MSG_VOTE_RESP, -1);
    assert_non_null(m);
    return m;
}

static void test_vote_granted_only_after_durable(void **state)
{
    (void)state;
    struct tr t;
    open_voter_with_log(&t, 2);
    struct raft_msg v = tr_vote(1, 2, 3, 2, 5, false);
    tr_step(&t, &v);
    /* first Unattached in the candidate's epoch, then Voted */
    assert_int_equal(tr_find(&t, RAFT_ACT_PERSIST_STATE, 0)->voted_id, -1);
    const struct raft_action *ps = tr_find(&t, RAFT_ACT_PERSIST_STATE, 1);
    assert_non_null(ps);
    assert_int_equal(ps->epoch, 3);
    assert_int_equal(ps->voted_id, 1);
    assert_int_equal(ps->leader_id, -1);
    /* the grant waits for the quorum-state write */
    assert_null(tr_sent(&t, RAFT_MSG_VOTE_RESP, 1));
    assert_int_equal(raft_role(t.r), RAFT_VOTED);
    tr_state_durable(&t);
    const struct raft_msg *a = vote_answer(&t);
    assert_true(a->u.vote_resp.granted);
    assert_int_equal(a->epoch, 3);
    assert_int_equal(a->corr, 7);
    assert_int_equal(a->error, KERR_NONE);
    tr_close(&t);
}

static void test_vote_log_comparison(void **state)
{
    (void)state;
    struct {
        int32_t last_epoch;
        int64_t last_offset;
        bool granted;
    } cases[] = {
        {2, 5, true},  /* same log */
        {2, 9, true},  /* longer in the same epoch */
        {3, 1, true},  /* a later last epoch wins over length */
        {2, 4, false}, /* shorter in the same epoch */
        {1, 9, false}, /* an older last epoch loses whatever its length */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tr t;
        open_voter_with_log(&t, 3);
        struct raft_msg v = tr_vote(3, 2, 4, cases[i].last_epoch, cases[i].last_offset, false);
        tr_step(&t, &v);
        tr_state_durable(&t);
        assert_int_equal(vote_answer(&t)->u.vote_resp.granted, cases[i].granted);
        assert_int_equal(raft_epoch(t.r), 4); /* the higher epoch is adopted either way */
        assert_int_equal(raft_voted_for(t.r), cases[i].granted ? 3 : -1);
        tr_close(&t);
    }
}

static void test_vote_epoch_and_validity(void **state)
{
    (void)state;
    struct tr t;
    open_voter_with_log(&t, 3);
    struct raft_msg v = tr_vote(1, 2, 2, 1, 5, false); /* lower epoch */
    tr_step(&t, &v);
    assert_int_equal(vote_answer(&t)->error, KERR_FENCED_LEADER_EPOCH);
    assert_int_equal(vote_answer(&t)->epoch, 3);
    tr_clear(&t);
    v = tr_vote(1, 2, 4, 4, 5, false); /* last epoch >= candidate epoch */
    tr_step(&t, &v);
    assert_int_equal(vote_answer(&t)->error, KERR_INVALID_REQUEST);
    tr_clear(&t);
    v = tr_vote(1, 2, 4, 2, -1, false); /* negative offset */
    tr_step(&t, &v);
    assert_int_equal(vote_answer(&t)->error, KERR_INVALID_REQUEST);
    tr_clear(&t);
    v = tr_vote(9, 2, 4, 2, 5, false); /* not a voter */
    tr_step(&t, &v);
    assert_int_equal(vote_answer(&t)->error, KERR_INCONSISTENT_VOTER_SET);
    assert_int_equal(raft_epoch(t.r), 3); /* nothing changed */
    assert_null(tr_find(&t, RAFT_ACT_PERSIST_STATE, 0));
    tr_close(&t);
}

static void test_voted_grants_only_its_candidate(void **state)
{
    (void)state;
    struct tr t;
    open_voter_with_log(&t, 3);
    struct raft_msg v = tr_vote(1, 2, 4, 2, 5, false);
    tr_step(&t, &v);
    tr_state_durable(&t);
    tr_clear(&t);
    v = tr_vote(3, 2, 4, 2, 9, false); /* a better log, but the vote is cast */
    tr_step(&t, &v);
    assert_false(vote_answer(&t)->u.vote_resp.granted);
    tr_clear(&t);
    v = tr_vote(1, 2, 4, 2, 5, false); /* the same candidate asks again */
    tr_step(&t, &v);
    assert_true(vote_answer(&t)->u.vote_resp.granted);
    assert_null(tr_find(&t, RAFT_ACT_PERSIST_STATE, 0));
    tr_close(&t);
}

static void test_observer_never_votes(void **state)
{
    (void)state;
    struct tr t;
    tr_open(&t, 7, tr_voters3, 3, true, NULL);
    tr_clear(&t);
    struct raft_msg v = tr_vote(1, 7, 1, 0, 0, false);
    tr_step(&t, &v);
    assert_int_equal(vote_answer(&t)->error, KERR_INCONSISTENT_VOTER_SET);
    tr_tick(&t, 10000); /* no election ever */
    assert_int_equal(raft_role(t.r), RAFT_UNATTACHED);
    assert_null(tr_sent(&t, RAFT_MSG_VOTE, -1));
    assert_non_null(tr_sent(&t, RAFT_MSG_FETCH, -1)); /* looks for the leader among the voters */
    tr_close(&t);
}

static void test_candidate_elected(void **state)
{
    (void)state;
    struct tr t;
    tr_open(&t, 1, tr_voters3, 3, false, NULL);
    tr_tick(&t, 999); /* the election timeout is at least 1000 ms */
    assert_int_equal(raft_role(t.r), RAFT_UNATTACHED);
    tr_tick(&t, 1001);
    assert_int_equal(raft_role(t.r), RAFT_CANDIDATE);
    assert_int_equal(raft_epoch(t.r), 1);
    const struct raft_action *ps = tr_find(&t, RAFT_ACT_PERSIST_STATE, 0);
    assert_non_null(ps);
    assert_int_equal(ps->voted_id, 1);
    assert_null(tr_sent(&t, RAFT_MSG_VOTE, -1)); /* not before the self-vote is durable */
    tr_state_durable(&t);
    const struct raft_msg *v = tr_sent(&t, RAFT_MSG_VOTE, 2);
    assert_non_null(v);
    assert_non_null(tr_sent(&t, RAFT_MSG_VOTE, 3));
    assert_int_equal(v->epoch, 1);
    assert_false(v->u.vote.pre_vote);
    tr_clear(&t);
    struct raft_msg g = {.type = RAFT_MSG_VOTE_RESP, .from = 3, .to = 1, .epoch = 1, .leader_id = -1};
    g.u.vote_resp.granted = true;
    tr_step(&t, &g);
    assert_int_equal(raft_role(t.r), RAFT_LEADER);
    ps = tr_find(&t, RAFT_ACT_PERSIST_STATE, 0);
    assert_int_equal(ps->leader_id, 1);
    const struct raft_action *ap = tr_find(&t, RAFT_ACT_LOG_APPEND, 0);
    assert_non_null(ap);
    assert_true(ap->batches[0].leader_change);
    assert_int_equal(ap->batches[0].base_offset, 0);
    assert_int_equal(ap->batches[0].epoch, 1);
    assert_int_equal(ap->ngranting, 2); /* itself and node 3 */
    assert_non_null(tr_find(&t, RAFT_ACT_LOG_SYNC, 0));
    tr_state_durable(&t);
    assert_non_null(tr_sent(&t, RAFT_MSG_BEGIN_EPOCH, 2));
    assert_non_null(tr_sent(&t, RAFT_MSG_BEGIN_EPOCH, 3));
    tr_close(&t);
}

static void test_candidate_rejected_backs_off_and_retries(void **state)
{
    (void)state;
    struct tr t;
    tr_open(&t, 1, tr_voters3, 3, false, NULL);
    tr_tick(&t, 2000);
    tr_all_durable(&t);
    for (int32_t from = 2; from <= 3; from++) {
        struct raft_msg g = {.type = RAFT_MSG_VOTE_RESP, .from = from, .to = 1, .epoch = 1, .leader_id = -1};
        tr_step(&t, &g);
    }
    assert_int_equal(raft_role(t.r), RAFT_CANDIDATE); /* lost: backs off, then a new epoch */
    tr_tick(&t, 1000);                              /* backoff is at most election.backoff.max.ms */
    assert_int_equal(raft_role(t.r), RAFT_CANDIDATE);
    assert_int_equal(raft_epoch(t.r), 2);
    tr_close(&t);
}

static void test_higher_epoch_response_steps_down(void **state)
{
    (void)state;
    struct tr t;
    tr_make_leader(&t);
    struct raft_msg r = {.type = RAFT_MSG_BEGIN_EPOCH_RESP, .from = 2, .to = 1, .epoch = 5, .leader_id = 3};
    tr_step(&t, &r);
    assert_int_equal(raft_role(t.r), RAFT_FOLLOWER);
    assert_int_equal(raft_epoch(t.r), 5);
    assert_int_equal(raft_leader(t.r), 3);
    tr_clear(&t);
    r = (struct raft_msg){.type = RAFT_MSG_BEGIN_EPOCH_RESP, .from = 2, .to = 1, .epoch = 7, .leader_id = -1};
    tr_step(&t, &r);
    assert_int_equal(raft_role(t.r), RAFT_UNATTACHED);
    assert_int_equal(raft_epoch(t.r), 7);
    tr_clear(&t);
    r = (struct raft_msg){.type = RAFT_MSG_BEGIN_EPOCH_RESP, .from = 2, .to = 1, .epoch = 3, .leader_id = 2};
    tr_step(&t, &r); /* an older epoch: ignored */
    assert_int_equal(raft_epoch(t.r), 7);
    assert_int_equal(raft_role(t.r), RAFT_UNATTACHED);
    tr_close(&t);
}

static void test_begin_quorum_epoch(void **state)
{
    (void)state;
    struct tr t;
    open_voter_with_log(&t, 3);
    struct raft_msg b = {.type = RAFT_MSG_BEGIN_EPOCH, .from = 3, .to = 2, .corr = 5, .epoch = 4, .leader_id = 3};
    tr_step(&t, &b);
    assert_int_equal(raft_role(t.r), RAFT_FOLLOWER);
    assert_int_equal(raft_leader(t.r), 3);
    tr_all_durable(&t);
    const struct raft_msg *resp = tr_sent(&t, RAFT_MSG_BEGIN_EPOCH_RESP, 3);
    assert_non_null(resp);
    assert_int_equal(resp->error, KERR_NONE);
    const struct raft_msg *f = tr_sent(&t, RAFT_MSG_FETCH, 3);
    assert_non_null(f);
    assert_int_equal(f->u.fetch.fetch_offset, 5);
    assert_int_equal(f->u.fetch.last_fetched_epoch, 2);
    tr_clear(&t);
    b.epoch = 2; /* an old leader */
    tr_step(&t, &b);
    assert_int_equal(tr_sent(&t, RAFT_MSG_BEGIN_EPOCH_RESP, 3)->error, KERR_FENCED_LEADER_EPOCH);
    tr_clear(&t);
    b.epoch = 4;
    b.from = b.leader_id = 1; /* a second leader in epoch 4 */
    tr_step(&t, &b);
    assert_true(raft_fatal(t.r));
    assert_non_null(tr_find(&t, RAFT_ACT_FATAL, 0));
    tr_close(&t);
}

static void test_pre_vote(void **state)
{
    (void)state;
    struct tr t;
    tr_open(&t, 1, tr_voters3, 3, true, NULL);
    tr_tick(&t, 2000);
    assert_int_equal(raft_role(t.r), RAFT_PROSPECTIVE);
    assert_int_equal(raft_epoch(t.r), 0); /* the epoch is not bumped */
    assert_null(tr_find(&t, RAFT_ACT_PERSIST_STATE, 0));
    const struct raft_msg *pv = tr_sent(&t, RAFT_MSG_VOTE, 2);
    assert_non_null(pv);
    assert_true(pv->u.vote.pre_vote);
    assert_int_equal(pv->epoch, 1);
    tr_clear(&t);
    struct raft_msg no = {.type = RAFT_MSG_VOTE_RESP, .from = 2, .to = 1, .epoch = 0, .leader_id = -1};
    no.u.vote_resp.pre_vote = true;
    tr_step(&t, &no);
    assert_int_equal(raft_role(t.r), RAFT_PROSPECTIVE);
    struct raft_msg yes = no;
    yes.from = 3;
    yes.u.vote_resp.granted = true;
    tr_step(&t, &yes);
    assert_int_equal(raft_role(t.r), RAFT_CANDIDATE); /* a majority of pre-votes: now the real election */
    assert_int_equal(raft_epoch(t.r), 1);
    tr_close(&t);
}

static void test_pre_vote_receiver(void **state)
{
    (void)state;
    /* a follower that hears from its leader refuses pre-votes and keeps its epoch */
    struct tr t;
    open_voter_with_log(&t, 3);
    tr_begin_epoch(&t, 3, 3);
    struct raft_msg pv = tr_vote(1, 2, 4, 2, 5, true);
    tr_step(&t, &pv);
    assert_false(vote_answer(&t)->u.vote_resp.granted);
    assert_true(vote_answer(&t)->u.vote_resp.pre_vote);
    assert_int_equal(raft_epoch(t.r), 3);
    assert_int_equal(raft_role(t.r), RAFT_FOLLOWER);
    tr_clear(&t);
    /* once the fetch timeout has passed without a leader, an up-to-date pre-vote is granted, still
     * without changing the epoch or persisting anything */
    t.now += 2001;
    assert_int_equal(raft_step(t.r, t.now, &pv), 0);
    tr_take(&t);
    const struct raft_msg *a = tr_sent(&t, RAFT_MSG_VOTE_RESP, 1);
    assert_non_null(a);
    assert_true(a->u.vote_resp.granted);
    assert_int_equal(raft_epoch(t.r), 3);
    assert_null(tr_find(&t, RAFT_ACT_PERSIST_STATE, 0));
    tr_clear(&t);
    pv = tr_vote(1, 2, 4, 1, 50, true); /* a stale log: refused */
    tr_step(&t, &pv);
    assert_false(vote_answer(&t)->u.vote_resp.granted);
    tr_close(&t);
}

/* A follower (node 2 of {1,2,3}, log as open_voter_with_log) of `leader` in epoch 3; actions cleared. */
static void open_follower(struct tr *t, int32_t leader)
{
    open_voter_with_log(t, 3);
    tr_begin_epoch(t, leader, 3);
    assert_int_equal(raft_role(t->r), RAFT_FOLLOWER);
}

static void test_leader_lost_starts_pre_vote_at_once(void **state)
{
    (void)state;
    struct tr t;
    open_follower(&t, 1); /* node 2 is the first surviving voter by id: it stands at once */
    assert_int_equal(raft_peer_lost(t.r, t.now, 2), FERRY_EINVAL); /* its own id */
    assert_int_equal(raft_peer_lost(t.r, t.now, 3), 0);            /* not the leader: nothing */
    tr_tick(&t, 1);
    assert_int_equal(raft_role(t.r), RAFT_FOLLOWER);
    assert_int_equal(raft_peer_lost(t.r, t.now, 1), 0);
    tr_take(&t);
    tr_tick(&t, 0);
    assert_int_equal(raft_role(t.r), RAFT_PROSPECTIVE);
    assert_int_equal(raft_epoch(t.r), 3); /* a pre-vote: the epoch is not bumped, nothing persisted */
    assert_null(tr_find(&t, RAFT_ACT_PERSIST_STATE, 0));
    const struct raft_msg *pv = tr_sent(&t, RAFT_MSG_VOTE, 3);
    assert_non_null(pv);
    assert_true(pv->u.vote.pre_vote);
    assert_int_equal(pv->epoch, 4);
    tr_close(&t);

    /* without pre-vote the election itself starts at once */
    open_voter_with_log(&t, 3);
    struct raft_config cfg;
    tr_config(&cfg, &t, 2, tr_voters3, 3);
    cfg.pre_vote = false;
    raft_free(t.r);
    static const struct raft_epoch_entry epochs[] = {{1, 0}, {2, 3}};
    struct raft_persisted p = {.epoch = 3, .leader_id = 1, .voted_id = -1, .log_end_offset = 5, .epochs = epochs,
                               .nepochs = 2};
    assert_int_equal(raft_new(&cfg, &p, t.now, &t.r), 0);
    tr_tick(&t, 1);
    assert_int_equal(raft_role(t.r), RAFT_FOLLOWER);
    assert_int_equal(raft_peer_lost(t.r, t.now, 1), 0);
    tr_tick(&t, 0);
    assert_int_equal(raft_role(t.r), RAFT_CANDIDATE);
    assert_int_equal(raft_epoch(t.r), 4);
    tr_close(&t);
}

static void test_leader_lost_later_voters_stagger(void **state)
{
    (void)state;
    struct tr t;
    open_follower(&t, 3); /* node 1 survives too and stands first: node 2 waits 100-199 ms */
    assert_int_equal(raft_peer_lost(t.r, t.now, 3), 0);
    tr_take(&t);
    tr_tick(&t, 99);
    assert_int_equal(raft_role(t.r), RAFT_FOLLOWER);
    assert_int_equal(raft_peer_lost(t.r, t.now, 3), 0); /* reported twice: the same deadline */
    tr_take(&t);
    tr_tick(&t, 100);
    assert_int_equal(raft_role(t.r), RAFT_PROSPECTIVE);
    tr_close(&t);
}

static void test_leader_lost_pre_vote_refused_retries(void **state)
{
    (void)state;
    struct tr t;
    open_follower(&t, 1);
    assert_int_equal(raft_peer_lost(t.r, t.now, 1), 0);
    tr_take(&t);
    tr_tick(&t, 0);
    assert_int_equal(raft_role(t.r), RAFT_PROSPECTIVE);
    tr_clear(&t);
    /* node 3 still hears from leader 1 (a spurious reset): it refuses and names it */
    struct raft_msg no = {.type = RAFT_MSG_VOTE_RESP, .from = 3, .to = 2, .epoch = 3, .leader_id = 1};
    no.u.vote_resp.pre_vote = true;
    tr_step(&t, &no);
    assert_int_equal(raft_role(t.r), RAFT_FOLLOWER);
    assert_int_equal(raft_epoch(t.r), 3);
    tr_all_durable(&t);
    tr_tick(&t, 99);
    assert_int_equal(raft_role(t.r), RAFT_FOLLOWER); /* a later attempt waits 100-199 ms */
    tr_tick(&t, 100);
    assert_int_equal(raft_role(t.r), RAFT_PROSPECTIVE);
    tr_close(&t);

    /* the leader answers after all: it is not gone, the fetch timeout applies again */
    open_follower(&t, 3);
    assert_int_equal(raft_peer_lost(t.r, t.now, 3), 0);
    tr_take(&t);
    tr_begin_epoch(&t, 3, 3);
    tr_tick(&t, 1999);
    assert_int_equal(raft_role(t.r), RAFT_FOLLOWER);
    tr_close(&t);
}

static void test_leader_lost_voter_grants_pre_vote(void **state)
{
    (void)state;
    struct tr t;
    open_follower(&t, 3);
    struct raft_msg pv = tr_vote(1, 2, 4, 2, 5, true);
    tr_step(&t, &pv);
    assert_false(vote_answer(&t)->u.vote_resp.granted); /* leader 3 is heard from */
    assert_int_equal(vote_answer(&t)->leader_id, 3);
    tr_clear(&t);
    assert_int_equal(raft_peer_lost(t.r, t.now, 3), 0);
    tr_take(&t);
    tr_clear(&t);
    tr_step(&t, &pv);
    assert_true(vote_answer(&t)->u.vote_resp.granted); /* gone: granted at once, naming no leader */
    assert_int_equal(vote_answer(&t)->leader_id, RAFT_NO_ID);
    assert_int_equal(raft_epoch(t.r), 3);
    assert_null(tr_find(&t, RAFT_ACT_PERSIST_STATE, 0));
    tr_clear(&t);
    pv = tr_vote(1, 2, 4, 1, 50, true); /* still only to an up-to-date log */
    tr_step(&t, &pv);
    assert_false(vote_answer(&t)->u.vote_resp.granted);
    tr_close(&t);

    /* EndQuorumEpoch means the same: the leader is leaving */
    open_follower(&t, 3);
    struct raft_msg e = {.type = RAFT_MSG_END_EPOCH, .from = 3, .to = 2, .corr = 6, .epoch = 3, .leader_id = 3};
    e.u.end_epoch.preferred[0] = 1;
    e.u.end_epoch.preferred[1] = 2;
    e.u.end_epoch.npreferred = 2;
    tr_step(&t, &e);
    tr_clear(&t);
    pv = tr_vote(1, 2, 4, 2, 5, true);
    tr_step(&t, &pv);
    assert_true(vote_answer(&t)->u.vote_resp.granted);
    tr_close(&t);
}

static void test_leader_no_longer_leading_is_gone(void **state)
{
    (void)state;
    struct tr t;
    open_voter_with_log(&t, 3);
    struct raft_msg b = {.type = RAFT_MSG_BEGIN_EPOCH, .from = 1, .to = 2, .corr = 5, .epoch = 3, .leader_id = 1};
    tr_step(&t, &b);
    tr_all_durable(&t);
    const struct raft_msg *req = tr_sent(&t, RAFT_MSG_FETCH, 1);
    assert_non_null(req);
    struct raft_msg resp = tr_fetch_resp(req, 3, -1);
    resp.error = KERR_NOT_LEADER_OR_FOLLOWER; /* it resigned (an observer has no EndQuorumEpoch to tell it) */
    resp.leader_id = RAFT_NO_ID;
    tr_clear(&t);
    tr_step(&t, &resp);
    tr_tick(&t, 0);
    assert_int_equal(raft_role(t.r), RAFT_PROSPECTIVE);
    tr_close(&t);
}

static void test_pre_vote_unsupported_counts_as_granted(void **state)
{
    (void)state;
    struct tr t;
    tr_open(&t, 1, tr_voters3, 3, true, NULL);
    tr_tick(&t, 2000);
    assert_int_equal(raft_role(t.r), RAFT_PROSPECTIVE);
    /* voter 2 speaks Vote v0 only (Kafka 3.7): the I/O layer answers for it */
    struct raft_msg un = {.type = RAFT_MSG_VOTE_RESP, .from = 2, .to = 1, .epoch = 0, .leader_id = -1,
                          .error = KERR_UNSUPPORTED_VERSION};
    un.u.vote_resp.pre_vote = true;
    struct raft_msg stale = un;
    stale.epoch = 5; /* not this round's */
    tr_step(&t, &stale);
    assert_int_equal(raft_role(t.r), RAFT_PROSPECTIVE);
    tr_step(&t, &un);
    assert_int_equal(raft_role(t.r), RAFT_CANDIDATE);
    assert_int_equal(raft_epoch(t.r), 1);
    tr_close(&t);
}

static void test_leader_lost_observer_asks_voters(void **state)
{
    (void)state;
    struct tr t;
    tr_open(&t, 7, tr_voters3, 3, true, NULL);
    tr_begin_epoch(&t, 2, 3);
    assert_int_equal(raft_role(t.r), RAFT_FOLLOWER);
    tr_tick(&t, 1);
    tr_clear(&t);
    assert_int_equal(raft_peer_lost(t.r, t.now, 2), 0);
    tr_take(&t);
    assert_int_equal(raft_role(t.r), RAFT_UNATTACHED); /* forgets the leader, keeps the epoch */
    assert_int_equal(raft_epoch(t.r), 3);
    tr_all_durable(&t);
    tr_tick(&t, 5);
    const struct raft_msg *f = tr_sent(&t, RAFT_MSG_FETCH, -1);
    assert_non_null(f);
    struct raft_msg req = *f;
    tr_clear(&t);
    /* a voter that knows no leader yet: asked again at the next tick, not after the request timeout */
    struct raft_msg none = {.type = RAFT_MSG_FETCH_RESP, .from = req.to, .to = 7, .corr = req.corr, .epoch = 3,
                            .leader_id = -1, .error = KERR_NOT_LEADER_OR_FOLLOWER};
    tr_step(&t, &none);
    tr_tick(&t, 5);
    assert_non_null(tr_sent(&t, RAFT_MSG_FETCH, -1));
    tr_close(&t);
}

static void test_check_quorum(void **state)
{
    (void)state;
    struct tr t;
    tr_make_leader(&t);
    struct raft_msg f = tr_fetch(2, 1, 1, 1, 1, 0);
    tr_tick(&t, 1000);
    tr_step(&t, &f); /* node 2 fetches: with the leader that is a majority */
    tr_tick(&t, 2000); /* past 1.5 x fetch timeout */
    assert_int_equal(raft_role(t.r), RAFT_LEADER);
    tr_clear(&t);
    tr_tick(&t, 3001); /* nobody fetched during the next round */
    assert_int_equal(raft_role(t.r), RAFT_RESIGNED);
    assert_int_equal(raft_epoch(t.r), 1);
    assert_non_null(tr_sent(&t, RAFT_MSG_END_EPOCH, 2));
    assert_non_null(tr_sent(&t, RAFT_MSG_END_EPOCH, 3));
    tr_close(&t);
}

static void test_resign_orders_successors(void **state)
{
    (void)state;
    struct tr t;
    tr_make_leader(&t);
    int64_t base;
    assert_int_equal(raft_propose(t.r, t.now, 4, NULL, 0, &base), 0);
    assert_int_equal(base, 1);
    tr_take(&t);
    struct raft_msg f = tr_fetch(3, 1, 1, 5, 1, 0);
    tr_step(&t, &f);
    f = tr_fetch(2, 1, 1, 1, 1, 0);
    tr_step(&t, &f);
    tr_clear(&t);
    assert_int_equal(raft_resign(t.r, t.now), 0);
    tr_take(&t);
    assert_int_equal(raft_role(t.r), RAFT_RESIGNED);
    assert_null(tr_find(&t, RAFT_ACT_PERSIST_STATE, 0)); /* Resigned is not persisted */
    const struct raft_msg *e = tr_sent(&t, RAFT_MSG_END_EPOCH, 2);
    assert_non_null(e);
    assert_int_equal(e->u.end_epoch.npreferred, 2);
    assert_int_equal(e->u.end_epoch.preferred[0], 3); /* the most caught up first */
    assert_int_equal(e->u.end_epoch.preferred[1], 2);
    assert_int_equal(raft_propose(t.r, t.now, 1, NULL, 0, &base), FERRY_EINVAL);
    tr_close(&t);
}

static void test_end_quorum_epoch_successor(void **state)
{
    (void)state;
    struct tr t;
    open_voter_with_log(&t, 3);
    tr_begin_epoch(&t, 3, 3);
    struct raft_msg e = {.type = RAFT_MSG_END_EPOCH, .from = 3, .to = 2, .corr = 6, .epoch = 3, .leader_id = 3};
    e.u.end_epoch.preferred[0] = 2;
    e.u.end_epoch.preferred[1] = 1;
    e.u.end_epoch.npreferred = 2;
    tr_step(&t, &e);
    assert_int_equal(tr_sent(&t, RAFT_MSG_END_EPOCH_RESP, 3)->error, KERR_NONE);
    tr_tick(&t, 1); /* first preferred successor: an election at once (pre-vote first) */
    assert_int_equal(raft_role(t.r), RAFT_PROSPECTIVE);
    tr_close(&t);

    open_voter_with_log(&t, 3);
    tr_begin_epoch(&t, 3, 3);
    e.u.end_epoch.preferred[0] = 1;
    e.u.end_epoch.preferred[1] = 2;
    tr_step(&t, &e);
    tr_tick(&t, 1);
    assert_int_equal(raft_role(t.r), RAFT_FOLLOWER); /* second: waits (max >> 1) << 0 = 500 ms */
    tr_tick(&t, 499);
    assert_int_equal(raft_role(t.r), RAFT_PROSPECTIVE);
    tr_close(&t);
}

static void test_restart_rules(void **state)
{
    (void)state;
    static const struct raft_epoch_entry epochs[] = {{4, 0}};
    struct {
        int32_t epoch, leader, voted;
        enum raft_role role;
        int32_t want_epoch;
    } cases[] = {
        {5, 2, -1, RAFT_RESIGNED, 5},   /* it was the leader */
        {5, -1, 2, RAFT_CANDIDATE, 5},  /* voted for itself */
        {5, -1, 1, RAFT_VOTED, 5},      /* voted for another */
        {5, 3, -1, RAFT_FOLLOWER, 5},   /* a leader is known */
        {5, -1, -1, RAFT_UNATTACHED, 5},
        {2, 3, -1, RAFT_UNATTACHED, 4}, /* the file is behind the log */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct raft_persisted p = {.epoch = cases[i].epoch,
                                   .leader_id = cases[i].leader,
                                   .voted_id = cases[i].voted,
                                   .voters = tr_voters3,
                                   .nvoters = 3,
                                   .log_end_offset = 2,
                                   .epochs = epochs,
                                   .nepochs = 1};
        struct tr t;
        tr_open(&t, 2, tr_voters3, 3, true, &p);
        assert_int_equal(raft_role(t.r), cases[i].role);
        assert_int_equal(raft_epoch(t.r), cases[i].want_epoch);
        tr_close(&t);
    }
    /* a voter set that differs from the configuration refuses to start */
    static const int32_t other[] = {1, 2, 4};
    struct raft_persisted p = {.leader_id = -1, .voted_id = -1, .voters = other, .nvoters = 3};
    struct tr t = {0};
    struct raft_config cfg;
    tr_config(&cfg, &t, 2, tr_voters3, 3);
    struct raft *r;
    assert_int_equal(raft_new(&cfg, &p, 0, &r), FERRY_EINVAL);
    assert_null(r);
    /* bad configurations */
    p.voters = NULL;
    cfg.nvoters = 0;
    assert_int_equal(raft_new(&cfg, &p, 0, &r), FERRY_EINVAL);
    static const int32_t dup[] = {1, 1};
    cfg.voters = dup;
    cfg.nvoters = 2;
    assert_int_equal(raft_new(&cfg, &p, 0, &r), FERRY_EINVAL);
}

static void test_single_voter(void **state)
{
    (void)state;
    static const int32_t one[] = {1};
    struct tr t;
    tr_open(&t, 1, one, 1, true, NULL);
    assert_int_equal(raft_role(t.r), RAFT_LEADER); /* at the first tick, no pre-vote needed */
    assert_int_equal(raft_epoch(t.r), 1);
    assert_null(tr_find(&t, RAFT_ACT_COMMIT, 0));
    tr_state_durable(&t);
    assert_null(tr_find(&t, RAFT_ACT_COMMIT, 0)); /* not before the log is fsynced */
    tr_log_durable(&t);
    const struct raft_action *c = tr_find(&t, RAFT_ACT_COMMIT, 0);
    assert_non_null(c);
    assert_int_equal(c->offset, 1); /* the LeaderChange batch */
    tr_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vote_granted_only_after_durable),
        cmocka_unit_test(test_vote_log_comparison),
        cmocka_unit_test(test_vote_epoch_and_validity),
        cmocka_unit_test(test_voted_grants_only_its_candidate),
        cmocka_unit_test(test_observer_never_votes),
        cmocka_unit_test(test_candidate_elected),
        cmocka_unit_test(test_candidate_rejected_backs_off_and_retries),
        cmocka_unit_test(test_higher_epoch_response_steps_down),
        cmocka_unit_test(test_begin_quorum_epoch),
        cmocka_unit_test(test_pre_vote),
        cmocka_unit_test(test_pre_vote_receiver),
        cmocka_unit_test(test_leader_lost_starts_pre_vote_at_once),
        cmocka_unit_test(test_leader_lost_later_voters_stagger),
        cmocka_unit_test(test_leader_lost_pre_vote_refused_retries),
        cmocka_unit_test(test_leader_lost_voter_grants_pre_vote),
        cmocka_unit_test(test_leader_lost_observer_asks_voters),
        cmocka_unit_test(test_leader_no_longer_leading_is_gone),
        cmocka_unit_test(test_pre_vote_unsupported_counts_as_granted),
        cmocka_unit_test(test_check_quorum),
        cmocka_unit_test(test_resign_orders_successors),
        cmocka_unit_test(test_end_quorum_epoch_successor),
        cmocka_unit_test(test_restart_rules),
        cmocka_unit_test(test_single_voter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
