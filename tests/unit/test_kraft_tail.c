/* Unit tests for metalog_tail: the newest metadata-log batches kept in memory (appends, reads as a Fetch
 * answer gives them, truncation, dropping the oldest half, gaps, non-batch bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/common/ferry_alloc.h"
#include "broker/proto/record_batch.h"
#include "kraftmode/metalog_record.h"
#include "kraftmode/metalog_tail.h"
#include "proto_messages.h"

/* n batches of `per` NoOp records each from base, appended to w; returns the bytes of the first batch. */
static size_t build(struct proto_writer *w, int64_t base, int n, int per)
{
    struct NoOpRecord noop = {0};
    struct metalog_rec recs[8];
    for (int i = 0; i < per; i++)
        recs[i] = (struct metalog_rec){&proto_msg_NoOpRecord, 0, &noop};
    size_t first = 0;
    for (int b = 0; b < n; b++) {
        size_t before = w->len;
        assert_int_equal(metalog_build_batch(w, base + (int64_t)b * per, 1, 1000, recs, (size_t)per), 0);
        if (b == 0)
            first = w->len - before;
    }
    return first;
}

static int64_t first_base(const uint8_t *p, size_t len)
{
    struct rb_header h;
    assert_int_equal(rb_parse_header(p, len, &h), 0);
    return h.base_offset;
}

static void test_append_and_read(void **state)
{
    (void)state;
    struct metalog_tail t;
    metalog_tail_init(&t, 1 << 20);
    struct proto_writer w;
    proto_writer_init(&w);
    size_t one = build(&w, 10, 4, 2); /* batches [10,12) [12,14) [14,16) [16,18) */
    metalog_tail_append(&t, w.buf, w.len, 10);
    assert_int_equal(t.base, 10);
    assert_int_equal(t.end, 18);

    const uint8_t *p;
    size_t len;
    metalog_tail_from(&t, 13, &p, &len); /* the batch holding 13 */
    assert_non_null(p);
    assert_int_equal(first_base(p, len), 12);
    assert_int_equal(len, 3 * one);
    metalog_tail_from(&t, 9, &p, &len);
    assert_null(p);
    metalog_tail_from(&t, 18, &p, &len);
    assert_null(p);

    uint8_t *buf;
    assert_int_equal(metalog_tail_read(&t, 12, 16, 1 << 20, &buf, &len), 1); /* last offset < 16 */
    assert_int_equal(len, 2 * one);
    assert_memory_equal(buf, w.buf + one, len);
    ferry_free(buf);
    assert_int_equal(metalog_tail_read(&t, 12, 18, one + 1, &buf, &len), 1); /* max bytes: whole batches */
    assert_int_equal(len, one);
    ferry_free(buf);
    assert_int_equal(metalog_tail_read(&t, 12, 18, 1, &buf, &len), 1); /* the first batch in any case */
    assert_int_equal(len, one);
    ferry_free(buf);
    assert_int_equal(metalog_tail_read(&t, 16, 17, 1 << 20, &buf, &len), 1); /* held, nothing below `to` */
    assert_null(buf);
    assert_int_equal(len, 0);
    assert_int_equal(metalog_tail_read(&t, 4, 18, 1 << 20, &buf, &len), 0); /* not held: read the log */

    /* an append that continues; one that does not restarts the tail */
    w.len = 0;
    build(&w, 18, 1, 2);
    metalog_tail_append(&t, w.buf, w.len, 18);
    assert_int_equal(t.base, 10);
    assert_int_equal(t.end, 20);
    w.len = 0;
    build(&w, 30, 1, 2);
    metalog_tail_append(&t, w.buf, w.len, 30);
    assert_int_equal(t.base, 30);
    assert_int_equal(t.end, 32);
    proto_writer_free(&w);
    metalog_tail_free(&t);
}

static void test_truncate(void **state)
{
    (void)state;
    struct metalog_tail t;
    metalog_tail_init(&t, 1 << 20);
    struct proto_writer w;
    proto_writer_init(&w);
    size_t one = build(&w, 0, 4, 2);
    metalog_tail_append(&t, w.buf, w.len, 0);
    metalog_tail_truncate(&t, 8); /* at the end: nothing */
    assert_int_equal(t.end, 8);
    metalog_tail_truncate(&t, 4); /* a batch boundary */
    assert_int_equal(t.end, 4);
    assert_int_equal(t.len, 2 * one);
    metalog_tail_truncate(&t, 3); /* inside a batch: emptied, the log decides */
    assert_int_equal(t.len, 0);
    const uint8_t *p;
    size_t len;
    metalog_tail_from(&t, 0, &p, &len);
    assert_null(p);
    metalog_tail_append(&t, w.buf, w.len, 0);
    metalog_tail_truncate(&t, 0); /* at or below the base */
    assert_int_equal(t.len, 0);
    metalog_tail_append(&t, w.buf, w.len, 0);
    metalog_tail_reset(&t);
    assert_int_equal(t.len, 0);
    proto_writer_free(&w);
    metalog_tail_free(&t);
}

static void test_bounded(void **state)
{
    (void)state;
    struct proto_writer w;
    proto_writer_init(&w);
    size_t one = build(&w, 0, 1, 2);
    struct metalog_tail t;
    metalog_tail_init(&t, 10 * one);
    for (int64_t i = 0; i < 40; i++) {
        w.len = 0;
        build(&w, 2 * i, 1, 2);
        metalog_tail_append(&t, w.buf, w.len, 2 * i);
        assert_true(t.len <= 10 * one);
        assert_int_equal(t.end, 2 * i + 2);
    }
    assert_true(t.base > 0); /* the oldest went */
    const uint8_t *p;
    size_t len;
    metalog_tail_from(&t, t.base, &p, &len);
    assert_int_equal(first_base(p, len), t.base);
    assert_int_equal(len, t.len);

    /* larger than the bound, or not whole batches: emptied (the readers use the log) */
    w.len = 0;
    build(&w, 80, 11, 2);
    metalog_tail_append(&t, w.buf, w.len, 80);
    assert_int_equal(t.len, 0);
    w.len = 0;
    build(&w, 0, 2, 2);
    metalog_tail_append(&t, w.buf, w.len - 1, 0);
    assert_int_equal(t.len, 0);
    proto_writer_free(&w);
    metalog_tail_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_read),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
