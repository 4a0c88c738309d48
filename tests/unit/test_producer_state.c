/* test_producer_state: the idempotent-producer state machine (Kafka 3.7 rules), the producer-id pool,
 * the producer-state snapshot files (write, read, corrupt, truncation/retention deletes) and the rebuild of
 * a partition's producer state after a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../unit/test_log_util.h"
#include "broker/common/ferry_err.h"
#include "broker/log/producer_snapshot.h"
#include "broker/producer/pid_pool.h"
#include "broker/producer/producer_log.h"
#include "broker/producer/producer_state.h"
#include "broker/proto/crc32c.h"

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* One batch of n records from producer (pid, epoch) at base sequence seq; CRC recomputed. */
static struct proto_writer pbatch(int64_t pid, int16_t epoch, int32_t seq, int n, int64_t ts)
{
    struct proto_writer w = one_batch(n, ts, 4);
    uint8_t *b = w.buf;
    put_be(b + 43, (uint64_t)pid, 8);
    put_be(b + 51, (uint16_t)epoch, 2);
    put_be(b + 53, (uint32_t)seq, 4);
    put_be(b + 17, crc32c(0, b + 21, w.len - 21), 4);
    return w;
}

static void test_rules(void **state)
{
    (void)state;
    struct prod_state s;
    prod_state_init(&s);
    /* unknown producer: any sequence (Kafka 3.7 never answers UNKNOWN_PRODUCER_ID to a produce) */
    struct prod_verdict v = prod_state_check(&s, 7, 0, 0, 4);
    assert_int_equal(v.error, 0);
    assert_false(v.duplicate);
    v = prod_state_check(&s, 7, 3, 42, 44);
    assert_int_equal(v.error, 0);
    assert_int_equal(prod_state_update(&s, 7, 0, 0, 4, 100, 104, 1000), 0);
    /* in sequence */
    assert_int_equal(prod_state_check(&s, 7, 0, 5, 9).error, 0);
    /* gap and going back */
    assert_int_equal(prod_state_check(&s, 7, 0, 6, 9).error, KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(prod_state_check(&s, 7, 0, 3, 3).error, KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* duplicate of the last batch */
    v = prod_state_check(&s, 7, 0, 0, 4);
    assert_true(v.duplicate);
    assert_int_equal(v.dup_first_offset, 100);
    assert_int_equal(v.dup_last_offset, 104);
    assert_int_equal(v.dup_timestamp, 1000);
    /* five batches retained, the sixth pushes out the first */
    for (int i = 1; i <= 5; i++)
        assert_int_equal(prod_state_update(&s, 7, 0, i * 5, i * 5 + 4, 100 + i * 5, 104 + i * 5, 1000 + i), 0);
    assert_int_equal(prod_state_get(&s, 7)->nbatches, 5);
    v = prod_state_check(&s, 7, 0, 5, 9);
    assert_true(v.duplicate);
    assert_int_equal(v.dup_first_offset, 105);
    v = prod_state_check(&s, 7, 0, 0, 4); /* no longer retained: out of order */
    assert_false(v.duplicate);
    assert_int_equal(v.error, KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* a partial overlap is not a duplicate */
    assert_int_equal(prod_state_check(&s, 7, 0, 25, 26).error, KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* older epoch */
    assert_int_equal(prod_state_update(&s, 8, 2, 0, 0, 200, 200, 2000), 0);
    assert_int_equal(prod_state_check(&s, 8, 1, 1, 1).error, KERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(prod_state_check(&s, 8, 1, 0, 0).error, KERR_INVALID_PRODUCER_EPOCH);
    /* newer epoch must start at 0 */
    assert_int_equal(prod_state_check(&s, 8, 3, 1, 1).error, KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(prod_state_check(&s, 8, 3, 0, 1).error, 0);
    /* the same sequence at a new epoch is not a duplicate */
    assert_false(prod_state_check(&s, 8, 3, 0, 0).duplicate);
    assert_int_equal(prod_state_update(&s, 8, 3, 0, 1, 201, 202, 2001), 0);
    assert_int_equal(prod_state_get(&s, 8)->nbatches, 1);
    /* sequence wrap past INT32_MAX */
    assert_int_equal(prod_last_seq(INT32_MAX - 1, 3), 1);
    assert_int_equal(prod_first_seq(1, 3), INT32_MAX - 1);
    assert_int_equal(prod_state_update(&s, 9, 0, INT32_MAX - 2, INT32_MAX, 300, 302, 3000), 0);
    assert_int_equal(prod_state_check(&s, 9, 0, 0, 2).error, 0);
    assert_int_equal(prod_state_check(&s, 9, 0, 1, 2).error, KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* expiry by the last batch's timestamp */
    assert_int_equal(prod_state_expire(&s, 2500, 1000), 1); /* 7 (last 1005) */
    assert_null(prod_state_get(&s, 7));
    assert_non_null(prod_state_get(&s, 8));
    assert_int_equal(prod_state_expire(&s, 3500, 1000), 1);
    assert_int_equal(s.n, 1);
    /* truncation forgets batches at and above the offset */
    assert_int_equal(prod_state_update(&s, 9, 0, 0, 0, 303, 303, 3001), 0);
    prod_state_truncate_above(&s, 303);
    assert_int_equal(prod_state_get(&s, 9)->nbatches, 1);
    prod_state_truncate_above(&s, 300);
    assert_null(prod_state_get(&s, 9));
    prod_state_free(&s);
}

static void test_check_records(void **state)
{
    (void)state;
    struct prod_state s;
    prod_state_init(&s);
    struct proto_writer w = pbatch(5, 0, 0, 3, T_NOW);
    struct proto_writer w2 = pbatch(5, 0, 3, 2, T_NOW);
    size_t l1 = w.len;
    proto_write_raw(&w, w2.buf, w2.len);
    assert_int_equal(prod_state_check_records(&s, w.buf, w.len).error, 0); /* two batches in sequence */
    struct proto_writer w3 = pbatch(5, 0, 4, 2, T_NOW);
    struct proto_writer bad;
    proto_writer_init(&bad);
    proto_write_raw(&bad, w.buf, l1);
    proto_write_raw(&bad, w3.buf, w3.len);
    assert_int_equal(prod_state_check_records(&s, bad.buf, bad.len).error, KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* replayed (as after an append): duplicates found */
    assert_int_equal(prod_log_replay(&s, w.buf, w.len), 0);
    const struct prod_entry *e = prod_state_get(&s, 5);
    assert_int_equal(e->nbatches, 2);
    assert_int_equal(e->batches[1].first_seq, 3);
    assert_int_equal(e->batches[1].last_seq, 4);
    struct prod_verdict v = prod_state_check_records(&s, w2.buf, w2.len);
    assert_true(v.duplicate);
    /* a plain batch is not checked */
    struct proto_writer plain = one_batch(2, T_NOW, 4);
    assert_int_equal(prod_state_check_records(&s, plain.buf, plain.len).error, 0);
    proto_writer_free(&w);
    proto_writer_free(&w2);
    proto_writer_free(&w3);
    proto_writer_free(&bad);
    proto_writer_free(&plain);
    prod_state_free(&s);
}

static void test_pid_pool(void **state)
{
    (void)state;
    struct prod_pid_pool p;
    prod_pid_pool_init(&p);
    int64_t id;
    assert_int_equal(prod_pid_take(&p, &id), FERRY_ERANGE);
    assert_true(prod_pid_want_block(&p));
    prod_pid_fetch_started(&p);
    assert_false(prod_pid_want_block(&p));
    prod_pid_block_arrived(&p, 0, 1000);
    for (int i = 0; i < 899; i++) {
        assert_int_equal(prod_pid_take(&p, &id), 0);
        assert_int_equal(id, i);
        assert_false(prod_pid_want_block(&p));
    }
    assert_int_equal(prod_pid_take(&p, &id), 0);
    assert_true(prod_pid_want_block(&p)); /* 90% used: prefetch */
    prod_pid_fetch_started(&p);
    prod_pid_block_arrived(&p, 5000, 1000);
    for (int i = 900; i < 1000; i++)
        assert_int_equal(prod_pid_take(&p, &id), 0);
    assert_int_equal(id, 999);
    assert_int_equal(prod_pid_take(&p, &id), 0);
    assert_int_equal(id, 5000);
    /* a failed allocation leaves the pool as it was */
    prod_pid_fetch_started(&p);
    prod_pid_block_arrived(&p, -1, 0);
    assert_false(p.fetching);
    assert_int_equal(prod_pid_take(&p, &id), 0);
    assert_int_equal(id, 5001);
}

static void test_snapshot_files(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    struct log_psnap_entry in[2] = {{1, 0, 9, 109, 4, T_NOW, -1, -1}, {1234567890123LL, 7, INT32_MAX, 5, 0, 1, -1, -1}};
    assert_int_equal(log_psnap_write(dir, 110, in, 2, true), 0);
    assert_int_equal(log_psnap_write(dir, 5, NULL, 0, false), 0);
    assert_int_equal(log_psnap_write(dir, 300, in, 1, true), 0);
    struct log_psnap_entry *out;
    size_t n;
    assert_int_equal(log_psnap_read(dir, 110, &out, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(&out[1], &in[1], sizeof in[1]);
    assert_int_equal(out[0].last_offset, 109);
    ferry_free(out);
    assert_int_equal(log_psnap_read(dir, 5, &out, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(log_psnap_read(dir, 6, &out, &n), FERRY_ENOTFOUND);
    /* Kafka's layout: version 1, CRC-32C over everything after the CRC, big-endian fields */
    char *path = log_segment_path(dir, 110, ".snapshot");
    assert_non_null(strstr(path, "/00000000000000000110.snapshot"));
    char *data;
    size_t len;
    assert_int_equal(log_read_file(path, 1 << 20, &data, &len), 0);
    assert_int_equal(len, 10 + 2 * 46);
    assert_int_equal((uint8_t)data[0], 0);
    assert_int_equal((uint8_t)data[1], 1);
    assert_int_equal((uint8_t)data[9], 2);
    /* corrupt a byte: CRC mismatch */
    data[20] ^= 1;
    assert_int_equal(log_psnap_decode((uint8_t *)data, len, &out, &n), FERRY_ECORRUPT);
    data[20] ^= 1;
    assert_int_equal(log_psnap_decode((uint8_t *)data, len - 1, &out, &n), FERRY_ECORRUPT);
    assert_int_equal(log_psnap_decode((uint8_t *)data, 5, &out, &n), FERRY_ECORRUPT);
    data[1] = 2;
    assert_int_equal(log_psnap_decode((uint8_t *)data, len, &out, &n), FERRY_EUNSUPPORTED);
    ferry_free(data);
    ferry_free(path);
    /* list, delete above (truncation) and below (retention) */
    int64_t *offs;
    assert_int_equal(log_psnap_list(dir, &offs, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(offs[0], 5);
    assert_int_equal(offs[2], 300);
    ferry_free(offs);
    assert_int_equal(log_psnap_delete_above(dir, 110), 0);
    assert_int_equal(log_psnap_delete_below(dir, 110), 0);
    assert_int_equal(log_psnap_list(dir, &offs, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(offs[0], 110);
    ferry_free(offs);
    tmpdir_remove(dir);
}

static void append_pbatch(struct plog *log, int64_t pid, int16_t epoch, int32_t seq, int n)
{
    struct proto_writer w = pbatch(pid, epoch, seq, n, T_NOW);
    struct plog_append_info info;
    assert_int_equal(plog_append(log, w.buf, w.len, 0, T_NOW, 0, &info), 0);
    proto_writer_free(&w);
}

/* The state is rebuilt from the latest snapshot plus a replay to the log end; a snapshot above the log
 * end (left by a crash that cut the tail) is deleted; a corrupt one is skipped. */
static void test_rebuild_after_crash(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    struct plog_config cfg;
    small_config(&cfg);
    struct plog_open_opts o = opts_at(T_NOW);
    struct plog *log;
    assert_int_equal(plog_open(dir, "t", 0, &cfg, &o, &log), 0);
    struct prod_state s;
    prod_state_init(&s);
    append_pbatch(log, 1, 0, 0, 3);  /* offsets 0-2 */
    append_pbatch(log, 2, 0, 0, 1);  /* 3 */
    assert_int_equal(prod_log_load(&s, log), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(prod_log_snapshot(&s, log, 4, true), 0);
    append_pbatch(log, 1, 0, 3, 2);  /* 4-5 */
    append_pbatch(log, 2, 1, 0, 1);  /* 6 */
    assert_int_equal(prod_log_snapshot(&s, log, 99, true), 0); /* beyond the end: a crash cut the log */
    plog_close_abandon(log);         /* kill -9 */
    assert_int_equal(plog_open(dir, "t", 0, &cfg, &o, &log), 0);
    prod_state_free(&s);
    prod_state_init(&s);
    assert_int_equal(prod_log_load(&s, log), 0);
    const struct prod_entry *e = prod_state_get(&s, 1);
    assert_non_null(e);
    assert_int_equal(e->batches[e->nbatches - 1].last_seq, 4);
    assert_int_equal(e->batches[e->nbatches - 1].last_offset, 5);
    assert_true(prod_state_check(&s, 1, 0, 3, 4).duplicate);
    assert_int_equal(prod_state_check(&s, 1, 0, 5, 5).error, 0);
    e = prod_state_get(&s, 2);
    assert_int_equal(e->epoch, 1);
    char *p99 = log_segment_path(plog_dir(log), 99, ".snapshot");
    assert_false(log_path_exists(p99));
    ferry_free(p99);
    /* the snapshot at 4 alone holds only the last batch of producer 1 before it */
    prod_state_clear(&s);
    /* corrupt snapshot: skipped, whole log replayed */
    char *p4 = log_segment_path(plog_dir(log), 4, ".snapshot");
    int fd = open(p4, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "xx", 2, 12), 2);
    close(fd);
    assert_int_equal(prod_log_load(&s, log), 0);
    e = prod_state_get(&s, 1);
    assert_int_equal(e->nbatches, 2);
    assert_true(prod_state_check(&s, 1, 0, 0, 2).duplicate);
    ferry_free(p4);
    prod_state_free(&s);
    plog_close(log);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_check_records),
        cmocka_unit_test(test_pid_pool),
        cmocka_unit_test(test_snapshot_files),
        cmocka_unit_test(test_rebuild_after_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
