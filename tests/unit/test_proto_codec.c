/* Unit tests for the generic codec: round trips, flexible encoding, tagged fields, hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "broker/common/ferry_err.h"
#include "proto_codec.h"

/* ApiVersions v3 request as librdkafka sends it (body only). */
static void test_api_versions_v3_request(void **state)
{
    (void)state;
    const uint8_t body[] = {0x0b, 'l', 'i', 'b', 'r', 'd', 'k', 'a', 'f', 'k', 'a', 0x06, '2', '.', '0', '.', '2', 0x00};
    struct proto_reader r;
    proto_reader_init(&r, body, sizeof body);
    struct proto_arena a;
    proto_arena_init(&a);
    struct ApiVersionsRequest req;
    assert_int_equal(proto_decode(&proto_msg_ApiVersionsRequest, 3, &r, &a, &req), 0);
    assert_true(proto_str_eq(req.ClientSoftwareName, "librdkafka"));
    assert_true(proto_str_eq(req.ClientSoftwareVersion, "2.0.2"));
    assert_int_equal(proto_reader_left(&r), 0);
    struct proto_writer w;
    proto_writer_init(&w);
    assert_int_equal(proto_encode(&proto_msg_ApiVersionsRequest, 3, &w, &req), 0);
    assert_int_equal(w.len, sizeof body);
    assert_memory_equal(w.buf, body, sizeof body);
    proto_writer_free(&w);
    proto_arena_free(&a);
}

/* Metadata v1 request with topics ["t"]; then a truncated copy must fail cleanly. */
static void test_metadata_v1_roundtrip_and_truncation(void **state)
{
    (void)state;
    const uint8_t body[] = {0, 0, 0, 1, 0, 1, 't'};
    struct proto_arena a;
    proto_arena_init(&a);
    for (size_t cut = 0; cut <= sizeof body; cut++) {
        struct proto_reader r;
        proto_reader_init(&r, body, cut);
        struct MetadataRequest req;
        int rc = proto_decode(&proto_msg_MetadataRequest, 1, &r, &a, &req);
        if (cut < sizeof body) {
            assert_int_equal(rc, FERRY_EPARSE);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(req.Topics_n, 1);
            assert_true(proto_str_eq(req.Topics[0].Name, "t"));
            assert_true(req.AllowAutoTopicCreation); /* default for v < 4 */
        }
    }
    proto_arena_free(&a);
}

/* A huge array count with no bytes behind it is rejected before allocating. */
static void test_array_count_bounded(void **state)
{
    (void)state;
    const uint8_t body[] = {0x7f, 0xff, 0xff, 0xff};
    struct proto_reader r;
    proto_reader_init(&r, body, sizeof body);
    struct proto_arena a;
    proto_arena_init(&a);
    struct MetadataRequest req;
    assert_int_equal(proto_decode(&proto_msg_MetadataRequest, 1, &r, &a, &req), FERRY_EPARSE);
    proto_arena_free(&a);
}

/* Tagged fields: written only when non-default, read back; unknown tags skipped. */
static void test_tagged_fields(void **state)
{
    (void)state;
    struct proto_arena a;
    proto_arena_init(&a);
    struct PartitionChangeRecord rec;
    proto_struct_init(&desc_PartitionChangeRecord, &rec);
    assert_int_equal(rec.Leader, -2);
    struct proto_writer w;
    proto_writer_init(&w);
    assert_int_equal(proto_encode(&proto_msg_PartitionChangeRecord, 0, &w, &rec), 0);
    /* PartitionId(4) + TopicId(16) + empty tag buffer(1) */
    assert_int_equal(w.len, 21);
    rec.Leader = 3;
    w.len = 0;
    assert_int_equal(proto_encode(&proto_msg_PartitionChangeRecord, 0, &w, &rec), 0);
    assert_int_equal(w.len, 21 + 1 + 1 + 4);
    assert_int_equal(w.buf[20], 1); /* one tagged field */
    assert_int_equal(w.buf[21], 1); /* tag 1 = Leader */
    struct proto_reader r;
    proto_reader_init(&r, w.buf, w.len);
    struct PartitionChangeRecord back;
    assert_int_equal(proto_decode(&proto_msg_PartitionChangeRecord, 0, &r, &a, &back), 0);
    assert_int_equal(back.Leader, 3);
    assert_int_equal(back.Isr_n, -1);
    /* an unknown tag 40 with 2 bytes of payload is skipped */
    uint8_t unknown[21 + 5];
    memcpy(unknown, w.buf, 20);
    const uint8_t tags[] = {1, 40, 2, 0xaa, 0xbb};
    memcpy(unknown + 20, tags, sizeof tags);
    proto_reader_init(&r, unknown, 25);
    assert_int_equal(proto_decode(&proto_msg_PartitionChangeRecord, 0, &r, &a, &back), 0);
    assert_int_equal(back.Leader, -2);
    proto_writer_free(&w);
    proto_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_versions_v3_request),
        cmocka_unit_test(test_metadata_v1_roundtrip_and_truncation),
        cmocka_unit_test(test_array_count_bounded),
        cmocka_unit_test(test_tagged_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
