/* test_replica_following: the replica manager's bookkeeping that keeps an idle broker's periodic work
 * independent of how many partitions it hosts (broker/replica/partitions.h):
 *  - the lists of the partitions that fetch from each leader (rp_following_*), which the replica fetchers
 *    walk instead of every hosted partition: a partition made a follower joins its leader's list, moves with
 *    a new leader, leaves when made the leader, when its fetching is stopped (joins again when turned on) and
 *    when removed; the leaders listed are those with a partition to fetch;
 *  - the partitions with periodic work (rp_busy_count): a hosted partition is visited until it has none; an
 *    append makes it busy, the housekeeping pass flushes it when flush.ms says so, then lets it go; one
 *    whose data only an append can make due (no flush.ms) is let go unflushed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "test_log_util.h"
#include "test_replica_node.h"

struct fixture {
    char *dir;
    struct node n;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = tmpdir_make();
    node_start(&f->n, f->dir, "5000");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    node_stop(&f->n);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static proto_uuid id_of(uint8_t b)
{
    proto_uuid id = {{0}};
    id.b[0] = b;
    id.b[15] = 1;
    return id;
}

/* Whether p is in leader's list (walked as a fetcher does), and the list's length agrees with its count. */
static bool listed(struct rp_manager *m, int32_t leader, const struct rp_partition *p)
{
    bool found = false;
    size_t n = 0;
    for (struct rp_partition *q = rp_following_first(m, leader); q; q = rp_following_next(q)) {
        found = found || q == p;
        assert_true(rp_partition_fetches_from(q, leader));
        n++;
    }
    assert_int_equal(n, rp_following_count(m, leader));
    return found;
}

static void test_follower_joins_moves_and_leaves(void **state)
{
    struct fixture *f = *state;
    struct rp_manager *m = f->n.m;
    struct rp_partition *a = node_open(&f->n, "a", id_of(1));
    struct rp_partition *b = node_open(&f->n, "b", id_of(2));
    int32_t leaders[4];
    assert_int_equal(rp_following_leaders(m, leaders, 4), 0); /* hosted, no role yet */
    assert_null(rp_following_first(m, 2));

    rp_partition_make_follower(m, a, 2, 1);
    rp_partition_make_follower(m, b, 2, 1);
    assert_true(listed(m, 2, a) && listed(m, 2, b));
    assert_int_equal(rp_following_count(m, 2), 2);
    assert_int_equal(rp_following_leaders(m, leaders, 4), 1);
    assert_int_equal(leaders[0], 2);

    rp_partition_make_follower(m, a, 2, 1); /* the same leader again: listed once */
    assert_int_equal(rp_following_count(m, 2), 2);

    rp_partition_make_follower(m, a, 3, 2); /* a new leader: moves */
    assert_false(listed(m, 2, a));
    assert_true(listed(m, 3, a));
    assert_int_equal(rp_following_leaders(m, leaders, 4), 2);

    int32_t replicas[] = {1, 2};
    assert_int_equal(rp_partition_make_leader(m, b, 1, 2, 1, replicas, 2, replicas, 2), 0); /* led here */
    assert_false(listed(m, 2, b));
    assert_int_equal(rp_following_count(m, 2), 0);
    assert_int_equal(rp_following_leaders(m, leaders, 4), 1);
    assert_int_equal(leaders[0], 3);
    assert_int_equal(rp_following_count(m, 1), 0); /* a leader fetches from nobody */

    rp_partition_make_follower(m, b, -1, 3); /* no leader: nothing to fetch from */
    assert_int_equal(rp_following_leaders(m, leaders, 4), 1);
    rp_partition_make_follower(m, b, 3, 4);
    assert_true(listed(m, 3, a) && listed(m, 3, b));

    rp_partition_remove(m, "a", 0); /* removed: out of the list before it is freed */
    assert_int_equal(rp_following_count(m, 3), 1);
    assert_true(listed(m, 3, b));
}

static void test_stopped_fetching_leaves_and_rejoins(void **state)
{
    struct fixture *f = *state;
    struct rp_manager *m = f->n.m;
    struct rp_partition *p = node_open(&f->n, "s", id_of(1));
    rp_partition_make_follower(m, p, 2, 1);
    assert_true(listed(m, 2, p));
    assert_true(rp_set_fetching(m, proto_str_from("s"), 0, false)); /* legacy StopReplica, no deletion */
    assert_false(listed(m, 2, p));
    int32_t leaders[1];
    assert_int_equal(rp_following_leaders(m, leaders, 1), 0);
    rp_partition_make_follower(m, p, 2, 2); /* a new epoch while stopped: still out */
    assert_false(listed(m, 2, p));
    assert_true(rp_set_fetching(m, proto_str_from("s"), 0, true)); /* LeaderAndIsr */
    assert_true(listed(m, 2, p));
    assert_true(p->truncate_check);
}

/* More leaders than the caller has room for: the count says how many there are. */
static void test_leaders_beyond_cap(void **state)
{
    struct fixture *f = *state;
    struct rp_manager *m = f->n.m;
    const char *names[] = {"x", "y", "z"};
    for (int i = 0; i < 3; i++)
        rp_partition_make_follower(m, node_open(&f->n, names[i], id_of((uint8_t)(i + 1))), 10 + i, 1);
    int32_t leaders[2] = {-1, -1};
    assert_int_equal(rp_following_leaders(m, leaders, 2), 3);
    assert_true(leaders[0] >= 10 && leaders[0] <= 12 && leaders[1] >= 10 && leaders[1] <= 12);
    assert_int_not_equal(leaders[0], leaders[1]);
}

/* Runs the loop (the housekeeping timer ticks every second) until done(p) or a generous number of ticks. */
static bool run_until(struct node *n, bool (*done)(struct rp_manager *m, struct rp_partition *p), struct rp_partition *p)
{
    for (int i = 0; i < 60 && !done(n->m, p); i++)
        uv_run(&n->loop, UV_RUN_ONCE);
    return done(n->m, p);
}

static bool none_busy(struct rp_manager *m, struct rp_partition *p) { return rp_busy_count(m) == 0; }
static bool flushed(struct rp_manager *m, struct rp_partition *p) { return plog_unflushed_messages(p->log) == 0; }

static void test_dirty_log_flushed_when_due(void **state)
{
    struct fixture *f = *state;
    struct rp_manager *m = f->n.m;
    f->n.tc.flush_ms = 0; /* every append is due at the next pass */
    struct rp_partition *dirty = node_open(&f->n, "dirty", id_of(1));
    f->n.tc.flush_ms = INT64_MAX;
    struct rp_partition *idle = node_open(&f->n, "idle", id_of(2));
    assert_true(rp_busy_count(m) >= 1); /* just hosted: visited once to find out */
    assert_true(run_until(&f->n, none_busy, idle)); /* empty logs: nothing periodic */

    for (int round = 0; round < 2; round++) { /* it leaves the pass and joins it again with the next append */
        struct proto_writer w = one_batch(3, T_NOW, 10);
        struct plog_append_info info;
        assert_int_equal(rp_append(m, dirty, w.buf, w.len, rp_now_ms(), &info), 0);
        proto_writer_free(&w);
        assert_int_equal(rp_busy_count(m), 1);
        assert_int_equal(plog_unflushed_messages(dirty->log), 3);
        assert_true(run_until(&f->n, flushed, dirty)); /* flushed by the pass, nobody asked */
        assert_true(run_until(&f->n, none_busy, dirty));
    }
    assert_int_equal(plog_unflushed_messages(idle->log), 0);

    struct proto_writer w = one_batch(1, T_NOW, 10);
    struct plog_append_info info;
    assert_int_equal(rp_append(m, dirty, w.buf, w.len, rp_now_ms(), &info), 0);
    assert_int_equal(rp_busy_count(m), 1);
    rp_partition_remove(m, "dirty", 0); /* removed while busy: out of the pass */
    assert_int_equal(rp_busy_count(m), 0);
    assert_int_equal(rp_append(m, idle, w.buf, w.len, rp_now_ms(), &info), 0);
    proto_writer_free(&w);
    assert_int_equal(rp_busy_count(m), 1);
    /* without flush.ms nor flush.messages nothing but another append makes it due: it leaves unflushed */
    assert_true(run_until(&f->n, none_busy, idle));
    assert_int_equal(plog_unflushed_messages(idle->log), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_follower_joins_moves_and_leaves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stopped_fetching_leaves_and_rejoins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leaders_beyond_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirty_log_flushed_when_due, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
