/* Unit tests for the active controller's operations in flight (kraft_node.c, kraft_node_latest.c): each
 * operation is decided against the records already decided but not yet committed, all of a loop turn's
 * records are proposed together, an operation is answered only once the commit passes it (one that wrote
 * nothing once everything before it committed), and losing the lead fails every pending operation with
 * NOT_CONTROLLER. The node runs on a real loop and disk; in the 3-voter cases the test plays voters 2 and
 * 3 through the Raft transport (a granted vote, then Fetch requests whose offsets acknowledge the log). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_kraft_fixture.h"
#include <uv.h>

#include "broker/common/ferry_err.h"
#include "broker/config/config.h"
#include "kraftmode/kraft_node.h"
#include "kraftmode/raft/raft.h"
#include "proto_codec.h"

#define WAIT_MS 20000 /* generous: the machine may be loaded */

struct fx {
    char dir[512];
    struct ferry_config cfg;
    uv_loop_t loop;
    struct kraft_node *node;
    struct proto_arena a;
    int done;
    int64_t end_at_first_done; /* the log end when the first answer was given */
    struct raft_msg vote;      /* the first Vote request the node sent since have_vote was cleared */
    bool have_vote;
    uint32_t corr;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    kraft_fixture_config(f->dir, sizeof f->dir, "kraft-pipeline", &f->cfg);
    uv_loop_init(&f->loop);
    proto_arena_init(&f->a);
    f->end_at_first_done = -1;
    *state = f;
    return 0;
}

static void stop(struct fx *f)
{
    if (f->node)
        kraft_node_stop(f->node);
    f->node = NULL;
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    stop(f);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    config_free(&f->cfg);
    proto_arena_free(&f->a);
    kraft_fixture_remove_dir(f->dir);
    free(f);
    return 0;
}

static void start(struct fx *f)
{
    char err[1024];
    if (kraft_node_start(&f->loop, &f->cfg, true, &f->node, err, sizeof err))
        fail_msg("start: %s", err);
}

static void on_done(void *arg)
{
    struct fx *f = arg;
    if (f->done++ == 0)
        f->end_at_first_done = kraft_node_end_offset(f->node);
}

static struct CreateTopicsRequest *ct(struct fx *f, const char *name)
{
    struct CreateTopicsRequest *r = proto_arena_alloc(&f->a, sizeof *r);
    proto_struct_init(proto_msg_CreateTopicsRequest.body, r);
    r->Topics = proto_array_new(&f->a, &desc_CreateTopicsRequest_CreatableTopic, 1);
    r->Topics_n = 1;
    r->Topics[0].Name = proto_str_from(name);
    r->Topics[0].NumPartitions = 1;
    r->Topics[0].ReplicationFactor = 1;
    r->Topics[0].Assignments_n = 0;
    r->Topics[0].Configs_n = 0;
    r->timeoutMs = 1000;
    return r;
}

static void create(struct fx *f, const char *name, struct CreateTopicsResponse *resp)
{
    proto_struct_init(proto_msg_CreateTopicsResponse.body, resp);
    kraft_create_topics(f->node, ct(f, name), 5, &f->a, resp, on_done, f);
}

static void on_wake(uv_timer_t *t) { (void)t; }

/* One turn of the loop, waiting at most about a millisecond (the node's own timers are unreferenced: a
 * referenced one keeps the loop turning). */
static void turn(struct fx *f)
{
    uv_timer_t wake;
    uv_timer_init(&f->loop, &wake);
    uv_timer_start(&wake, on_wake, 1, 0);
    uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&wake, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT); /* the close */
}

/* Runs the loop until cond(f) holds; fails after WAIT_MS. */
static void run_until(struct fx *f, bool (*cond)(struct fx *f), const char *what)
{
    uint64_t give_up = uv_hrtime() / 1000000 + WAIT_MS;
    while (!cond(f)) {
        if (uv_hrtime() / 1000000 > give_up)
            fail_msg("timed out waiting for %s", what);
        turn(f);
    }
}

/* Runs the loop for about ms milliseconds. */
static void run_for(struct fx *f, unsigned ms)
{
    uint64_t until = uv_hrtime() / 1000000 + ms;
    while (uv_hrtime() / 1000000 < until)
        turn(f);
}

/* A single voter: three creates queued before the loop runs are decided in one turn, before any commit:
 * the second, of the same name, sees the first's uncommitted records (TOPIC_ALREADY_EXISTS), and when the
 * first answer is given the third's records are already in the log. */
static void test_single_voter_decides_ahead(void **state)
{
    struct fx *f = *state;
    start(f);
    struct CreateTopicsResponse r1, r2, r3;
    create(f, "same", &r1);
    create(f, "same", &r2);
    create(f, "other", &r3);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->done, 3);
    assert_int_equal(r1.Topics[0].ErrorCode, KERR_NONE);
    assert_int_equal(r2.Topics[0].ErrorCode, KERR_TOPIC_ALREADY_EXISTS);
    assert_int_equal(r3.Topics[0].ErrorCode, KERR_NONE);
    assert_int_equal(f->end_at_first_done, kraft_node_end_offset(f->node));
    const struct md_image *img = kraft_node_image(f->node);
    assert_non_null(md_image_topic(img, "same"));
    assert_non_null(md_image_topic(img, "other"));
    assert_int_equal(kraft_node_committed_offset(f->node) + 1, kraft_node_end_offset(f->node));
}

/* ---- three voters: the test plays voters 2 and 3 ---- */

static void capture(void *arg, const struct raft_msg *m)
{
    struct fx *f = arg;
    if (m->type == RAFT_MSG_VOTE && !f->have_vote) { /* the first not yet answered */
        f->vote = *m;
        f->have_vote = true;
    }
}

static void three_voters(struct fx *f)
{
    config_free(&f->cfg);
    char set[600];
    snprintf(set, sizeof set, "log.dirs=%s/data", f->dir);
    const char *overrides[] = {set, "controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:19093,3@127.0.0.1:29093",
                               "controller.quorum.election.timeout.ms=50",
                               "controller.quorum.fetch.timeout.ms=20000"}; /* no check-quorum resignation */
    char err[512];
    if (config_load(&f->cfg, NULL, overrides, 4, err, sizeof err) != 0)
        fail_msg("config: %s", err);
}

static bool leading(struct fx *f) { return kraft_node_leader_id(f->node) == 1; }
static bool active(struct fx *f) { return kraft_node_is_active_controller(f->node); }

/* Voter 2's Fetch at the leader's log end: once the leader's own fsync is done, everything commits. */
static void fetch_from_2(struct fx *f)
{
    struct raft_msg m = {.type = RAFT_MSG_FETCH, .from = 2, .to = 1, .corr = ++f->corr,
                         .epoch = kraft_node_epoch(f->node), .leader_id = RAFT_NO_ID};
    m.u.fetch.fetch_offset = kraft_node_end_offset(f->node);
    m.u.fetch.last_fetched_epoch = kraft_node_epoch(f->node);
    m.u.fetch.max_wait_ms = 0;
    assert_int_equal(kraft_node_raft_step(f->node, &m), 0);
}

static bool all_committed(struct fx *f)
{
    fetch_from_2(f);
    return kraft_node_committed_offset(f->node) + 1 == kraft_node_end_offset(f->node);
}

/* Elected by voter 2's vote, the node activates once voter 2 has fetched its log. */
static void elect(struct fx *f)
{
    three_voters(f);
    start(f);
    struct kraft_transport t = {capture, f};
    kraft_node_set_transport(f->node, &t);
    /* voter 2 grants every Vote the node sends, pre-votes (KIP-996) and votes alike, until it leads: a
     * round that timed out meanwhile (50 ms election timeout on a loaded machine) just asks again */
    uint64_t give_up = uv_hrtime() / 1000000 + WAIT_MS;
    while (!leading(f)) {
        if (uv_hrtime() / 1000000 > give_up)
            fail_msg("timed out waiting for the election");
        if (f->have_vote) {
            struct raft_msg grant = {.type = RAFT_MSG_VOTE_RESP, .from = 2, .to = 1, .corr = f->vote.corr,
                                     .epoch = f->vote.epoch, .leader_id = RAFT_NO_ID};
            grant.u.vote_resp.granted = true;
            grant.u.vote_resp.pre_vote = f->vote.u.vote.pre_vote;
            if (grant.u.vote_resp.pre_vote)
                grant.epoch--; /* a pre-vote asks for the epoch after the voter's */
            f->have_vote = false;
            assert_int_equal(kraft_node_raft_step(f->node, &grant), 0);
        }
        turn(f);
    }
    run_until(f, all_committed, "the LeaderChange batch to commit");
    run_until(f, active, "the activation");
    run_until(f, all_committed, "the activation records to commit");
}

static bool two_done(struct fx *f) { return f->done == 2; }

static bool two_done_after_fetch(struct fx *f)
{
    fetch_from_2(f);
    return f->done == 2;
}

/* Nothing commits without voter 2's Fetch: both creates of one name are decided meanwhile (the second
 * against the first's uncommitted records) and neither is answered before the commit. */
static void test_decisions_see_uncommitted_records(void **state)
{
    struct fx *f = *state;
    elect(f);
    int64_t end0 = kraft_node_end_offset(f->node);
    struct CreateTopicsResponse r1, r2;
    create(f, "dup", &r1);
    create(f, "dup", &r2);
    run_for(f, 300);
    assert_true(kraft_node_end_offset(f->node) > end0); /* the first create's records are proposed */
    assert_int_equal(f->done, 0);                       /* and nothing is answered before they commit */
    assert_null(md_image_topic(kraft_node_image(f->node), "dup"));
    run_until(f, two_done_after_fetch, "the answers after the commit");
    assert_int_equal(r1.Topics[0].ErrorCode, KERR_NONE);
    assert_int_equal(r2.Topics[0].ErrorCode, KERR_TOPIC_ALREADY_EXISTS);
    assert_non_null(md_image_topic(kraft_node_image(f->node), "dup"));
}

/* Voter 3 announces a newer epoch while two creates wait for their commit: both are answered
 * NOT_CONTROLLER, and later writes are refused the same way. */
static void test_leadership_loss_fails_pending(void **state)
{
    struct fx *f = *state;
    elect(f);
    struct CreateTopicsResponse r1, r2;
    create(f, "lost1", &r1);
    create(f, "lost2", &r2);
    int64_t end0 = kraft_node_end_offset(f->node);
    run_for(f, 200);
    assert_int_equal(f->done, 0);
    assert_true(kraft_node_end_offset(f->node) >= end0);
    struct raft_msg begin = {.type = RAFT_MSG_BEGIN_EPOCH, .from = 3, .to = 1, .corr = ++f->corr,
                             .epoch = kraft_node_epoch(f->node) + 1, .leader_id = 3};
    assert_int_equal(kraft_node_raft_step(f->node, &begin), 0);
    run_until(f, two_done, "the pending creates to fail");
    assert_int_equal(r1.Topics[0].ErrorCode, KERR_NOT_CONTROLLER);
    assert_int_equal(r2.Topics[0].ErrorCode, KERR_NOT_CONTROLLER);
    assert_false(kraft_node_is_active_controller(f->node));
    assert_int_equal(kraft_node_leader_id(f->node), 3);
    struct CreateTopicsResponse r3;
    create(f, "later", &r3);
    run_for(f, 100);
    assert_int_equal(f->done, 3);
    assert_int_equal(r3.Topics[0].ErrorCode, KERR_NOT_CONTROLLER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_single_voter_decides_ahead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decisions_see_uncommitted_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leadership_loss_fails_pending, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
