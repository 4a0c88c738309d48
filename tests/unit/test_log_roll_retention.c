/* Partition log: segment roll (size, time, full index), lookups across segments, offset for timestamp,
 * retention by time and size, the log start offset, truncation, the leader-epoch checkpoint, flushes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "broker/common/ferry_err.h"
#include "test_log_util.h"

struct fixture {
    char *root;
    struct plog *log;
    struct plog_config cfg;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->root = tmpdir_make();
    small_config(&f->cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->log)
        plog_close(f->log);
    tmpdir_remove(f->root);
    free(f);
    return 0;
}

static void open_log(struct fixture *f)
{
    struct plog_open_opts o = opts_at(T_NOW);
    assert_int_equal(plog_open(f->root, "t", 0, &f->cfg, &o, &f->log), 0);
}

static int64_t batch_bytes(int n, int vlen)
{
    struct proto_writer w = one_batch(n, 0, vlen);
    int64_t len = (int64_t)w.len;
    proto_writer_free(&w);
    return len;
}

/* Every offset in [from, to) can be read and comes back in the batch that holds it. */
static void check_all_offsets(struct plog *log, int64_t from, int64_t to)
{
    for (int64_t off = from; off < to; off++) {
        struct plog_read_result r;
        assert_int_equal(plog_read(log, off, 1, true, -1, &r), 0);
        assert_true(r.first_offset <= off);
        assert_true(r.next_offset > off);
        assert_int_equal(count_valid_batches(r.data, r.len, NULL, NULL), 1);
        ferry_free(r.data);
    }
}

static void test_roll_by_size(void **state)
{
    struct fixture *f = *state;
    int64_t b = batch_bytes(2, 100);
    f->cfg.segment_bytes = 3 * b; /* three batches per segment */
    f->cfg.index_interval_bytes = 1;
    open_log(f);
    for (int i = 0; i < 3; i++)
        append_n(f->log, 2, T_NOW, 100, 0);
    assert_false(plog_flush_due(f->log, T_NOW)); /* default policy: never by count or time */
    for (int i = 3; i < 10; i++)
        append_n(f->log, 2, T_NOW, 100, 0);
    assert_true(plog_flush_due(f->log, T_NOW)); /* ...but a rolled segment is flushed */
    assert_int_equal(plog_segment_count(f->log), 4);
    for (int64_t base = 0; base < 20; base += 6) {
        char *p = seg_file(f->log, base, ".log");
        assert_int_equal(file_size(p), base < 18 ? 3 * b : b);
        ferry_free(p);
        p = seg_file(f->log, base, ".index");
        assert_true(file_size(p) >= 0);
        ferry_free(p);
    }
    check_all_offsets(f->log, 0, 20);
    /* A read stops at the end of a segment. */
    struct plog_read_result r;
    assert_int_equal(plog_read(f->log, 0, 1 << 20, false, -1, &r), 0);
    assert_int_equal(r.next_offset, 6);
    ferry_free(r.data);
    /* Indexes survive a reopen and keep working across segments. */
    plog_close(f->log);
    struct plog_open_opts o = opts_at(T_NOW);
    o.clean_shutdown = true;
    o.recovery_point = 20;
    assert_int_equal(plog_open(f->root, "t", 0, &f->cfg, &o, &f->log), 0);
    assert_int_equal(plog_segment_count(f->log), 4);
    assert_int_equal(plog_log_end_offset(f->log), 20);
    check_all_offsets(f->log, 0, 20);
}

static void test_roll_by_time(void **state)
{
    struct fixture *f = *state;
    f->cfg.segment_ms = 1000;
    open_log(f);
    append_n(f->log, 1, T_NOW, 10, 0);
    /* The first batch's timestamp drives segment.ms, not the wall clock. */
    struct proto_writer w = one_batch(1, T_NOW + 1000, 10);
    assert_int_equal(plog_append(f->log, w.buf, w.len, 0, T_NOW + 50000, 0, NULL), 0);
    proto_writer_free(&w);
    assert_int_equal(plog_segment_count(f->log), 1);
    w = one_batch(1, T_NOW + 1001, 10);
    assert_int_equal(plog_append(f->log, w.buf, w.len, 0, T_NOW + 1001, 0, NULL), 0);
    proto_writer_free(&w);
    assert_int_equal(plog_segment_count(f->log), 2);
    char *p = seg_file(f->log, 2, ".log");
    assert_true(file_size(p) > 0);
    ferry_free(p);
    /* An empty segment never rolls on time. */
    assert_int_equal(plog_roll(f->log, T_NOW), 0);
    assert_int_equal(plog_segment_count(f->log), 3);
    assert_int_equal(plog_roll(f->log, T_NOW), 0);
    assert_int_equal(plog_segment_count(f->log), 3);
}

static void test_roll_on_full_index(void **state)
{
    struct fixture *f = *state;
    f->cfg.segment_index_bytes = 24; /* 3 offset entries, 2 time entries */
    f->cfg.index_interval_bytes = 0;
    open_log(f);
    for (int i = 0; i < 12; i++)
        append_n(f->log, 1, T_NOW + i, 10, 0);
    assert_true(plog_segment_count(f->log) >= 3);
    check_all_offsets(f->log, 0, 12);
}

static void test_offset_for_timestamp(void **state)
{
    struct fixture *f = *state;
    f->cfg.index_interval_bytes = 0;
    f->cfg.segment_bytes = 3 * batch_bytes(3, 10);
    open_log(f);
    /* Batches of 3 records with timestamps 100..102, 200..202, ... (offsets 0..2, 3..5, ...). */
    for (int i = 1; i <= 8; i++)
        append_n(f->log, 3, i * 100, 10, 0);
    assert_true(plog_segment_count(f->log) >= 3);
    int64_t off, ts;
    assert_int_equal(plog_offset_for_timestamp(f->log, 0, &off, &ts), 0);
    assert_int_equal(off, 0);
    assert_int_equal(ts, 100);
    assert_int_equal(plog_offset_for_timestamp(f->log, 101, &off, &ts), 0);
    assert_int_equal(off, 1);
    assert_int_equal(ts, 101);
    assert_int_equal(plog_offset_for_timestamp(f->log, 150, &off, &ts), 0);
    assert_int_equal(off, 3);
    assert_int_equal(ts, 200);
    for (int i = 1; i <= 8; i++) {
        assert_int_equal(plog_offset_for_timestamp(f->log, i * 100 + 2, &off, &ts), 0);
        assert_int_equal(off, (i - 1) * 3 + 2);
    }
    assert_int_equal(plog_offset_for_timestamp(f->log, 803, &off, &ts), FERRY_ENOTFOUND);
    assert_int_equal(plog_offset_for_timestamp(f->log, PLOG_TS_LATEST, &off, &ts), 0);
    assert_int_equal(off, 24);
    assert_int_equal(ts, -1);
    assert_int_equal(plog_offset_for_timestamp(f->log, PLOG_TS_EARLIEST, &off, &ts), 0);
    assert_int_equal(off, 0);
    assert_int_equal(plog_offset_for_timestamp(f->log, PLOG_TS_MAX_TIMESTAMP, &off, &ts), 0);
    assert_int_equal(ts, 802);
    assert_int_equal(off, 23);
    /* Below the log start offset nothing is returned. */
    assert_int_equal(plog_advance_log_start_offset(f->log, 4, T_NOW), 0);
    assert_int_equal(plog_offset_for_timestamp(f->log, 0, &off, &ts), 0);
    assert_int_equal(off, 4);
    assert_int_equal(ts, 201);
}

static void test_retention_by_time(void **state)
{
    struct fixture *f = *state;
    f->cfg.segment_bytes = 2 * batch_bytes(1, 50);
    f->cfg.retention_ms = 1000;
    open_log(f);
    for (int i = 0; i < 6; i++) /* three segments, timestamps T, T+1 | T+2, T+3 | T+4, T+5 */
        append_n(f->log, 1, T_NOW + i, 50, 0);
    assert_int_equal(plog_segment_count(f->log), 3);
    /* Nothing is old enough. */
    assert_int_equal(plog_apply_retention(f->log, T_NOW + 1000, -1), 0);
    /* The first segment (largest timestamp T+1) is past retention at T+1002. */
    assert_int_equal(plog_apply_retention(f->log, T_NOW + 1002, -1), 1);
    assert_int_equal(plog_segment_count(f->log), 2);
    assert_int_equal(plog_log_start_offset(f->log), 2);
    char *p = seg_file(f->log, 0, ".log");
    assert_int_equal(file_size(p), -1);
    ferry_free(p);
    struct plog_read_result r;
    assert_int_equal(plog_read(f->log, 1, 100, true, -1, &r), FERRY_ERANGE);
    assert_int_equal(r.log_start_offset, 2);
    /* The high watermark protects data not yet replicated. */
    assert_int_equal(plog_apply_retention(f->log, T_NOW + 100000, 3), 0);
    /* Everything expired: Kafka rolls a new empty segment and deletes all the old ones. */
    assert_int_equal(plog_apply_retention(f->log, T_NOW + 100000, -1), 2);
    assert_int_equal(plog_segment_count(f->log), 1);
    assert_int_equal(plog_log_start_offset(f->log), 6);
    assert_int_equal(plog_log_end_offset(f->log), 6);
    assert_int_equal(plog_size_bytes(f->log), 0);
    /* An empty active segment is never deleted. */
    assert_int_equal(plog_apply_retention(f->log, T_NOW + 200000, -1), 0);
    assert_int_equal(append_n(f->log, 1, T_NOW, 10, 0), 6);
}

static void test_retention_by_size_and_delete_delay(void **state)
{
    struct fixture *f = *state;
    int64_t b = batch_bytes(1, 50);
    f->cfg.segment_bytes = 2 * b;
    f->cfg.retention_ms = -1;
    f->cfg.retention_bytes = 3 * b;
    f->cfg.file_delete_delay_ms = 5000;
    open_log(f);
    for (int i = 0; i < 7; i++) /* segments of 2,2,2,1 batches */
        append_n(f->log, 1, T_NOW, 50, 0);
    assert_int_equal(plog_segment_count(f->log), 4);
    /* 7 batches, limit 3: removing the first two segments leaves 3. */
    assert_int_equal(plog_apply_retention(f->log, T_NOW, -1), 2);
    assert_int_equal(plog_log_start_offset(f->log), 4);
    assert_int_equal(plog_size_bytes(f->log), 3 * b);
    /* The files wait as .deleted for file.delete.delay.ms. */
    char *live = seg_file(f->log, 0, ".log"), *del = seg_file(f->log, 0, ".log.deleted"),
         *idel = seg_file(f->log, 2, ".index.deleted");
    assert_int_equal(file_size(live), -1);
    assert_true(file_size(del) > 0);
    assert_true(file_size(idel) >= 0);
    plog_housekeeping(f->log, T_NOW + 4999);
    assert_true(file_size(del) > 0);
    plog_housekeeping(f->log, T_NOW + 5000);
    assert_int_equal(file_size(del), -1);
    assert_int_equal(file_size(idel), -1);
    ferry_free(live);
    ferry_free(del);
    ferry_free(idel);
}

static void test_advance_log_start_offset(void **state)
{
    struct fixture *f = *state;
    f->cfg.segment_bytes = 2 * batch_bytes(2, 20);
    open_log(f);
    for (int i = 0; i < 6; i++)
        append_n(f->log, 2, T_NOW, 20, i < 3 ? 1 : 2); /* epoch 1 at 0, epoch 2 at 6 */
    assert_int_equal(plog_segment_count(f->log), 3);
    assert_int_equal(plog_advance_log_start_offset(f->log, 13, T_NOW), FERRY_ERANGE);
    assert_int_equal(plog_advance_log_start_offset(f->log, 5, T_NOW), 0);
    assert_int_equal(plog_log_start_offset(f->log), 5);
    assert_int_equal(plog_segment_count(f->log), 2); /* [0,4) went; [4,8) holds 5 */
    struct plog_read_result r;
    assert_int_equal(plog_read(f->log, 4, 100, true, -1, &r), FERRY_ERANGE);
    assert_int_equal(plog_read(f->log, 5, 100, true, -1, &r), 0);
    assert_int_equal(r.first_offset, 4); /* the batch holding 5 */
    ferry_free(r.data);
    size_t n;
    const struct plog_epoch_entry *e = plog_epoch_entries(f->log, &n);
    assert_int_equal(n, 2);
    assert_int_equal(e[0].epoch, 1);
    assert_int_equal(e[0].start_offset, 5);
    assert_int_equal(plog_advance_log_start_offset(f->log, 3, T_NOW), 0); /* going back: no-op */
    assert_int_equal(plog_log_start_offset(f->log), 5);
    assert_int_equal(plog_advance_log_start_offset(f->log, 12, T_NOW), 0);
    e = plog_epoch_entries(f->log, &n);
    assert_int_equal(n, 1);
    assert_int_equal(e[0].epoch, 2);
    assert_int_equal(e[0].start_offset, 12);
}

static void test_truncate(void **state)
{
    struct fixture *f = *state;
    f->cfg.segment_bytes = 3 * batch_bytes(2, 20);
    f->cfg.index_interval_bytes = 0;
    open_log(f);
    for (int i = 0; i < 9; i++) /* 18 offsets over 3 segments: [0,6) [6,12) [12,18) */
        append_n(f->log, 2, T_NOW + i, 20, i / 3 + 1);
    assert_int_equal(plog_segment_count(f->log), 3);
    assert_int_equal(plog_truncate_to(f->log, 20), 0); /* beyond the end: nothing */
    assert_int_equal(plog_log_end_offset(f->log), 18);
    /* At a batch boundary inside the second segment. */
    assert_int_equal(plog_truncate_to(f->log, 8), 0);
    assert_int_equal(plog_log_end_offset(f->log), 8);
    assert_int_equal(plog_segment_count(f->log), 2);
    check_all_offsets(f->log, 0, 8);
    struct plog_read_result r;
    assert_int_equal(plog_read(f->log, 8, 100, true, -1, &r), 0);
    assert_int_equal(r.len, 0);
    assert_int_equal(plog_latest_epoch(f->log), 2);
    char *p = seg_file(f->log, 6, ".log");
    assert_int_equal(file_size(p), batch_bytes(2, 20));
    ferry_free(p);
    p = seg_file(f->log, 12, ".log");
    assert_int_equal(file_size(p), -1);
    ferry_free(p);
    /* Appends continue from the new end, in a new epoch. */
    assert_int_equal(append_n(f->log, 2, T_NOW, 20, 5), 8);
    size_t n;
    const struct plog_epoch_entry *e = plog_epoch_entries(f->log, &n);
    assert_int_equal(n, 3);
    assert_int_equal(e[2].epoch, 5);
    assert_int_equal(e[2].start_offset, 8);
    /* Inside a batch: the whole batch goes and the end is the offset asked for (Kafka). */
    assert_int_equal(plog_truncate_to(f->log, 3), 0);
    assert_int_equal(plog_log_end_offset(f->log), 3);
    assert_int_equal(plog_segment_count(f->log), 1);
    assert_int_equal(plog_read(f->log, 2, 100, true, -1, &r), 0);
    assert_int_equal(r.len, 0); /* offset 2 was in the batch [2,4) */
    assert_int_equal(append_n(f->log, 1, T_NOW, 20, 6), 3);
    check_all_offsets(f->log, 0, 2);
    /* Everything, and a restart at another offset. */
    assert_int_equal(plog_truncate_fully(f->log, 100), 0);
    assert_int_equal(plog_log_start_offset(f->log), 100);
    assert_int_equal(plog_log_end_offset(f->log), 100);
    assert_int_equal(plog_latest_epoch(f->log), -1);
    assert_int_equal(plog_segment_count(f->log), 1);
    p = seg_file(f->log, 100, ".log");
    assert_int_equal(file_size(p), 0);
    ferry_free(p);
    assert_int_equal(append_n(f->log, 1, T_NOW, 20, 7), 100);
    /* Below the first segment: a full truncation. */
    assert_int_equal(plog_truncate_to(f->log, 50), 0);
    assert_int_equal(plog_log_start_offset(f->log), 50);
    assert_int_equal(plog_log_end_offset(f->log), 50);
}

static void test_leader_epoch_checkpoint(void **state)
{
    struct fixture *f = *state;
    open_log(f);
    append_n(f->log, 2, T_NOW, 10, 1);
    append_n(f->log, 3, T_NOW, 10, 1);
    append_n(f->log, 1, T_NOW, 10, 3);
    char *path = log_path_join(plog_dir(f->log), "leader-epoch-checkpoint");
    assert_int_equal(plog_flush_sync(f->log), 0);
    char *text;
    size_t len;
    assert_int_equal(read_all(path, &text, &len), 0);
    assert_string_equal(text, "0\n2\n1 0\n3 5\n");
    ferry_free(text);
    int32_t ep;
    int64_t end;
    plog_end_offset_for_epoch(f->log, 3, &ep, &end);
    assert_int_equal(ep, 3);
    assert_int_equal(end, 6);
    plog_end_offset_for_epoch(f->log, 2, &ep, &end);
    assert_int_equal(ep, 1);
    assert_int_equal(end, 5);
    plog_end_offset_for_epoch(f->log, 0, &ep, &end);
    assert_int_equal(ep, 0);
    assert_int_equal(end, 0);
    plog_end_offset_for_epoch(f->log, 4, &ep, &end);
    assert_int_equal(ep, -1);
    assert_int_equal(end, -1);
    plog_end_offset_for_epoch(f->log, -1, &ep, &end);
    assert_int_equal(ep, -1);
    /* Truncated with the log. */
    assert_int_equal(plog_truncate_to(f->log, 4), 0);
    assert_int_equal(plog_flush_sync(f->log), 0);
    assert_int_equal(read_all(path, &text, &len), 0);
    assert_string_equal(text, "0\n1\n1 0\n");
    ferry_free(text);
    /* Read back at open. */
    append_n(f->log, 1, T_NOW, 10, 9);
    assert_int_equal(plog_close(f->log), 0);
    struct plog_open_opts o = opts_at(T_NOW);
    o.clean_shutdown = true;
    o.recovery_point = 5;
    assert_int_equal(plog_open(f->root, "t", 0, &f->cfg, &o, &f->log), 0);
    size_t n;
    const struct plog_epoch_entry *e = plog_epoch_entries(f->log, &n);
    assert_int_equal(n, 2);
    assert_int_equal(e[1].epoch, 9);
    assert_int_equal(e[1].start_offset, 4);
    ferry_free(path);
}

static void test_flush_policy_and_three_steps(void **state)
{
    struct fixture *f = *state;
    f->cfg.flush_messages = 5;
    f->cfg.flush_ms = 1000;
    open_log(f);
    assert_int_equal(plog_unflushed_messages(f->log), 0);
    assert_false(plog_flush_due(f->log, T_NOW));
    append_n(f->log, 2, T_NOW, 10, 0); /* appended "at" T_NOW (the batch timestamp helper uses ts as now) */
    assert_int_equal(plog_unflushed_messages(f->log), 2);
    assert_int_equal(plog_unflushed_ms(f->log, T_NOW + 300), 300);
    assert_false(plog_flush_due(f->log, T_NOW + 999));
    assert_true(plog_flush_due(f->log, T_NOW + 1000));
    append_n(f->log, 3, T_NOW + 10, 10, 0);
    assert_true(plog_flush_due(f->log, T_NOW + 10)); /* 5 messages */

    struct plog_flush fl;
    assert_int_equal(plog_flush_begin(f->log, &fl), 0);
    assert_int_equal(fl.offset, 5);
    assert_true(fl.npaths >= 1);
    struct plog_flush second;
    assert_int_equal(plog_flush_begin(f->log, &second), FERRY_EINVAL); /* one at a time */
    append_n(f->log, 1, T_NOW + 20, 10, 0);                            /* while the flush "runs" */
    assert_int_equal(plog_flush_run(&fl), 0);
    plog_flush_end(f->log, &fl, 0);
    assert_int_equal(plog_recovery_point(f->log), 5);
    assert_int_equal(plog_unflushed_messages(f->log), 1);
    assert_int_equal(plog_unflushed_ms(f->log, T_NOW + 120), 100);

    /* A truncation while a flush runs: the recovery point must not move past it. */
    assert_int_equal(plog_flush_begin(f->log, &fl), 0);
    assert_int_equal(plog_truncate_to(f->log, 3), 0);
    assert_int_equal(plog_recovery_point(f->log), 3);
    append_n(f->log, 4, T_NOW + 30, 10, 0);
    assert_int_equal(plog_flush_run(&fl), 0);
    plog_flush_end(f->log, &fl, 0);
    assert_int_equal(plog_recovery_point(f->log), 3);
    /* A failed flush moves nothing. */
    assert_int_equal(plog_flush_begin(f->log, &fl), 0);
    plog_flush_end(f->log, &fl, FERRY_EIO);
    assert_int_equal(plog_recovery_point(f->log), 3);
    assert_int_equal(plog_flush_sync(f->log), 0);
    assert_int_equal(plog_recovery_point(f->log), 7);
    assert_int_equal(plog_unflushed_messages(f->log), 0);
    assert_int_equal(plog_unflushed_ms(f->log, T_NOW + 5000), 0);
    assert_false(plog_flush_due(f->log, T_NOW + 5000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roll_by_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roll_by_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roll_on_full_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_for_timestamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_by_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_by_size_and_delete_delay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_advance_log_start_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leader_epoch_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_policy_and_three_steps, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
