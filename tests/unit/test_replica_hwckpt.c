/* test_replica_hwckpt: the replica manager keeps each partition's high watermark across a restart in
 * replication-offset-checkpoint (broker/replica/partitions.h): written at clean close and every
 * replica.high.watermark.checkpoint.interval.ms, read at start-up; a leader that restarts with followers
 * in its ISR serves what was committed before at once (without waiting for a follower fetch) and nothing
 * that was not; a damaged file is logged and ignored (the high watermark starts at the log end). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "broker/config/config.h"
#include "broker/config/topic_config.h"
#include "broker/log/logdir.h"
#include "broker/replica/partitions.h"
#include "test_log_util.h"
#include "test_replica_node.h"

static const int32_t REPLICAS[] = {1, 2};

/* The partition "orders"-0 led by broker 1 at `epoch` with broker 2 in the ISR. */
static struct rp_partition *open_led(struct node *n, int32_t epoch)
{
    proto_uuid tid = {{0}};
    tid.b[15] = 7;
    struct rp_partition *p = node_open(n, "orders", tid);
    assert_int_equal(rp_partition_make_leader(n->m, p, 1, epoch, epoch, REPLICAS, 2, REPLICAS, 2), 0);
    return p;
}

static void append_records(struct node *n, struct rp_partition *p, int count)
{
    for (int i = 0; i < count; i++) {
        struct proto_writer w = one_batch(1, T_NOW + i, 10);
        struct plog_append_info info;
        assert_int_equal(rp_append(n->m, p, w.buf, w.len, T_NOW + i, &info), 0);
        proto_writer_free(&w);
    }
}

static char *read_text(const char *path)
{
    char *text;
    size_t len;
    if (read_all(path, &text, &len) != 0)
        return NULL;
    return text;
}

static void assert_file_text(const char *path, const char *expect)
{
    char *text = read_text(path);
    assert_non_null(text);
    assert_string_equal(text, expect);
    ferry_free(text);
}

/* Leader at log end 14 whose follower has fetched up to 6: high watermark 6. */
static void leave_hw_below_log_end(struct node *n)
{
    struct rp_partition *p = open_led(n, 1);
    append_records(n, p, 10);
    assert_int_equal(p->high_watermark, 0); /* the follower in the ISR has not fetched yet */
    assert_true(rp_partition_follower_fetched(n->m, p, 2, 6));
    assert_int_equal(p->high_watermark, 6);
    append_records(n, p, 4);
    assert_int_equal(plog_log_end_offset(p->log), 14);
    assert_int_equal(p->high_watermark, 6);
}

static void test_restart_keeps_high_watermark(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    char *hwpath = log_path_join(dir, LOGDIR_HIGH_WATERMARK_FILE);
    struct node n;
    node_start(&n, dir, "5000");
    leave_hw_below_log_end(&n);
    node_stop(&n);
    assert_file_text(hwpath, "0\n1\norders 0 6\n"); /* Kafka's format: version 0, count, entries */

    node_start(&n, dir, "5000");
    struct rp_partition *p = open_led(&n, 2);
    /* Committed before the restart: readable at once. Not committed (6..13): not exposed until the follower
     * confirms it. */
    assert_int_equal(plog_log_end_offset(p->log), 14);
    assert_int_equal(p->high_watermark, 6);
    assert_true(rp_partition_follower_fetched(n.m, p, 2, 14));
    assert_int_equal(p->high_watermark, 14);
    node_stop(&n);
    assert_file_text(hwpath, "0\n1\norders 0 14\n");
    ferry_free(hwpath);
    tmpdir_remove(dir);
}

static void stop_loop(uv_timer_t *t) { uv_stop(t->loop); }

static void test_periodic_checkpoint(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    char *hwpath = log_path_join(dir, LOGDIR_HIGH_WATERMARK_FILE);
    struct node n;
    node_start(&n, dir, "0");
    leave_hw_below_log_end(&n);
    /* The housekeeping timer (every second) writes the file while the broker runs. */
    uv_timer_t tick;
    uv_timer_init(&n.loop, &tick);
    char *text = NULL;
    for (int i = 0; i < 300 && !text; i++) {
        uv_timer_start(&tick, stop_loop, 100, 0);
        uv_run(&n.loop, UV_RUN_DEFAULT);
        text = read_text(hwpath);
        if (text && strcmp(text, "0\n1\norders 0 6\n") != 0) {
            ferry_free(text); /* an earlier tick's file, before the partition existed */
            text = NULL;
        }
    }
    assert_non_null(text);
    ferry_free(text);
    text = NULL;
    uv_close((uv_handle_t *)&tick, NULL);
    /* Then the follower confirms more, and the broker crashes before the next checkpoint: the next start
     * uses what the periodic checkpoint wrote (the clean close below writes the newer value; the file the
     * periodic checkpoint left is put back, which is what a kill -9 would have left). */
    struct rp_partition *p = rp_partition_get(n.m, proto_str_from("orders"), 0);
    assert_true(rp_partition_follower_fetched(n.m, p, 2, 10));
    assert_int_equal(p->high_watermark, 10);
    node_stop(&n);
    assert_file_text(hwpath, "0\n1\norders 0 10\n");
    write_all(hwpath, "0\n1\norders 0 6\n", strlen("0\n1\norders 0 6\n"));
    node_start(&n, dir, "5000");
    p = open_led(&n, 2);
    assert_int_equal(p->high_watermark, 6);
    node_stop(&n);
    ferry_free(hwpath);
    tmpdir_remove(dir);
}

static void test_damaged_file_ignored(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    char *hwpath = log_path_join(dir, LOGDIR_HIGH_WATERMARK_FILE);
    const char *bad[] = {"0\n1\norders zero 6\n", "7\n1\norders 0 6\n", "0\n3\norders 0 6\n", "\x01\x02"};
    struct node n;
    node_start(&n, dir, "5000");
    leave_hw_below_log_end(&n);
    node_stop(&n);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_all(hwpath, bad[i], strlen(bad[i]));
        node_start(&n, dir, "5000");
        struct rp_partition *p = open_led(&n, 2 + (int32_t)i);
        /* today's rule without a checkpoint: the log end */
        assert_int_equal(p->high_watermark, 14);
        node_stop(&n);
    }
    /* The clean close replaced the damaged file with a good one. */
    assert_file_text(hwpath, "0\n1\norders 0 14\n");
    ferry_free(hwpath);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_keeps_high_watermark),
        cmocka_unit_test(test_periodic_checkpoint),
        cmocka_unit_test(test_damaged_file_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
