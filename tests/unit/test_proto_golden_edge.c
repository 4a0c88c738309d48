/* Encoder edge cases found while writing the golden vectors (test_proto_golden.c): values a handler can
 * legitimately put in a message struct must either be encoded as Kafka would, or make proto_encode fail;
 * never produce a frame that the peer reads differently; and writer primitives must have no undefined
 * behaviour on empty input. Expected bytes are written out by hand from the Kafka protocol guide. These
 * tests fail until the bugs they describe are fixed in broker/proto/proto_buf.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/common/ferry_err.h"
#include "proto_codec.h"

/* A zero-initialised proto_str / proto_bytes ({NULL, 0}) is documented as empty ("len -1 means null"),
 * so it must go on the wire as an empty string / empty records, not as null: a null in a non-nullable
 * field is unreadable for Kafka clients, and null Fetch records break librdkafka and kafka-python. */
static void test_zero_initialised_values_are_empty_not_null(void **state)
{
    (void)state;
    struct DeleteTopicsResponse resp;
    proto_struct_init(&desc_DeleteTopicsResponse, &resp);
    struct DeleteTopicsResponse_DeletableTopicResult res;
    memset(&res, 0, sizeof res); /* Name = {NULL, 0}: not nullable before v6 */
    res.ErrorMessage = (proto_str){NULL, -1};
    resp.Responses = &res;
    resp.Responses_n = 1;
    resp.ThrottleTimeMs = 0;
    struct proto_writer w;
    proto_writer_init(&w);
    assert_int_equal(proto_encode(&proto_msg_DeleteTopicsResponse, 1, &w, &resp), 0);
    /* throttle(4) count(4) name: int16 0 (empty), error code */
    const uint8_t want[] = {0, 0, 0, 0, 0, 0, 0, 1, 0x00, 0x00, 0, 0};
    bool name_ok = w.len == sizeof want && memcmp(w.buf, want, sizeof want) == 0;
    int name_len = w.len >= 10 ? (int16_t)((w.buf[8] << 8) | w.buf[9]) : 0;
    proto_writer_free(&w);

    struct FetchResponse f;
    proto_struct_init(&desc_FetchResponse, &f);
    struct FetchResponse_FetchableTopicResponse topic;
    proto_struct_init(&desc_FetchResponse_FetchableTopicResponse, &topic);
    topic.Topic = proto_str_from("t");
    struct FetchResponse_PartitionData part;
    proto_struct_init(&desc_FetchResponse_PartitionData, &part);
    part.Records = (proto_bytes){NULL, 0}; /* "no data" */
    topic.Partitions = &part;
    topic.Partitions_n = 1;
    f.Responses = &topic;
    f.Responses_n = 1;
    proto_writer_init(&w);
    assert_int_equal(proto_encode(&proto_msg_FetchResponse, 4, &w, &f), 0);
    /* the last four bytes are the records size: 0, not -1 */
    int32_t records_len = w.len >= 4 ? (int32_t)proto_be32(w.buf + w.len - 4) : 99;
    proto_writer_free(&w);
    if (!name_ok)
        fail_msg("DeleteTopicsResponse v1: a {NULL, 0} topic name was written with length %d, want 0", name_len);
    if (records_len != 0)
        fail_msg("FetchResponse v4: {NULL, 0} records were written with size %d, want 0", records_len);
}

/* A classic (int16-length) string longer than 32767 bytes cannot be encoded: Kafka's serializer throws.
 * Writing a wrapped int16 length would make the frame unreadable. proto_encode must fail instead. */
static void test_classic_string_too_long_fails(void **state)
{
    (void)state;
    size_t n = 40000;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'x', n);
    struct CreateTopicsResponse resp;
    proto_struct_init(&desc_CreateTopicsResponse, &resp);
    struct CreateTopicsResponse_CreatableTopicResult t;
    proto_struct_init(&desc_CreateTopicsResponse_CreatableTopicResult, &t);
    t.Name = proto_str_from("t");
    t.ErrorMessage = (proto_str){big, (int32_t)n};
    resp.Topics = &t;
    resp.Topics_n = 1;
    struct proto_writer w;
    proto_writer_init(&w);
    int rc = proto_encode(&proto_msg_CreateTopicsResponse, 4, &w, &resp);
    if (rc == 0) {
        /* if it claims success, what it wrote must at least read back */
        struct proto_arena a;
        proto_arena_init(&a);
        struct CreateTopicsResponse back;
        struct proto_reader r;
        proto_reader_init(&r, w.buf, w.len);
        int drc = proto_decode(&proto_msg_CreateTopicsResponse, 4, &r, &a, &back);
        proto_arena_free(&a);
        proto_writer_free(&w);
        free(big);
        fail_msg("proto_encode wrote a %zu-byte classic string and returned 0; decoding that gives %d", n, drc);
    }
    /* the compact form (flexible versions) has no such limit */
    proto_writer_free(&w);
    proto_writer_init(&w);
    assert_int_equal(proto_encode(&proto_msg_CreateTopicsResponse, 5, &w, &resp), 0);
    proto_writer_free(&w);
    free(big);
}

/* Writing zero bytes first into a fresh writer (say, an empty records blob copied with proto_write_raw)
 * must be a no-op. Today proto_write_reserve computes w->buf + w->len with buf == NULL, which UBSan
 * reports as "applying zero offset to null pointer" and, built with -fno-sanitize-recover, aborts:
 * keep this test last so that the others report first. */
static void test_empty_write_into_fresh_writer(void **state)
{
    (void)state;
    struct proto_writer w;
    proto_writer_init(&w);
    proto_write_raw(&w, "", 0);
    assert_int_equal(w.err, 0);
    assert_int_equal(w.len, 0);
    proto_write_raw(&w, "ab", 2);
    assert_int_equal(w.len, 2);
    proto_writer_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero_initialised_values_are_empty_not_null),
        cmocka_unit_test(test_classic_string_too_long_fails),
        cmocka_unit_test(test_empty_write_into_fresh_writer), /* last: may abort under UBSan */
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
