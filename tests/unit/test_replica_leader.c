/* test_replica_leader: the leader's replication core (broker/replica/leader_state.h): follower fetch
 * state, the high watermark, ISR shrink and expand decisions, pending proposals that take effect only
 * through the image, and allocation failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/replica/leader_state.h"

#define LAG 30000

static const int32_t R3[] = {1, 2, 3};

static void sync3(struct rp_leader *l, int32_t epoch, int32_t pepoch, const int32_t *isr, int32_t nisr, int64_t end,
                  int64_t hw, int64_t now)
{
    assert_int_equal(rp_leader_sync(l, 1, epoch, pepoch, R3, 3, isr, nisr, end, hw, now), 0);
}

static void test_hw_is_min_of_isr(void **state)
{
    (void)state;
    struct rp_leader l;
    rp_leader_init(&l);
    sync3(&l, 5, 10, R3, 3, 100, 80, 1000);
    assert_int_equal(l.high_watermark, 80);
    assert_int_equal(l.epoch_start, 100);
    assert_int_equal(l.nfollowers, 2);
    /* followers unknown: no move */
    assert_false(rp_leader_update_hw(&l, 120, 1000, LAG));
    assert_int_equal(l.high_watermark, 80);
    assert_true(rp_leader_follower_fetch(&l, 2, 110, 120, 1001));
    assert_false(rp_leader_update_hw(&l, 120, 1001, LAG)); /* 3 still unknown (-1) */
    assert_true(rp_leader_follower_fetch(&l, 3, 90, 120, 1002));
    assert_true(rp_leader_update_hw(&l, 120, 1002, LAG));
    assert_int_equal(l.high_watermark, 90);
    assert_true(rp_leader_follower_fetch(&l, 3, 120, 120, 1003));
    assert_true(rp_leader_update_hw(&l, 120, 1003, LAG));
    assert_int_equal(l.high_watermark, 110);
    assert_true(rp_leader_reached(&l, 110));
    assert_false(rp_leader_reached(&l, 111));
    /* never backwards: a follower that truncated and refetches lower does not lower the HW */
    assert_true(rp_leader_follower_fetch(&l, 2, 50, 120, 1004));
    assert_false(rp_leader_update_hw(&l, 120, 1004, LAG));
    assert_int_equal(l.high_watermark, 110);
    /* not a replica */
    assert_false(rp_leader_follower_fetch(&l, 9, 120, 120, 1005));
    rp_leader_free(&l);
}

static void test_single_replica_hw_is_log_end(void **state)
{
    (void)state;
    struct rp_leader l;
    rp_leader_init(&l);
    const int32_t one[] = {1};
    assert_int_equal(rp_leader_sync(&l, 1, 0, 0, one, 1, one, 1, 0, 0, 10), 0);
    assert_true(rp_leader_update_hw(&l, 7, 11, LAG));
    assert_int_equal(l.high_watermark, 7);
    int32_t out[4], n;
    assert_false(rp_leader_isr_change(&l, 7, 100000, LAG, NULL, NULL, out, &n));
    rp_leader_free(&l);
}

static void test_shrink_after_lag(void **state)
{
    (void)state;
    struct rp_leader l;
    rp_leader_init(&l);
    sync3(&l, 1, 3, R3, 3, 10, 10, 1000);
    int32_t out[4], n;
    /* within the lag everything stays */
    assert_true(rp_leader_follower_fetch(&l, 2, 10, 10, 2000));
    assert_false(rp_leader_isr_change(&l, 10, 1000 + LAG, LAG, NULL, NULL, out, &n));
    /* 3 never fetched: out of sync once the lag has passed since the leader took over */
    assert_true(rp_leader_follower_fetch(&l, 2, 10, 10, 1000 + LAG));
    assert_true(rp_leader_isr_change(&l, 10, 1001 + LAG, LAG, NULL, NULL, out, &n));
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 2);
    assert_true(l.pending);
    /* no second proposal while pending; the committed ISR is unchanged until the image says so */
    assert_false(rp_leader_isr_change(&l, 10, 2001 + LAG, LAG, NULL, NULL, out, &n));
    assert_int_equal(l.nisr, 3);
    /* while pending, the HW still waits for the committed ISR (3 is in it) */
    assert_false(rp_leader_update_hw(&l, 20, 2002 + LAG, LAG + 5000));
    const int32_t isr12[] = {1, 2};
    sync3(&l, 1, 4, isr12, 2, 20, 0, 2003 + LAG);
    assert_false(l.pending);
    assert_int_equal(l.nisr, 2);
    assert_true(rp_leader_follower_fetch(&l, 2, 20, 20, 2004 + LAG));
    assert_true(rp_leader_update_hw(&l, 20, 2004 + LAG, LAG));
    assert_int_equal(l.high_watermark, 20);
    rp_leader_free(&l);
}

static void test_slow_follower_stays_while_catching_up(void **state)
{
    (void)state;
    struct rp_leader l;
    rp_leader_init(&l);
    sync3(&l, 1, 0, R3, 3, 0, 0, 0);
    int32_t out[4], n;
    /* follower 2 fetches up to the leader end it saw last time: caught up as of that fetch */
    assert_true(rp_leader_follower_fetch(&l, 2, 0, 100, 10000));
    assert_true(rp_leader_follower_fetch(&l, 2, 100, 200, 20000));
    assert_true(rp_leader_follower_fetch(&l, 3, 200, 200, 20000));
    assert_int_equal(l.followers[0].last_caught_up_ms, 10000);
    assert_false(rp_leader_isr_change(&l, 200, 10000 + LAG, LAG, NULL, NULL, out, &n));
    assert_true(rp_leader_isr_change(&l, 200, 10001 + LAG, LAG, NULL, NULL, out, &n));
    assert_int_equal(n, 2);
    assert_int_equal(out[1], 3);
    rp_leader_free(&l);
}

static bool not_three(void *arg, int32_t id)
{
    (void)arg;
    return id != 3;
}

static void test_expand_rules(void **state)
{
    (void)state;
    struct rp_leader l;
    rp_leader_init(&l);
    const int32_t isr1[] = {1};
    sync3(&l, 2, 7, isr1, 1, 50, 40, 0);
    int32_t out[4], n;
    /* with the leader alone in the ISR the HW is its log end */
    assert_true(rp_leader_update_hw(&l, 60, 1, LAG));
    assert_int_equal(l.high_watermark, 60);
    /* 2 below the HW: not yet */
    assert_true(rp_leader_follower_fetch(&l, 2, 45, 60, 2));
    assert_false(rp_leader_isr_change(&l, 60, 3, LAG, NULL, NULL, out, &n));
    /* 3 at the HW but not eligible (fenced) */
    assert_true(rp_leader_follower_fetch(&l, 3, 60, 60, 4));
    assert_false(rp_leader_isr_change(&l, 60, 5, LAG, not_three, NULL, out, &n));
    assert_true(rp_leader_isr_change(&l, 60, 5, LAG, NULL, NULL, out, &n));
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 3);
    /* the refused proposal can be made again */
    rp_leader_alter_failed(&l);
    assert_true(rp_leader_isr_change(&l, 60, 6, LAG, NULL, NULL, out, &n));
    /* pending expansion: the HW waits for 3 too (maximal ISR) */
    assert_false(rp_leader_update_hw(&l, 70, 7, LAG));
    assert_true(rp_leader_follower_fetch(&l, 3, 70, 70, 8));
    assert_true(rp_leader_update_hw(&l, 70, 8, LAG));
    assert_int_equal(l.high_watermark, 70);
    rp_leader_free(&l);
}

static void test_epoch_start_gates_expansion(void **state)
{
    (void)state;
    struct rp_leader l;
    rp_leader_init(&l);
    const int32_t isr1[] = {1};
    /* the leader took over with its log ending at 100 but HW 30 (old epoch data not yet committed) */
    sync3(&l, 4, 1, isr1, 1, 100, 30, 0);
    int32_t out[4], n;
    assert_true(rp_leader_follower_fetch(&l, 2, 40, 100, 1));
    /* 2 is above the HW (30) but below the epoch start (100): it may not join */
    assert_false(rp_leader_isr_change(&l, 100, 2, LAG, NULL, NULL, out, &n));
    assert_true(rp_leader_follower_fetch(&l, 2, 100, 100, 3));
    assert_true(rp_leader_update_hw(&l, 100, 3, LAG));
    assert_true(rp_leader_isr_change(&l, 100, 4, LAG, NULL, NULL, out, &n));
    assert_int_equal(n, 2);
    rp_leader_free(&l);
}

static void test_new_epoch_resets(void **state)
{
    (void)state;
    struct rp_leader l;
    rp_leader_init(&l);
    sync3(&l, 1, 0, R3, 3, 10, 10, 0);
    assert_true(rp_leader_follower_fetch(&l, 2, 10, 10, 5));
    int32_t out[4], n;
    assert_true(rp_leader_isr_change(&l, 10, LAG + 1, LAG, NULL, NULL, out, &n));
    /* same epoch, same partition epoch: state kept, still pending */
    sync3(&l, 1, 0, R3, 3, 10, 10, LAG + 2);
    assert_true(l.pending);
    assert_int_equal(l.followers[0].log_end, 10);
    /* new leader epoch: followers reset, pending dropped */
    sync3(&l, 2, 1, R3, 3, 10, 10, LAG + 3);
    assert_false(l.pending);
    assert_int_equal(l.followers[0].log_end, -1);
    assert_int_equal(l.followers[0].last_caught_up_ms, LAG + 3);
    rp_leader_free(&l);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    for (long k = 0; k < 4; k++) {
        struct rp_leader l;
        rp_leader_init(&l);
        ferry_alloc_fail_after(k);
        int rc = rp_leader_sync(&l, 1, 1, 0, R3, 3, R3, 3, 0, 0, 0);
        int32_t out[4], n;
        if (rc == 0) {
            assert_true(rp_leader_follower_fetch(&l, 2, 0, 0, 1));
            rp_leader_isr_change(&l, 0, LAG * 2, LAG, NULL, NULL, out, &n);
        } else {
            assert_int_equal(rc, FERRY_ENOMEM);
            assert_int_equal(l.nfollowers, 0);
        }
        ferry_alloc_fail_after(-1);
        rp_leader_free(&l);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hw_is_min_of_isr),
        cmocka_unit_test(test_single_replica_hw_is_log_end),
        cmocka_unit_test(test_shrink_after_lag),
        cmocka_unit_test(test_slow_follower_stays_while_catching_up),
        cmocka_unit_test(test_expand_rules),
        cmocka_unit_test(test_epoch_start_gates_expansion),
        cmocka_unit_test(test_new_epoch_resets),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
