/* Segment indexes on their own: offset index append/lookup/truncate and validation, Kafka's time index
 * rules (entries only when the timestamp grows), the in-memory tail and its write-out, the epoch cache
 * rules, the checkpoint text parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "broker/common/ferry_err.h"
#include "broker/log/epoch_cache.h"
#include "broker/log/log_checkpoint.h"
#include "broker/log/offset_index.h"
#include "broker/log/time_index.h"
#include "test_log_util.h"

static void test_offset_index(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    struct log_oindex ix;
    bool suspect;
    char *path = log_path_join(dir, "00000000000000000100.index");
    assert_int_equal(log_oindex_open(&ix, ferry_strdup(path), 100, 8 * 100, &suspect), 0);
    assert_false(suspect);
    struct log_oindex_entry e;
    assert_int_equal(log_oindex_lookup(&ix, 500, &e), 0);
    assert_int_equal(e.offset, 100); /* empty: (base, 0) */
    assert_int_equal(e.position, 0);
    for (int i = 1; i <= 150; i++)
        assert_int_equal(log_oindex_append(&ix, 100 + 10 * i, (uint32_t)(1000 * i)), 0);
    assert_int_equal(log_oindex_append(&ix, 1600, 1), FERRY_EINVAL); /* offsets must grow */
    assert_true(log_oindex_full(&ix));
    /* Part of it is still in memory; lookups see all of it. */
    assert_true(file_size(path) < 150 * 8);
    assert_int_equal(log_oindex_lookup(&ix, 105, &e), 0);
    assert_int_equal(e.offset, 100);
    assert_int_equal(log_oindex_lookup(&ix, 110, &e), 0);
    assert_int_equal(e.position, 1000);
    assert_int_equal(log_oindex_lookup(&ix, 1239, &e), 0);
    assert_int_equal(e.offset, 1230);
    assert_int_equal(e.position, 113000);
    assert_int_equal(log_oindex_lookup(&ix, 99999, &e), 0);
    assert_int_equal(e.offset, 1600);
    /* Truncation drops entries >= the offset, on disk and in memory. */
    assert_int_equal(log_oindex_truncate_to(&ix, 1235), 0);
    assert_int_equal(ix.f.entries, 113);
    assert_int_equal(ix.last.offset, 1230);
    assert_int_equal(log_oindex_append(&ix, 1240, 200000), 0);
    assert_int_equal(log_idxfile_write_out(&ix.f), 0);
    assert_int_equal(file_size(path), 114 * 8);
    assert_int_equal(log_oindex_check(&ix, 200001), 0);
    assert_int_equal(log_oindex_check(&ix, 200000), FERRY_ECORRUPT); /* a position past the log */
    log_oindex_close(&ix);
    /* Reopened: entries come from the file. */
    assert_int_equal(log_oindex_open(&ix, ferry_strdup(path), 100, 8 * 1000, &suspect), 0);
    assert_int_equal(ix.f.entries, 114);
    assert_int_equal(log_oindex_check(&ix, 1 << 30), 0);
    assert_int_equal(ix.last.offset, 1240);
    log_oindex_close(&ix);
    /* A partial entry is flagged; offsets going down fail the check. */
    uint8_t raw[20] = {0, 0, 0, 5, 0, 0, 0, 9, 0, 0, 0, 4, 0, 0, 0, 10, 1, 2, 3, 4};
    write_all(path, raw, 20);
    assert_int_equal(log_oindex_open(&ix, ferry_strdup(path), 100, 8 * 1000, &suspect), 0);
    assert_true(suspect);
    assert_int_equal(ix.f.entries, 2);
    assert_int_equal(log_oindex_check(&ix, 1000), FERRY_ECORRUPT);
    log_oindex_close(&ix);
    ferry_free(path);
    tmpdir_remove(dir);
}

static void test_time_index_rules(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    char *path = log_path_join(dir, "00000000000000000000.timeindex");
    struct log_tindex ix;
    bool suspect;
    assert_int_equal(log_tindex_open(&ix, ferry_strdup(path), 0, 12 * 3, &suspect), 0);
    assert_int_equal(log_tindex_maybe_append(&ix, -1, 0, false), 0); /* no timestamp: nothing */
    assert_int_equal(ix.f.entries, 0);
    assert_int_equal(log_tindex_maybe_append(&ix, 100, 3, false), 0);
    assert_int_equal(log_tindex_maybe_append(&ix, 100, 5, false), 0); /* not larger: nothing */
    assert_int_equal(log_tindex_maybe_append(&ix, 90, 6, false), 0);
    assert_int_equal(ix.f.entries, 1);
    assert_int_equal(log_tindex_maybe_append(&ix, 200, 8, false), 0);
    assert_int_equal(log_tindex_maybe_append(&ix, 300, 12, false), 0);
    assert_true(log_tindex_full(&ix));
    assert_int_equal(log_tindex_maybe_append(&ix, 400, 15, false), 0); /* full */
    assert_int_equal(ix.f.entries, 3);
    assert_int_equal(log_tindex_maybe_append(&ix, 400, 15, true), 0); /* the final entry of a segment */
    assert_int_equal(ix.f.entries, 4);
    struct log_tindex_entry e;
    assert_int_equal(log_tindex_lookup(&ix, 50, &e), 0);
    assert_int_equal(e.timestamp, -1);
    assert_int_equal(e.offset, 0);
    assert_int_equal(log_tindex_lookup(&ix, 250, &e), 0);
    assert_int_equal(e.timestamp, 200);
    assert_int_equal(e.offset, 8);
    assert_int_equal(log_tindex_lookup(&ix, 1000, &e), 0);
    assert_int_equal(e.offset, 15);
    assert_int_equal(log_tindex_check(&ix, 16), 0);
    assert_int_equal(log_tindex_check(&ix, 15), FERRY_ECORRUPT); /* an offset past the segment's end */
    assert_int_equal(log_tindex_truncate_to(&ix, 12), 0);
    assert_int_equal(ix.f.entries, 2);
    assert_int_equal(ix.last.timestamp, 200);
    log_tindex_close(&ix);
    assert_int_equal(file_size(path), 2 * 12);
    ferry_free(path);
    tmpdir_remove(dir);
}

static void test_epoch_cache_rules(void **state)
{
    (void)state;
    struct log_epoch_cache c = {0};
    assert_int_equal(log_epochs_assign(&c, 1, 0, "t-0"), 1);
    assert_int_equal(log_epochs_assign(&c, 1, 5, "t-0"), 0); /* same epoch, later: nothing */
    assert_int_equal(log_epochs_assign(&c, 3, 10, "t-0"), 1);
    assert_int_equal(log_epochs_assign(&c, 5, 20, "t-0"), 1);
    assert_int_equal(log_epochs_assign(&c, -1, 30, "t-0"), FERRY_EINVAL);
    /* A new entry removes the ones that would break monotonicity. */
    assert_int_equal(log_epochs_assign(&c, 4, 15, "t-0"), 1);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.e[2].epoch, 4);
    assert_int_equal(log_epochs_latest(&c), 4);
    char *text;
    size_t len;
    assert_int_equal(log_epochs_serialize(&c, &text, &len), 0);
    assert_string_equal(text, "0\n3\n1 0\n3 10\n4 15\n");
    ferry_free(text);
    assert_true(log_epochs_truncate_from_end(&c, 10));
    assert_int_equal(c.n, 1);
    assert_false(log_epochs_truncate_from_end(&c, 10));
    log_epochs_assign(&c, 2, 10, "t-0");
    log_epochs_assign(&c, 6, 40, "t-0");
    assert_true(log_epochs_truncate_from_start(&c, 12));
    assert_int_equal(c.n, 2);
    assert_int_equal(c.e[0].epoch, 2);
    assert_int_equal(c.e[0].start_offset, 12);
    assert_false(log_epochs_truncate_from_start(&c, 12));
    int32_t ep;
    int64_t off;
    log_epochs_end_offset_for(&c, 6, 99, &ep, &off);
    assert_int_equal(off, 99);
    log_epochs_end_offset_for(&c, 3, 99, &ep, &off);
    assert_int_equal(ep, 2);
    assert_int_equal(off, 40);
    log_epochs_clear(&c);
    log_epochs_end_offset_for(&c, 3, 99, &ep, &off);
    assert_int_equal(ep, -1);
    assert_int_equal(off, -1);
    log_epochs_free(&c);
    /* Damaged files are refused whole. */
    char *dir = tmpdir_make();
    char *path = log_path_join(dir, "leader-epoch-checkpoint");
    const char *bad[] = {"0\n2\n1 0\n", "0\n2\n3 5\n1 9\n", "0\n1\n1\n", "1\n0\n", "0\n1\n-1 0\n", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_all(path, bad[i], strlen(bad[i]));
        assert_int_equal(log_epochs_load(&c, path), FERRY_EPARSE);
        assert_int_equal(c.n, 0);
    }
    write_all(path, "0\n2\n1 0\n3 5\n", 12);
    assert_int_equal(log_epochs_load(&c, path), 0);
    assert_int_equal(c.n, 2);
    log_epochs_free(&c);
    ferry_free(path);
    tmpdir_remove(dir);
}

static int count_fields(void *arg, char **f, int n)
{
    (void)f;
    *(int *)arg += n;
    return 0;
}

static void test_checkpoint_parser(void **state)
{
    (void)state;
    char t1[] = "0\n3\na 1 2\nb 3 4\nc 5 6\n";
    int fields = 0;
    assert_int_equal(log_ckpt_parse(t1, strlen(t1), 0, 3, count_fields, &fields), 0);
    assert_int_equal(fields, 9);
    char t2[] = "0\n1\na 1 2";
    fields = 0;
    assert_int_equal(log_ckpt_parse(t2, strlen(t2), 0, 3, count_fields, &fields), 0);
    char t3[] = "0\n1\na 1\0 2\n";
    assert_int_equal(log_ckpt_parse(t3, sizeof t3 - 1, 0, 3, count_fields, &fields), FERRY_EPARSE);
    char t4[] = "00\n1\na 1 2\n";
    assert_int_equal(log_ckpt_parse(t4, strlen(t4), 0, 3, count_fields, &fields), 0);
    char t5[] = "0\n99999999999\n";
    assert_int_equal(log_ckpt_parse(t5, strlen(t5), 0, 3, count_fields, &fields), FERRY_EPARSE);
    int64_t v;
    assert_int_equal(log_parse_i64("-", &v), FERRY_EPARSE);
    assert_int_equal(log_parse_i64("12a", &v), FERRY_EPARSE);
    assert_int_equal(log_parse_i64("99999999999999999999", &v), FERRY_EPARSE);
    assert_int_equal(log_parse_i64("-42", &v), 0);
    assert_int_equal(v, -42);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offset_index),
        cmocka_unit_test(test_time_index_rules),
        cmocka_unit_test(test_epoch_cache_rules),
        cmocka_unit_test(test_checkpoint_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
