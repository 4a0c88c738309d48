/* Unit tests for the Raft core's liveness rules (the ones the simulator's fault-free tail found), bad
 * input, the wait for an fsynced log before a Vote request, and allocation failures (every input either
 * works or stops the core with FERRY_ENOMEM, never half-done and never leaking). */
#include "broker/common/ferry_alloc.h"
#include "tests/unit/test_raft_util.h"

static void follow(struct tr *t, int32_t id, int32_t leader, int32_t epoch)
{
    struct raft_persisted p = {.epoch = epoch, .leader_id = leader, .voted_id = -1};
    tr_open(t, id, tr_voters3, 3, true, &p);
    tr_begin_epoch(t, leader, epoch); /* contact with the leader */
}

static void test_prospective_refused_by_live_leader_follows_again(void **state)
{
    (void)state;
    struct tr t;
    follow(&t, 2, 1, 3);
    tr_tick(&t, 2000); /* fetch timeout: Prospective */
    assert_int_equal(raft_role(t.r), RAFT_PROSPECTIVE);
    struct raft_msg no = {.type = RAFT_MSG_VOTE_RESP, .from = 3, .to = 2, .epoch = 3, .leader_id = 1};
    no.u.vote_resp.pre_vote = true;
    tr_step(&t, &no); /* node 3 still hears from leader 1 */
    assert_int_equal(raft_role(t.r), RAFT_FOLLOWER);
    assert_int_equal(raft_leader(t.r), 1);
    assert_int_equal(raft_epoch(t.r), 3);
    tr_close(&t);
}

static void test_prospective_above_leader_epoch_campaigns(void **state)
{
    (void)state;
    /* node 2 lost an election in epoch 4; nodes 1 and 3 follow a leader of epoch 3 and refuse pre-votes */
    struct raft_persisted p = {.epoch = 4, .leader_id = -1, .voted_id = 2};
    struct tr t;
    tr_open(&t, 2, tr_voters3, 3, true, &p);
    assert_int_equal(raft_role(t.r), RAFT_CANDIDATE);
    tr_tick(&t, 2000);
    tr_tick(&t, 1000); /* lost and backed off: Prospective in epoch 4 */
    assert_int_equal(raft_role(t.r), RAFT_PROSPECTIVE);
    struct raft_msg no = {.type = RAFT_MSG_VOTE_RESP, .from = 3, .to = 2, .epoch = 3, .leader_id = 1};
    no.u.vote_resp.pre_vote = true;
    tr_step(&t, &no);
    assert_int_equal(raft_role(t.r), RAFT_CANDIDATE); /* only a new epoch can end this */
    assert_int_equal(raft_epoch(t.r), 5);
    tr_close(&t);
}

static void test_responses_name_only_a_live_leader(void **state)
{
    (void)state;
    /* a leader restarted: Resigned in its epoch; it must not present itself as the leader */
    struct raft_persisted p = {.epoch = 3, .leader_id = 1, .voted_id = -1};
    struct tr t;
    tr_open(&t, 1, tr_voters3, 3, true, &p);
    assert_int_equal(raft_role(t.r), RAFT_RESIGNED);
    tr_clear(&t);
    struct raft_msg f = tr_fetch(2, 1, 3, 0, 0, 0);
    tr_step(&t, &f);
    const struct raft_msg *a = tr_sent(&t, RAFT_MSG_FETCH_RESP, 2);
    assert_non_null(a);
    assert_int_equal(a->error, KERR_NOT_LEADER_OR_FOLLOWER);
    assert_int_equal(a->leader_id, -1);
    tr_clear(&t);
    struct raft_msg pv = tr_vote(2, 1, 4, 0, 0, true);
    tr_step(&t, &pv);
    a = tr_sent(&t, RAFT_MSG_VOTE_RESP, 2);
    assert_true(a->u.vote_resp.granted);
    assert_int_equal(a->leader_id, -1);
    tr_close(&t);
}

static void test_higher_epoch_keeps_election_timer(void **state)
{
    (void)state;
    static const struct raft_epoch_entry epochs[] = {{1, 0}};
    struct raft_persisted p = {.epoch = 1, .leader_id = -1, .voted_id = -1, .log_end_offset = 2, .epochs = epochs,
                               .nepochs = 1};
    struct tr t;
    tr_open(&t, 1, tr_voters3, 3, false, &p);
    int64_t deadline = raft_next_deadline(t.r);
    /* a candidate with a stale log keeps raising the epoch just before our timer fires */
    for (int32_t e = 2; e <= 4; e++) {
        t.now = deadline - 10 + e;
        struct raft_msg v = tr_vote(2, 1, e, 0, 0, false);
        tr_step(&t, &v);
        tr_all_durable(&t);
        assert_false(tr_sent(&t, RAFT_MSG_VOTE_RESP, 2)->u.vote_resp.granted);
        assert_int_equal(raft_role(t.r), RAFT_UNATTACHED);
        tr_clear(&t);
    }
    tr_tick(&t, deadline - t.now); /* the timer that was running fires: we stand ourselves */
    assert_int_equal(raft_role(t.r), RAFT_CANDIDATE);
    assert_int_equal(raft_epoch(t.r), 5);
    tr_close(&t);
}

static void test_vote_request_waits_for_fsynced_log(void **state)
{
    (void)state;
    /* a follower with an appended, not yet fsynced record times out: its pre-vote requests claim a log end
     * of 1 and therefore wait for the fsync */
    struct tr t;
    follow(&t, 2, 1, 1);
    tr_tick(&t, 1); /* the initial Fetch was sent */
    struct raft_persisted p = {.epoch = 1, .leader_id = 1, .voted_id = -1};
    tr_close(&t);
    tr_open(&t, 2, tr_voters3, 3, true, &p);
    tr_all_durable(&t);
    struct raft_msg f = *tr_sent(&t, RAFT_MSG_FETCH, 1);
    tr_clear(&t);
    struct raft_batch b = {.base_offset = 0, .count = 1, .epoch = 1};
    struct raft_msg resp = tr_fetch_resp(&f, 1, -1);
    resp.u.fetch_resp.batches = &b;
    resp.u.fetch_resp.nbatches = 1;
    tr_step(&t, &resp);
    tr_tick(&t, 2000);
    assert_int_equal(raft_role(t.r), RAFT_PROSPECTIVE);
    assert_null(tr_sent(&t, RAFT_MSG_VOTE, -1));
    tr_log_durable(&t);
    const struct raft_msg *v = tr_sent(&t, RAFT_MSG_VOTE, 3);
    assert_non_null(v);
    assert_int_equal(v->u.vote.last_offset, 1);
    assert_int_equal(v->u.vote.last_epoch, 1);
    tr_close(&t);
}

static void test_bad_input(void **state)
{
    (void)state;
    struct tr t;
    tr_make_leader(&t);
    struct raft_msg m = tr_fetch(2, 9, 1, 0, 0, 0); /* for another node */
    assert_int_equal(raft_step(t.r, t.now, &m), FERRY_EINVAL);
    m = tr_fetch(2, 1, 1, 0, 0, 0);
    m.type = (enum raft_msg_type)99;
    assert_int_equal(raft_step(t.r, t.now, &m), FERRY_EINVAL);
    m = tr_fetch(-5, 1, 1, 0, 0, 0); /* no replica id */
    tr_step(&t, &m);
    assert_int_equal(tr_sent(&t, RAFT_MSG_FETCH_RESP, -5)->error, KERR_INVALID_REQUEST);
    int64_t base;
    assert_int_equal(raft_propose(t.r, t.now, 0, NULL, 0, &base), FERRY_EINVAL);
    assert_int_equal(raft_state_persisted(t.r, t.now, 999), FERRY_EINVAL); /* never issued */
    assert_int_equal(raft_log_persisted(t.r, t.now, 999), FERRY_EINVAL);
    struct raft_msg e = {.type = RAFT_MSG_END_EPOCH, .from = 2, .to = 1, .epoch = 1, .leader_id = -1};
    tr_clear(&t);
    tr_step(&t, &e);
    assert_int_equal(tr_sent(&t, RAFT_MSG_END_EPOCH_RESP, 2)->error, KERR_INVALID_REQUEST);
    assert_int_equal(raft_role(t.r), RAFT_LEADER); /* nothing lost */
    tr_close(&t);
    /* a log description that contradicts itself */
    static const struct raft_epoch_entry bad[] = {{2, 0}, {1, 3}};
    struct raft_persisted p = {.leader_id = -1, .voted_id = -1, .log_end_offset = 5, .epochs = bad, .nepochs = 2};
    struct raft_config cfg;
    tr_config(&cfg, &t, 1, tr_voters3, 3);
    struct raft *r;
    assert_int_equal(raft_new(&cfg, &p, 0, &r), FERRY_EINVAL);
    p.nepochs = 0;
    p.log_start_offset = 7; /* start beyond the end */
    assert_int_equal(raft_new(&cfg, &p, 0, &r), FERRY_EINVAL);
}

static void test_epoch_checks_end_epoch_and_fetch_snapshot(void **state)
{
    (void)state;
    struct tr t;
    follow(&t, 2, 1, 3);
    struct raft_msg e = {.type = RAFT_MSG_END_EPOCH, .from = 1, .to = 2, .corr = 3, .epoch = 2, .leader_id = 1};
    tr_step(&t, &e); /* an older epoch */
    assert_int_equal(tr_sent(&t, RAFT_MSG_END_EPOCH_RESP, 1)->error, KERR_FENCED_LEADER_EPOCH);
    assert_int_equal(tr_sent(&t, RAFT_MSG_END_EPOCH_RESP, 1)->epoch, 3);
    assert_int_equal(raft_role(t.r), RAFT_FOLLOWER);
    tr_clear(&t);
    e.epoch = 5; /* a later epoch whose leader (3) resigns: follow it, then stand as its first successor */
    e.from = e.leader_id = 3;
    e.u.end_epoch.preferred[0] = 2;
    e.u.end_epoch.npreferred = 1;
    tr_step(&t, &e);
    assert_int_equal(raft_epoch(t.r), 5);
    assert_int_equal(raft_leader(t.r), 3);
    tr_all_durable(&t);
    assert_int_equal(tr_sent(&t, RAFT_MSG_END_EPOCH_RESP, 3)->error, KERR_NONE);
    tr_tick(&t, 1);
    assert_int_equal(raft_role(t.r), RAFT_PROSPECTIVE);
    tr_clear(&t);
    /* FetchSnapshot to a non-leader, with an old and with a future epoch */
    struct raft_msg fs = {.type = RAFT_MSG_FETCH_SNAPSHOT, .from = 1, .to = 2, .corr = 4, .epoch = 5, .leader_id = -1};
    fs.u.fetch_snapshot.snapshot = (struct raft_snapshot_id){10, 1};
    fs.u.fetch_snapshot.max_bytes = 10;
    int16_t want[] = {KERR_NOT_LEADER_OR_FOLLOWER, KERR_FENCED_LEADER_EPOCH, KERR_UNKNOWN_LEADER_EPOCH};
    int32_t epochs[] = {5, 4, 6};
    for (size_t i = 0; i < 3; i++) {
        fs.epoch = epochs[i];
        tr_step(&t, &fs);
        assert_int_equal(tr_sent(&t, RAFT_MSG_FETCH_SNAPSHOT_RESP, 1)->error, want[i]);
        tr_clear(&t);
    }
    tr_close(&t);
}

static void test_snapshot_not_found_falls_back_to_fetch(void **state)
{
    (void)state;
    struct tr t;
    struct raft_persisted p = {.epoch = 2, .leader_id = 1, .voted_id = -1};
    tr_open(&t, 2, tr_voters3, 3, true, &p);
    tr_all_durable(&t);
    struct raft_msg req = *tr_sent(&t, RAFT_MSG_FETCH, 1);
    tr_clear(&t);
    struct raft_msg resp = tr_fetch_resp(&req, 2, 12);
    resp.u.fetch_resp.snapshot = (struct raft_snapshot_id){10, 1};
    tr_step(&t, &resp);
    req = *tr_sent(&t, RAFT_MSG_FETCH_SNAPSHOT, 1);
    tr_clear(&t);
    struct raft_msg nf = {.type = RAFT_MSG_FETCH_SNAPSHOT_RESP, .from = 1, .to = 2, .corr = req.corr, .epoch = 2,
                          .leader_id = 1, .error = KERR_SNAPSHOT_NOT_FOUND};
    tr_step(&t, &nf); /* the leader replaced its snapshot: start again with a plain Fetch */
    const struct raft_msg *f = tr_sent(&t, RAFT_MSG_FETCH, 1);
    assert_non_null(f);
    assert_int_equal(f->u.fetch.fetch_offset, 0);
    assert_null(tr_find(&t, RAFT_ACT_SNAPSHOT_WRITE, 0));
    tr_close(&t);
}

/* One election and a few appends and fetches; with allocation n failing, every call either works or
 * returns FERRY_ENOMEM, after which the core is fatal and ignores input. */
static int scenario(struct tr *t)
{
    struct raft_config cfg;
    tr_config(&cfg, t, 1, tr_voters3, 3);
    cfg.pre_vote = false;
    static const struct raft_epoch_entry epochs[] = {{1, 0}};
    struct raft_persisted p = {.epoch = 1, .leader_id = -1, .voted_id = -1, .log_end_offset = 2, .epochs = epochs,
                               .nepochs = 1};
    int rc = raft_new(&cfg, &p, 0, &t->r);
    if (rc)
        return rc;
    uint64_t seq = 0;
    int64_t now = 3000;
    struct raft_msg v = {.type = RAFT_MSG_VOTE_RESP, .from = 2, .to = 1, .epoch = 2, .leader_id = -1};
    v.u.vote_resp.granted = true;
    struct raft_msg f = tr_fetch(2, 1, 2, 3, 2, 0);
    int64_t base;
    if ((rc = raft_tick(t->r, now)) || (rc = raft_state_persisted(t->r, now, 1)) || (rc = raft_step(t->r, now, &v)))
        return rc;
    size_t n;
    const struct raft_action *a = raft_actions(t->r, &n);
    for (size_t i = 0; i < n; i++)
        if (a[i].type == RAFT_ACT_LOG_SYNC)
            seq = a[i].seq;
    if ((rc = raft_state_persisted(t->r, now, 2)) || (rc = raft_log_persisted(t->r, now, seq)) ||
        (rc = raft_step(t->r, now, &f)) || (rc = raft_propose(t->r, now, 2, NULL, 0, &base)))
        return rc;
    return 0;
}

static void test_allocation_failures(void **state)
{
    (void)state;
    ferry_log_set_level(FERRY_LOG_ERROR + 1);
    bool completed = false;
    for (long fail = 0; fail < 200 && !completed; fail++) {
        struct tr t = {.rng = 1};
        ferry_alloc_fail_after(fail);
        int rc = scenario(&t);
        ferry_alloc_fail_after(-1);
        if (rc == 0) {
            completed = true;
            assert_int_equal(raft_role(t.r), RAFT_LEADER);
        } else {
            assert_int_equal(rc, FERRY_ENOMEM);
            if (t.r) {
                assert_true(raft_fatal(t.r));
                assert_int_equal(raft_tick(t.r, 99999), 0); /* ignored */
            }
        }
        raft_free(t.r);
    }
    assert_true(completed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prospective_refused_by_live_leader_follows_again),
        cmocka_unit_test(test_prospective_above_leader_epoch_campaigns),
        cmocka_unit_test(test_responses_name_only_a_live_leader),
        cmocka_unit_test(test_higher_epoch_keeps_election_timer),
        cmocka_unit_test(test_vote_request_waits_for_fsynced_log),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_epoch_checks_end_epoch_and_fetch_snapshot),
        cmocka_unit_test(test_snapshot_not_found_falls_back_to_fetch),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
