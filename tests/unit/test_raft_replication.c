/* Unit tests for the Raft core's replication: the leader's Fetch checks and position check (diverging
 * epoch, snapshot id), the high-watermark rules, the fetch purgatory, the follower's append/ack ordering
 * and truncation, FetchSnapshot on both sides, observers and DescribeQuorum. */
#include "tests/unit/test_raft_util.h"

/* Node 1 of {1,2,3} with the described log, elected leader (pre-vote off) in file_epoch + 1. */
static void open_leader(struct tr *t, int32_t file_epoch, const struct raft_epoch_entry *epochs, size_t nepochs,
                        int64_t end, struct raft_snapshot_id snap)
{
    struct raft_persisted p = {.epoch = file_epoch,
                               .leader_id = -1,
                               .voted_id = -1,
                               .log_start_offset = snap.end_offset,
                               .snapshot = snap,
                               .log_end_offset = end,
                               .epochs = epochs,
                               .nepochs = nepochs};
    tr_open(t, 1, tr_voters3, 3, false, &p);
    tr_tick(t, 2000);
    tr_all_durable(t);
    struct raft_msg v = {.type = RAFT_MSG_VOTE_RESP, .from = 2, .to = 1, .epoch = file_epoch + 1, .leader_id = -1};
    v.u.vote_resp.granted = true;
    tr_step(t, &v);
    assert_int_equal(raft_role(t->r), RAFT_LEADER);
    tr_all_durable(t);
    tr_clear(t);
}

/* Node 2 of {1,2,3}, following leader 1 in `epoch`, with the described log; everything durable. */
static void open_follower(struct tr *t, int32_t epoch, const struct raft_epoch_entry *epochs, size_t nepochs,
                          int64_t end)
{
    struct raft_persisted p = {.epoch = epoch,
                               .leader_id = 1,
                               .voted_id = -1,
                               .log_end_offset = end,
                               .epochs = epochs,
                               .nepochs = nepochs};
    tr_open(t, 2, tr_voters3, 3, true, &p);
    assert_int_equal(raft_role(t->r), RAFT_FOLLOWER);
    tr_all_durable(t);
}

static const struct raft_msg *fetch_answer(const struct tr *t, int32_t to)
{
    const struct raft_msg *m = tr_sent(t, RAFT_MSG_FETCH_RESP, to);
    assert_non_null(m);
    return m;
}

static void test_leader_fetch_and_high_watermark(void **state)
{
    (void)state;
    static const struct raft_epoch_entry epochs[] = {{1, 0}};
    struct tr t;
    open_leader(&t, 1, epochs, 1, 3, (struct raft_snapshot_id){0, 0});
    assert_int_equal(raft_log_end(t.r), 4); /* LeaderChange at 3, epoch 2 */
    assert_int_equal(raft_high_watermark(t.r), -1);
    /* node 2 holds only the old epoch's records: no HW yet, even though a majority has offset 3 */
    struct raft_msg f = tr_fetch(2, 1, 2, 3, 1, 0);
    tr_step(&t, &f);
    const struct raft_msg *a = fetch_answer(&t, 2);
    assert_int_equal(a->error, KERR_NONE);
    assert_int_equal(a->u.fetch_resp.records_from, 3);
    assert_int_equal(a->u.fetch_resp.records_to, 4);
    assert_int_equal(a->u.fetch_resp.high_watermark, -1);
    assert_int_equal(a->u.fetch_resp.diverging_epoch, -1);
    assert_int_equal(a->u.fetch_resp.snapshot.end_offset, -1);
    assert_int_equal(a->leader_id, 1);
    assert_int_equal(raft_high_watermark(t.r), -1);
    assert_null(tr_find(&t, RAFT_ACT_COMMIT, 0));
    tr_clear(&t);
    /* node 2 has the LeaderChange record: a record of this epoch on a majority */
    f = tr_fetch(2, 1, 2, 4, 2, 0);
    tr_step(&t, &f);
    assert_int_equal(raft_high_watermark(t.r), 4);
    assert_int_equal(fetch_answer(&t, 2)->u.fetch_resp.high_watermark, 4);
    assert_int_equal(tr_find(&t, RAFT_ACT_COMMIT, 0)->offset, 4);
    tr_clear(&t);
    /* an older fetch offset from the same follower never moves the HW back */
    f = tr_fetch(2, 1, 2, 3, 1, 0);
    tr_step(&t, &f);
    assert_int_equal(raft_high_watermark(t.r), 4);
    assert_null(tr_find(&t, RAFT_ACT_COMMIT, 0));
    tr_close(&t);
}

static void test_leader_counts_only_its_fsynced_log(void **state)
{
    (void)state;
    static const int32_t one[] = {1};
    struct tr t;
    tr_open(&t, 1, one, 1, true, NULL);
    tr_all_durable(&t);
    tr_clear(&t);
    int64_t base;
    assert_int_equal(raft_propose(t.r, t.now, 3, NULL, 0, &base), 0);
    tr_take(&t);
    assert_int_equal(base, 1);
    const struct raft_action *ap = tr_find(&t, RAFT_ACT_LOG_APPEND, 0);
    assert_non_null(ap);
    assert_int_equal(ap->batches[0].count, 3);
    assert_int_equal(raft_high_watermark(t.r), 1);
    assert_null(tr_find(&t, RAFT_ACT_COMMIT, 0));
    tr_log_durable(&t);
    assert_int_equal(tr_find(&t, RAFT_ACT_COMMIT, 0)->offset, 4);
    tr_close(&t);
}

static void test_leader_diverging_epoch(void **state)
{
    (void)state;
    static const struct raft_epoch_entry epochs[] = {{1, 0}, {3, 5}};
    struct tr t;
    open_leader(&t, 3, epochs, 2, 8, (struct raft_snapshot_id){0, 0});
    struct raft_msg f = tr_fetch(2, 1, 4, 7, 2, 0); /* epoch 2 never existed here: epoch 1 ended at 5 */
    tr_step(&t, &f);
    const struct raft_msg *a = fetch_answer(&t, 2);
    assert_int_equal(a->u.fetch_resp.diverging_epoch, 1);
    assert_int_equal(a->u.fetch_resp.diverging_end_offset, 5);
    assert_int_equal(a->u.fetch_resp.records_from, -1);
    tr_clear(&t);
    f = tr_fetch(2, 1, 4, 9, 3, 0); /* epoch 3 ended at 8, below the fetch offset */
    tr_step(&t, &f);
    a = fetch_answer(&t, 2);
    assert_int_equal(a->u.fetch_resp.diverging_epoch, 3);
    assert_int_equal(a->u.fetch_resp.diverging_end_offset, 8);
    tr_clear(&t);
    f = tr_fetch(2, 1, 4, 6, 3, 0); /* consistent */
    tr_step(&t, &f);
    a = fetch_answer(&t, 2);
    assert_int_equal(a->u.fetch_resp.diverging_epoch, -1);
    assert_int_equal(a->u.fetch_resp.records_from, 6);
    assert_int_equal(a->u.fetch_resp.records_to, 9);
    tr_close(&t);
}

static void test_fetch_request_errors(void **state)
{
    (void)state;
    struct tr t;
    tr_make_leader(&t);
    struct {
        int32_t epoch, last_epoch;
        int64_t offset;
        int32_t max_wait;
        int16_t error;
    } cases[] = {
        {0, 0, 0, 0, KERR_FENCED_LEADER_EPOCH},
        {2, 0, 0, 0, KERR_UNKNOWN_LEADER_EPOCH},
        {1, 2, 0, 0, KERR_INVALID_REQUEST}, /* last fetched epoch above the current one */
        {1, 0, -1, 0, KERR_INVALID_REQUEST},
        {1, 0, 0, -1, KERR_INVALID_REQUEST},
        {1, -1, 0, 0, KERR_INVALID_REQUEST},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct raft_msg f = tr_fetch(2, 1, cases[i].epoch, cases[i].offset, cases[i].last_epoch, cases[i].max_wait);
        tr_step(&t, &f);
        assert_int_equal(fetch_answer(&t, 2)->error, cases[i].error);
        assert_int_equal(fetch_answer(&t, 2)->epoch, 1);
        tr_clear(&t);
    }
    assert_int_equal(raft_role(t.r), RAFT_LEADER);
    tr_close(&t);
    /* a follower answers NOT_LEADER_OR_FOLLOWER and names its leader */
    static const struct raft_epoch_entry epochs[] = {{1, 0}};
    open_follower(&t, 1, epochs, 1, 2);
    tr_clear(&t);
    struct raft_msg f = tr_fetch(3, 2, 1, 0, 0, 0);
    tr_step(&t, &f);
    assert_int_equal(fetch_answer(&t, 3)->error, KERR_NOT_LEADER_OR_FOLLOWER);
    assert_int_equal(fetch_answer(&t, 3)->leader_id, 1);
    tr_close(&t);
}

static void test_fetch_purgatory(void **state)
{
    (void)state;
    struct tr t;
    tr_make_leader(&t);
    struct raft_msg f = tr_fetch(2, 1, 1, 1, 1, 500);
    tr_step(&t, &f);
    assert_null(tr_sent(&t, RAFT_MSG_FETCH_RESP, 2)); /* caught up: waits */
    int64_t base;
    assert_int_equal(raft_propose(t.r, t.now, 1, NULL, 0, &base), 0);
    tr_take(&t);
    const struct raft_msg *a = fetch_answer(&t, 2); /* answered by the append */
    assert_int_equal(a->u.fetch_resp.records_from, 1);
    assert_int_equal(a->u.fetch_resp.records_to, 2);
    tr_clear(&t);
    f = tr_fetch(3, 1, 1, 2, 1, 500);
    tr_step(&t, &f);
    assert_null(tr_sent(&t, RAFT_MSG_FETCH_RESP, 3));
    tr_tick(&t, 499);
    assert_null(tr_sent(&t, RAFT_MSG_FETCH_RESP, 3));
    tr_tick(&t, 1);
    a = fetch_answer(&t, 3); /* MaxWaitMs ran out: an empty answer */
    assert_int_equal(a->u.fetch_resp.records_from, -1);
    tr_clear(&t);
    f = tr_fetch(8, 1, 1, 2, 1, 500); /* observers wait too */
    tr_step(&t, &f);
    assert_null(tr_sent(&t, RAFT_MSG_FETCH_RESP, 8));
    assert_int_equal(raft_next_deadline(t.r), t.now + 500);
    assert_int_equal(raft_propose(t.r, t.now, 1, NULL, 0, &base), 0);
    tr_take(&t);
    assert_int_equal(fetch_answer(&t, 8)->u.fetch_resp.records_to, 3);
    tr_close(&t);
}

static void test_purgatory_answered_on_resignation(void **state)
{
    (void)state;
    struct tr t;
    tr_make_leader(&t);
    struct raft_msg f = tr_fetch(2, 1, 1, 1, 1, 500);
    tr_step(&t, &f);
    assert_null(tr_sent(&t, RAFT_MSG_FETCH_RESP, 2));
    /* resigning answers it at once: the follower's next requests to this node queue behind it */
    assert_int_equal(raft_resign(t.r, t.now), 0);
    tr_take(&t);
    const struct raft_msg *a = fetch_answer(&t, 2);
    assert_int_equal(a->error, KERR_NONE);
    assert_int_equal(a->epoch, 1);
    tr_clear(&t);
    /* later fetches: NOT_LEADER_OR_FOLLOWER naming no leader */
    tr_step(&t, &f);
    a = fetch_answer(&t, 2);
    assert_int_equal(a->error, KERR_NOT_LEADER_OR_FOLLOWER);
    assert_int_equal(a->leader_id, RAFT_NO_ID);
    tr_close(&t);
}

static void test_follower_appends_and_acks_after_fsync(void **state)
{
    (void)state;
    struct tr t;
    open_follower(&t, 1, NULL, 0, 0);
    const struct raft_msg *req = tr_sent(&t, RAFT_MSG_FETCH, 1);
    assert_non_null(req);
    assert_int_equal(req->u.fetch.fetch_offset, 0);
    assert_int_equal(req->u.fetch.last_fetched_epoch, 0);
    struct raft_msg saved = *req;
    tr_clear(&t);
    struct raft_batch b[] = {{.base_offset = 0, .count = 1, .epoch = 1}, {.base_offset = 1, .count = 2, .epoch = 1}};
    struct raft_msg resp = tr_fetch_resp(&saved, 1, 3);
    resp.u.fetch_resp.batches = b;
    resp.u.fetch_resp.nbatches = 2;
    tr_step(&t, &resp);
    const struct raft_action *ap = tr_find(&t, RAFT_ACT_LOG_APPEND, 0);
    assert_non_null(ap);
    assert_int_equal(ap->nbatches, 2);
    assert_non_null(tr_find(&t, RAFT_ACT_LOG_SYNC, 0));
    assert_int_equal(raft_log_end(t.r), 3);
    assert_int_equal(raft_high_watermark(t.r), 3);
    /* neither the next Fetch (the ack of offset 3) nor the commit before the fsync */
    assert_null(tr_sent(&t, RAFT_MSG_FETCH, 1));
    assert_null(tr_find(&t, RAFT_ACT_COMMIT, 0));
    tr_log_durable(&t);
    req = tr_sent(&t, RAFT_MSG_FETCH, 1);
    assert_non_null(req);
    assert_int_equal(req->u.fetch.fetch_offset, 3);
    assert_int_equal(req->u.fetch.last_fetched_epoch, 1);
    assert_int_equal(tr_find(&t, RAFT_ACT_COMMIT, 0)->offset, 3);
    saved = *req;
    tr_clear(&t);
    /* a stale or duplicated answer (an older correlation id) is ignored */
    tr_step(&t, &resp);
    assert_null(tr_find(&t, RAFT_ACT_LOG_APPEND, 0));
    /* batches that do not start at the log end are dropped */
    struct raft_msg gap = tr_fetch_resp(&saved, 1, 3);
    struct raft_batch far = {.base_offset = 7, .count = 1, .epoch = 1};
    gap.u.fetch_resp.batches = &far;
    gap.u.fetch_resp.nbatches = 1;
    tr_step(&t, &gap);
    assert_null(tr_find(&t, RAFT_ACT_LOG_APPEND, 0));
    assert_int_equal(raft_log_end(t.r), 3);
    tr_close(&t);
}

static void test_follower_fetch_timeout(void **state)
{
    (void)state;
    struct tr t;
    open_follower(&t, 1, NULL, 0, 0);
    tr_tick(&t, 1999);
    assert_int_equal(raft_role(t.r), RAFT_FOLLOWER);
    tr_tick(&t, 1);
    assert_int_equal(raft_role(t.r), RAFT_PROSPECTIVE); /* fetch.timeout.ms without an answer */
    tr_close(&t);
}

/* Follower with epoch 1 at [0,3) and epoch 2 at [3,6); the leader (epoch 3) answers with a diverging epoch. */
static int64_t truncation_for(int32_t div_epoch, int64_t div_end)
{
    static const struct raft_epoch_entry epochs[] = {{1, 0}, {2, 3}};
    struct tr t;
    open_follower(&t, 3, epochs, 2, 6);
    struct raft_msg req = *tr_sent(&t, RAFT_MSG_FETCH, 1);
    tr_clear(&t);
    struct raft_msg resp = tr_fetch_resp(&req, 3, -1);
    resp.u.fetch_resp.diverging_epoch = div_epoch;
    resp.u.fetch_resp.diverging_end_offset = div_end;
    tr_step(&t, &resp);
    const struct raft_action *tr = tr_find(&t, RAFT_ACT_LOG_TRUNCATE, 0);
    int64_t at = tr ? tr->offset : -1;
    assert_int_equal(raft_log_end(t.r), tr ? at : 6);
    tr_log_durable(&t);
    const struct raft_msg *again = tr_sent(&t, RAFT_MSG_FETCH, 1); /* and fetches again from there */
    assert_non_null(again);
    assert_int_equal(again->u.fetch.fetch_offset, raft_log_end(t.r));
    tr_close(&t);
    return at;
}

static void test_follower_truncation(void **state)
{
    (void)state;
    assert_int_equal(truncation_for(1, 2), 2); /* the same epoch, ending earlier at the leader */
    assert_int_equal(truncation_for(1, 4), 3); /* the same epoch ends here at 3 */
    assert_int_equal(truncation_for(2, 4), 4);
    assert_int_equal(truncation_for(0, 0), 0);
    assert_int_equal(truncation_for(2, 9), -1); /* nothing to cut: the log end is below */
}

static void test_truncation_below_commit_is_fatal(void **state)
{
    (void)state;
    static const struct raft_epoch_entry epochs[] = {{1, 0}};
    struct tr t;
    open_follower(&t, 1, epochs, 1, 4);
    struct raft_msg req = *tr_sent(&t, RAFT_MSG_FETCH, 1);
    tr_clear(&t);
    struct raft_msg resp = tr_fetch_resp(&req, 1, 3);
    tr_step(&t, &resp);
    tr_log_durable(&t);
    assert_int_equal(raft_commit(t.r), 3);
    req = *tr_sent(&t, RAFT_MSG_FETCH, 1);
    tr_clear(&t);
    resp = tr_fetch_resp(&req, 1, 3);
    resp.u.fetch_resp.diverging_epoch = 0;
    resp.u.fetch_resp.diverging_end_offset = 1;
    tr_step(&t, &resp);
    assert_true(raft_fatal(t.r));
    assert_non_null(tr_find(&t, RAFT_ACT_FATAL, 0));
    tr_close(&t);
}

static void test_leader_serves_snapshot(void **state)
{
    (void)state;
    static const struct raft_epoch_entry epochs[] = {{1, 10}};
    struct tr t;
    open_leader(&t, 1, epochs, 1, 12, (struct raft_snapshot_id){10, 1});
    struct {
        int64_t offset;
        int32_t last_epoch;
        bool snapshot;
    } cases[] = {
        {0, 0, true},   /* an empty replica */
        {5, 1, true},   /* below the log start */
        {10, 0, true},  /* at the log start with another epoch than the snapshot's */
        {10, 1, false}, /* at the log start, consistent */
        {12, 1, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct raft_msg f = tr_fetch(2, 1, 2, cases[i].offset, cases[i].last_epoch, 0);
        tr_step(&t, &f);
        const struct raft_msg *a = fetch_answer(&t, 2);
        assert_int_equal(a->u.fetch_resp.snapshot.end_offset, cases[i].snapshot ? 10 : -1);
        assert_int_equal(a->u.fetch_resp.log_start_offset, 10);
        if (cases[i].snapshot)
            assert_int_equal(a->u.fetch_resp.snapshot.epoch, 1);
        tr_clear(&t);
    }
    struct raft_msg fs = {.type = RAFT_MSG_FETCH_SNAPSHOT, .from = 2, .to = 1, .corr = 4, .epoch = 2, .leader_id = 1};
    fs.u.fetch_snapshot.snapshot = (struct raft_snapshot_id){10, 1};
    fs.u.fetch_snapshot.position = 6;
    fs.u.fetch_snapshot.max_bytes = 100;
    tr_step(&t, &fs);
    const struct raft_msg *a = tr_sent(&t, RAFT_MSG_FETCH_SNAPSHOT_RESP, 2);
    assert_non_null(a);
    assert_int_equal(a->error, KERR_NONE);
    assert_int_equal(a->u.fetch_snapshot_resp.position, 6);
    assert_int_equal(a->u.fetch_snapshot_resp.max_bytes, 100);
    assert_int_equal(a->corr, 4);
    tr_clear(&t);
    /* Kafka 3.7's followers leave MaxBytes at its default, 0x7fffffff: the answer (whose buffer the I/O layer
     * allocates at max_bytes) carries at most fetch_snapshot_max_bytes; the follower asks for the rest */
    fs.u.fetch_snapshot.max_bytes = INT32_MAX;
    tr_step(&t, &fs);
    a = tr_sent(&t, RAFT_MSG_FETCH_SNAPSHOT_RESP, 2);
    assert_int_equal(a->error, KERR_NONE);
    assert_int_equal(a->u.fetch_snapshot_resp.max_bytes, 8 << 20);
    tr_clear(&t);
    fs.u.fetch_snapshot.snapshot = (struct raft_snapshot_id){9, 1};
    tr_step(&t, &fs);
    assert_int_equal(tr_sent(&t, RAFT_MSG_FETCH_SNAPSHOT_RESP, 2)->error, KERR_SNAPSHOT_NOT_FOUND);
    tr_clear(&t);
    fs.u.fetch_snapshot.snapshot = (struct raft_snapshot_id){10, 1};
    fs.u.fetch_snapshot.position = -1;
    tr_step(&t, &fs);
    assert_int_equal(tr_sent(&t, RAFT_MSG_FETCH_SNAPSHOT_RESP, 2)->error, KERR_INVALID_REQUEST);
    tr_close(&t);
}

static struct raft_msg snapshot_chunk(const struct raft_msg *req, const char *data, size_t len, int64_t size)
{
    struct raft_msg m = {.type = RAFT_MSG_FETCH_SNAPSHOT_RESP,
                         .from = 1,
                         .to = 2,
                         .corr = req->corr,
                         .epoch = req->epoch,
                         .leader_id = 1};
    m.u.fetch_snapshot_resp.snapshot = req->u.fetch_snapshot.snapshot;
    m.u.fetch_snapshot_resp.position = req->u.fetch_snapshot.position;
    m.u.fetch_snapshot_resp.size = size;
    m.u.fetch_snapshot_resp.data = data;
    m.u.fetch_snapshot_resp.len = len;
    return m;
}

static void test_follower_fetches_snapshot(void **state)
{
    (void)state;
    struct tr t;
    open_follower(&t, 2, NULL, 0, 0);
    struct raft_msg req = *tr_sent(&t, RAFT_MSG_FETCH, 1);
    tr_clear(&t);
    struct raft_msg resp = tr_fetch_resp(&req, 2, 12);
    resp.u.fetch_resp.snapshot = (struct raft_snapshot_id){10, 1};
    tr_step(&t, &resp);
    const struct raft_msg *fs = tr_sent(&t, RAFT_MSG_FETCH_SNAPSHOT, 1);
    assert_non_null(fs);
    assert_int_equal(fs->u.fetch_snapshot.snapshot.end_offset, 10);
    assert_int_equal(fs->u.fetch_snapshot.position, 0);
    req = *fs;
    tr_clear(&t);
    struct raft_msg c1 = snapshot_chunk(&req, "abc", 3, 5);
    tr_step(&t, &c1);
    const struct raft_action *w = tr_find(&t, RAFT_ACT_SNAPSHOT_WRITE, 0);
    assert_non_null(w);
    assert_int_equal(w->position, 0);
    assert_int_equal(w->len, 3);
    fs = tr_sent(&t, RAFT_MSG_FETCH_SNAPSHOT, 1);
    assert_int_equal(fs->u.fetch_snapshot.position, 3);
    req = *fs;
    tr_clear(&t);
    tr_step(&t, &c1); /* a duplicate of the first chunk: ignored */
    assert_null(tr_find(&t, RAFT_ACT_SNAPSHOT_WRITE, 0));
    struct raft_msg c2 = snapshot_chunk(&req, "de", 2, 5);
    tr_step(&t, &c2);
    assert_int_equal(tr_find(&t, RAFT_ACT_SNAPSHOT_WRITE, 0)->position, 3);
    const struct raft_action *in = tr_find(&t, RAFT_ACT_SNAPSHOT_INSTALL, 0);
    assert_non_null(in);
    assert_int_equal(in->snapshot.end_offset, 10);
    assert_int_equal(raft_log_end(t.r), 10);
    assert_null(tr_sent(&t, RAFT_MSG_FETCH, 1)); /* resumes only once the install is durable */
    tr_log_durable(&t);
    const struct raft_msg *f = tr_sent(&t, RAFT_MSG_FETCH, 1);
    assert_non_null(f);
    assert_int_equal(f->u.fetch.fetch_offset, 10);
    assert_int_equal(f->u.fetch.last_fetched_epoch, 1);
    assert_int_equal(tr_find(&t, RAFT_ACT_COMMIT, 0)->offset, 10);
    tr_close(&t);
}

static void test_observer_finds_and_follows_leader(void **state)
{
    (void)state;
    struct tr t;
    tr_open(&t, 7, tr_voters3, 3, true, NULL);
    tr_state_durable(&t);
    const struct raft_msg *f = tr_sent(&t, RAFT_MSG_FETCH, -1);
    assert_non_null(f);
    struct raft_msg req = *f;
    tr_clear(&t);
    struct raft_msg nl = {.type = RAFT_MSG_FETCH_RESP,
                          .from = req.to,
                          .to = 7,
                          .corr = req.corr,
                          .epoch = 3,
                          .leader_id = 2,
                          .error = KERR_NOT_LEADER_OR_FOLLOWER};
    tr_step(&t, &nl);
    assert_int_equal(raft_role(t.r), RAFT_FOLLOWER);
    assert_int_equal(raft_leader(t.r), 2);
    assert_int_equal(raft_epoch(t.r), 3);
    tr_state_durable(&t);
    assert_non_null(tr_sent(&t, RAFT_MSG_FETCH, 2));
    tr_close(&t);
}

static void test_observer_not_counted_and_described(void **state)
{
    (void)state;
    struct tr t;
    tr_make_leader(&t);
    struct raft_msg f = tr_fetch(7, 1, 1, 1, 1, 0); /* an observer has the LeaderChange record */
    tr_step(&t, &f);
    assert_int_equal(raft_high_watermark(t.r), -1);
    f = tr_fetch(3, 1, 1, 1, 1, 0);
    tr_step(&t, &f);
    assert_int_equal(raft_high_watermark(t.r), 1);
    struct raft_describe d;
    assert_int_equal(raft_describe(t.r, &d), 0);
    assert_int_equal(d.leader_id, 1);
    assert_int_equal(d.epoch, 1);
    assert_int_equal(d.high_watermark, 1);
    assert_int_equal(d.nvoters, 3);
    assert_int_equal(d.voters[1].id, 2);
    assert_int_equal(d.voters[1].log_end_offset, -1);
    assert_int_equal(d.voters[2].log_end_offset, 1);
    assert_int_equal(d.voters[2].last_fetch_ms, t.now);
    assert_int_equal(d.nobservers, 1);
    assert_int_equal(d.observers[0].id, 7);
    assert_int_equal(d.observers[0].log_end_offset, 1);
    tr_close(&t);
    static const struct raft_epoch_entry epochs[] = {{1, 0}};
    open_follower(&t, 1, epochs, 1, 1);
    assert_int_equal(raft_describe(t.r, &d), FERRY_EINVAL);
    tr_close(&t);
}

static void test_snapshot_done_moves_log_start(void **state)
{
    (void)state;
    struct tr t;
    tr_make_leader(&t);
    int64_t base;
    assert_int_equal(raft_propose(t.r, t.now, 4, NULL, 0, &base), 0);
    tr_take(&t);
    tr_all_durable(&t);
    /* beyond the commit: refused */
    assert_int_equal(raft_snapshot_done(t.r, t.now, (struct raft_snapshot_id){3, 1}), FERRY_EINVAL);
    struct raft_msg f = tr_fetch(2, 1, 1, 5, 1, 0);
    tr_step(&t, &f);
    assert_int_equal(raft_commit(t.r), 5);
    tr_clear(&t);
    assert_int_equal(raft_snapshot_done(t.r, t.now, (struct raft_snapshot_id){5, 1}), 0);
    tr_take(&t);
    assert_int_equal(tr_find(&t, RAFT_ACT_LOG_START, 0)->offset, 5);
    assert_int_equal(raft_snapshot_done(t.r, t.now, (struct raft_snapshot_id){5, 1}), FERRY_EINVAL); /* not newer */
    tr_clear(&t);
    f = tr_fetch(3, 1, 1, 0, 0, 0);
    tr_step(&t, &f);
    assert_int_equal(fetch_answer(&t, 3)->u.fetch_resp.snapshot.end_offset, 5);
    tr_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leader_fetch_and_high_watermark),
        cmocka_unit_test(test_leader_counts_only_its_fsynced_log),
        cmocka_unit_test(test_leader_diverging_epoch),
        cmocka_unit_test(test_fetch_request_errors),
        cmocka_unit_test(test_fetch_purgatory),
        cmocka_unit_test(test_purgatory_answered_on_resignation),
        cmocka_unit_test(test_follower_appends_and_acks_after_fsync),
        cmocka_unit_test(test_follower_fetch_timeout),
        cmocka_unit_test(test_follower_truncation),
        cmocka_unit_test(test_truncation_below_commit_is_fatal),
        cmocka_unit_test(test_leader_serves_snapshot),
        cmocka_unit_test(test_follower_fetches_snapshot),
        cmocka_unit_test(test_observer_finds_and_follows_leader),
        cmocka_unit_test(test_observer_not_counted_and_described),
        cmocka_unit_test(test_snapshot_done_moves_log_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
