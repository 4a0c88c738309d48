/* Partition log: append/read round trips, offsets assigned by the log, reads inside a batch, max bytes and
 * KIP-74 min-one-batch, the high-watermark bound, LogAppendTime, follower appends, file layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
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
    struct plog_open_opts o = opts_at(T_NOW);
    if (plog_open(f->root, "orders", 3, &f->cfg, &o, &f->log) != 0)
        return -1;
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

static void test_round_trip_offsets_assigned(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(plog_log_end_offset(f->log), 0);
    int sizes[] = {1, 3, 2};
    int64_t expect_first[] = {0, 1, 4};
    for (int i = 0; i < 3; i++) {
        struct proto_writer w = one_batch(sizes[i], T_NOW + i, 10);
        /* The producer's base offset is whatever it sent: the log rewrites it. */
        rb_set_base_offset(w.buf, 777);
        struct plog_append_info info;
        assert_int_equal(plog_append(f->log, w.buf, w.len, 5, T_NOW, 0, &info), 0);
        assert_int_equal(info.first_offset, expect_first[i]);
        assert_int_equal(info.last_offset, expect_first[i] + sizes[i] - 1);
        assert_int_equal(info.batch_count, 1);
        assert_int_equal(info.record_count, sizes[i]);
        assert_int_equal(info.log_append_time, -1);
        assert_int_equal(info.max_timestamp, T_NOW + i + sizes[i] - 1);
        proto_writer_free(&w);
    }
    assert_int_equal(plog_log_end_offset(f->log), 6);

    struct plog_read_result r;
    assert_int_equal(plog_read(f->log, 0, 1 << 20, false, -1, &r), 0);
    assert_int_equal(r.first_offset, 0);
    assert_int_equal(r.next_offset, 6);
    assert_int_equal(r.log_start_offset, 0);
    assert_int_equal(r.log_end_offset, 6);
    int64_t first = -1, next = -1;
    assert_int_equal(count_valid_batches(r.data, r.len, &first, &next), 3);
    assert_int_equal(first, 0);
    assert_int_equal(next, 6);
    /* Epoch written into every batch, the CRC still holds (it does not cover these fields). */
    struct rb_header h;
    assert_int_equal(rb_parse_header(r.data, r.len, &h), 0);
    assert_int_equal(h.partition_leader_epoch, 5);
    ferry_free(r.data);

    /* At the log end: nothing, no error. Past it or before the start: out of range. */
    assert_int_equal(plog_read(f->log, 6, 1 << 20, true, -1, &r), 0);
    assert_int_equal(r.len, 0);
    assert_null(r.data);
    assert_int_equal(plog_read(f->log, 7, 1 << 20, true, -1, &r), FERRY_ERANGE);
    assert_int_equal(r.log_end_offset, 6);
    assert_int_equal(plog_read(f->log, -1, 1 << 20, true, -1, &r), FERRY_ERANGE);
}

static void test_read_inside_batch(void **state)
{
    struct fixture *f = *state;
    append_n(f->log, 1, T_NOW, 5, 0);  /* 0 */
    append_n(f->log, 4, T_NOW, 5, 0);  /* 1..4 */
    append_n(f->log, 2, T_NOW, 5, 0);  /* 5..6 */
    for (int64_t off = 1; off <= 4; off++) {
        struct plog_read_result r;
        assert_int_equal(plog_read(f->log, off, 1 << 20, false, -1, &r), 0);
        assert_int_equal(r.first_offset, 1); /* the whole batch containing off */
        assert_int_equal(count_valid_batches(r.data, r.len, NULL, NULL), 2);
        ferry_free(r.data);
    }
}

/* A batch damaged on disk while the log is open (or after a clean shutdown, which start-up trusts) is
 * never served: reads stop before it, and a read starting at it fails with FERRY_ECORRUPT. */
static void test_read_stops_at_corrupt_batch(void **state)
{
    struct fixture *f = *state;
    append_n(f->log, 2, T_NOW, 50, 0); /* 0..1 */
    append_n(f->log, 2, T_NOW, 50, 0); /* 2..3 */
    append_n(f->log, 2, T_NOW, 50, 0); /* 4..5 */
    struct plog_read_result r;
    assert_int_equal(plog_read(f->log, 0, 1 << 20, false, -1, &r), 0);
    struct rb_header h;
    rb_parse_header(r.data, r.len, &h);
    size_t first_len = (size_t)h.batch_length + RB_LOG_OVERHEAD;
    ferry_free(r.data);
    /* flip a value byte of the second batch in the segment file */
    char *path = seg_file(f->log, 0, ".log");
    char *buf;
    size_t len;
    assert_int_equal(read_all(path, &buf, &len), 0);
    buf[first_len + RB_HEADER_SIZE + 10] ^= 0x5a;
    write_all(path, buf, len);
    ferry_free(buf);
    ferry_free(path);
    assert_int_equal(plog_read(f->log, 0, 1 << 20, false, -1, &r), 0);
    assert_int_equal(r.len, first_len); /* only the good batch before the damage */
    assert_int_equal(r.next_offset, 2);
    ferry_free(r.data);
    assert_int_equal(plog_read(f->log, 2, 1 << 20, true, -1, &r), FERRY_ECORRUPT);
    assert_int_equal(plog_read(f->log, 4, 1 << 20, true, -1, &r), 0); /* batches after it still serve */
    assert_int_equal(r.first_offset, 4);
    ferry_free(r.data);
}

static void test_max_bytes_and_min_one_batch(void **state)
{
    struct fixture *f = *state;
    append_n(f->log, 3, T_NOW, 100, 0);
    append_n(f->log, 3, T_NOW, 100, 0);
    struct plog_read_result r;
    assert_int_equal(plog_read(f->log, 0, 1 << 20, false, -1, &r), 0);
    size_t total = r.len;
    int64_t first_len;
    {
        struct rb_header h;
        rb_parse_header(r.data, r.len, &h);
        first_len = h.batch_length + RB_LOG_OVERHEAD;
    }
    ferry_free(r.data);

    /* KIP-74: one whole batch even though it is over max_bytes. */
    assert_int_equal(plog_read(f->log, 0, 1, true, -1, &r), 0);
    assert_int_equal(r.len, (size_t)first_len);
    assert_int_equal(count_valid_batches(r.data, r.len, NULL, NULL), 1);
    assert_int_equal(r.next_offset, 3);
    ferry_free(r.data);
    /* Without the flag: nothing. */
    assert_int_equal(plog_read(f->log, 0, 1, false, -1, &r), 0);
    assert_int_equal(r.len, 0);
    /* Room for one and a half batches: only whole batches come back. */
    assert_int_equal(plog_read(f->log, 0, (size_t)first_len + 50, false, -1, &r), 0);
    assert_int_equal(r.len, (size_t)first_len);
    ferry_free(r.data);
    /* Exactly everything. */
    assert_int_equal(plog_read(f->log, 0, total, false, -1, &r), 0);
    assert_int_equal(r.len, total);
    ferry_free(r.data);
}

static void test_high_watermark_bound(void **state)
{
    struct fixture *f = *state;
    append_n(f->log, 2, T_NOW, 10, 0); /* 0..1 */
    append_n(f->log, 2, T_NOW, 10, 0); /* 2..3 */
    struct plog_read_result r;
    assert_int_equal(plog_read(f->log, 0, 1 << 20, true, 2, &r), 0);
    assert_int_equal(count_valid_batches(r.data, r.len, NULL, NULL), 1);
    assert_int_equal(r.next_offset, 2);
    ferry_free(r.data);
    /* A batch that reaches the high watermark is not visible, even with min-one-batch. */
    assert_int_equal(plog_read(f->log, 0, 1 << 20, true, 1, &r), 0);
    assert_int_equal(r.len, 0);
    assert_int_equal(plog_read(f->log, 2, 1 << 20, true, 2, &r), 0);
    assert_int_equal(r.len, 0);
}

static void test_log_append_time(void **state)
{
    struct fixture *f = *state;
    struct proto_writer w = one_batch(3, 1000, 10);
    struct plog_append_info info;
    assert_int_equal(plog_append(f->log, w.buf, w.len, 1, T_NOW + 5, PLOG_APPEND_LOG_APPEND_TIME, &info), 0);
    assert_int_equal(info.log_append_time, T_NOW + 5);
    assert_int_equal(info.max_timestamp, T_NOW + 5);
    proto_writer_free(&w);
    struct plog_read_result r;
    assert_int_equal(plog_read(f->log, 0, 1 << 20, true, -1, &r), 0);
    struct rb_header h;
    assert_int_equal(rb_validate(r.data, r.len, &h), 0);
    assert_true(h.attributes & RB_ATTR_LOG_APPEND_TIME);
    assert_int_equal(h.max_timestamp, T_NOW + 5);
    ferry_free(r.data);
}

static void test_follower_append_keeps_offsets(void **state)
{
    struct fixture *f = *state;
    struct proto_writer w;
    proto_writer_init(&w);
    add_batch(&w, 2, T_NOW, 10);
    size_t first_len = w.len;
    add_batch(&w, 3, T_NOW, 10);
    rb_set_base_offset(w.buf, 10);
    rb_set_leader_epoch(w.buf, 3);
    rb_set_base_offset(w.buf + first_len, 20);
    rb_set_leader_epoch(w.buf + first_len, 4);
    struct plog_append_info info;
    assert_int_equal(plog_append(f->log, w.buf, w.len, -1, T_NOW, PLOG_APPEND_FOLLOWER, &info), 0);
    assert_int_equal(info.first_offset, 10);
    assert_int_equal(info.last_offset, 22);
    assert_int_equal(plog_log_end_offset(f->log), 23);
    size_t n;
    const struct plog_epoch_entry *e = plog_epoch_entries(f->log, &n);
    assert_int_equal(n, 2);
    assert_int_equal(e[0].epoch, 3);
    assert_int_equal(e[0].start_offset, 10);
    assert_int_equal(e[1].epoch, 4);
    assert_int_equal(e[1].start_offset, 20);
    /* Offsets going back are refused and change nothing. */
    assert_int_equal(plog_append(f->log, w.buf, w.len, -1, T_NOW, PLOG_APPEND_FOLLOWER, &info), FERRY_ERANGE);
    assert_int_equal(plog_log_end_offset(f->log), 23);
    proto_writer_free(&w);
    /* A read in the gap returns the next batch. */
    struct plog_read_result r;
    assert_int_equal(plog_read(f->log, 12, 1 << 20, true, -1, &r), 0);
    assert_int_equal(r.first_offset, 20);
    ferry_free(r.data);
}

static void test_bad_input(void **state)
{
    struct fixture *f = *state;
    struct proto_writer w = one_batch(2, T_NOW, 10);
    assert_int_equal(plog_append(f->log, w.buf, 0, 0, T_NOW, 0, NULL), FERRY_EINVAL);
    assert_int_equal(plog_append(f->log, w.buf, w.len - 1, 0, T_NOW, 0, NULL), FERRY_EINVAL);
    assert_int_equal(plog_append(f->log, w.buf, w.len, -1, T_NOW, 0, NULL), FERRY_EINVAL);
    proto_writer_free(&w);
    /* Larger than segment.bytes. */
    struct plog_config c = f->cfg;
    c.segment_bytes = 200;
    plog_set_config(f->log, &c);
    w = one_batch(5, T_NOW, 100);
    assert_int_equal(plog_append(f->log, w.buf, w.len, 0, T_NOW, 0, NULL), FERRY_ETOOBIG);
    proto_writer_free(&w);
    assert_int_equal(plog_log_end_offset(f->log), 0);
    assert_int_equal(plog_size_bytes(f->log), 0);
}

static void test_file_layout_and_index(void **state)
{
    struct fixture *f = *state;
    struct plog_config c = f->cfg;
    c.index_interval_bytes = 0; /* an entry for every batch after the first */
    plog_set_config(f->log, &c);
    for (int i = 0; i < 4; i++)
        append_n(f->log, 2, T_NOW + i * 10, 20, 0);
    char *logf = seg_file(f->log, 0, ".log"), *idx = seg_file(f->log, 0, ".index"),
         *tidx = seg_file(f->log, 0, ".timeindex");
    assert_string_equal(strrchr(logf, '/') + 1, "00000000000000000000.log");
    assert_true(strstr(plog_dir(f->log), "/orders-3") != NULL);
    assert_int_equal(file_size(logf), plog_size_bytes(f->log));
    /* Index entries reach the files in groups, at the latest with a flush. */
    assert_int_equal(plog_flush_sync(f->log), 0);
    /* Offset index: 3 entries (batches 2..4), (last offset - base, position of the batch). */
    assert_int_equal(file_size(idx), 3 * 8);
    char *buf;
    size_t len;
    assert_int_equal(read_all(idx, &buf, &len), 0);
    int64_t batch_size = plog_size_bytes(f->log) / 4;
    for (int i = 0; i < 3; i++) {
        const uint8_t *e = (const uint8_t *)buf + i * 8;
        assert_int_equal((int32_t)proto_be32(e), 2 * (i + 1) + 1);
        assert_int_equal((int32_t)proto_be32(e + 4), batch_size * (i + 1));
    }
    ferry_free(buf);
    /* Time index: grows with the max timestamp. */
    assert_int_equal(file_size(tidx), 3 * 12);
    assert_int_equal(read_all(tidx, &buf, &len), 0);
    assert_int_equal((int64_t)proto_be64((const uint8_t *)buf), T_NOW + 10 + 1);
    assert_int_equal((int32_t)proto_be32((const uint8_t *)buf + 8), 3);
    ferry_free(buf);
    /* Lookups through the index land on the right batches. */
    for (int64_t off = 0; off < 8; off++) {
        struct plog_read_result r;
        assert_int_equal(plog_read(f->log, off, 1, true, -1, &r), 0);
        assert_int_equal(r.first_offset, off & ~1);
        ferry_free(r.data);
    }
    ferry_free(logf);
    ferry_free(idx);
    ferry_free(tidx);
}

static void test_reopen_keeps_data(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 50; i++)
        append_n(f->log, 3, T_NOW + i, 200, 2);
    assert_int_equal(plog_close(f->log), 0);
    struct plog_open_opts o = opts_at(T_NOW);
    o.clean_shutdown = true;
    o.recovery_point = 150;
    assert_int_equal(plog_open(f->root, "orders", 3, &f->cfg, &o, &f->log), 0);
    assert_int_equal(plog_log_end_offset(f->log), 150);
    assert_int_equal(plog_recovery_point(f->log), 150);
    assert_int_equal(plog_latest_epoch(f->log), 2);
    for (int64_t off = 0; off < 150; off += 7) {
        struct plog_read_result r;
        assert_int_equal(plog_read(f->log, off, 1, true, -1, &r), 0);
        assert_int_equal(r.first_offset, off - off % 3);
        ferry_free(r.data);
    }
    assert_int_equal(append_n(f->log, 1, T_NOW, 1, 2), 150);
}

/* Every allocation failing from the Nth on: each call fails cleanly (no crash, no leak under ASan), and the
 * log reopens afterwards with every append that reported success. */
static void test_allocation_failures(void **state)
{
    (void)state;
    ferry_log_set_level(FERRY_LOG_ERROR + 1);
    struct plog_config cfg;
    small_config(&cfg);
    cfg.segment_bytes = 600;
    cfg.index_interval_bytes = 0;
    for (long n = 0; n < 400; n++) {
        char *root = tmpdir_make();
        struct proto_writer w = one_batch(3, T_NOW, 40);
        int64_t acked = 0;
        ferry_alloc_fail_after(n);
        struct plog *log;
        struct plog_open_opts o = opts_at(T_NOW);
        if (plog_open(root, "t", 0, &cfg, &o, &log) == 0) {
            for (int i = 0; i < 8; i++) {
                struct plog_append_info info;
                if (plog_append(log, w.buf, w.len, 1, T_NOW + i, 0, &info) == 0)
                    acked = info.last_offset + 1;
                struct plog_read_result r;
                if (plog_read(log, 0, 1 << 20, true, -1, &r) == 0)
                    ferry_free(r.data);
            }
            int64_t off, ts;
            plog_offset_for_timestamp(log, T_NOW + 1, &off, &ts);
            plog_truncate_to(log, 6); /* a batch boundary (3 records per batch) */
            if (acked > 6)
                acked = 6;
            plog_apply_retention(log, T_NOW, -1);
            plog_close(log);
        }
        ferry_alloc_fail_after(-1);
        proto_writer_free(&w);
        assert_int_equal(plog_open(root, "t", 0, &cfg, &o, &log), 0);
        assert_true(plog_log_end_offset(log) >= acked);
        assert_int_equal(plog_close(log), 0);
        tmpdir_remove(root);
    }
    ferry_log_set_level(FERRY_LOG_INFO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_offsets_assigned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_inside_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_stops_at_corrupt_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_bytes_and_min_one_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_high_watermark_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_append_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follower_append_keeps_offsets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_layout_and_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
