/* __consumer_offsets records: byte-exact encodings of Kafka 3.7's OffsetCommitKey v1, OffsetCommitValue v3
 * and v1, GroupMetadataKey v2 and GroupMetadataValue v3 (laid out by hand from the group-coordinator
 * JSON schemas), decode round trips, tombstones, and garbage rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "broker/common/ferry_err.h"
#include "broker/group/group_records.h"

static proto_bytes B(const struct proto_writer *w)
{
    proto_bytes b = {w->buf, (int32_t)w->len};
    return b;
}

static void test_offset_commit(void **state)
{
    struct proto_writer k, v;
    proto_writer_init(&k);
    proto_writer_init(&v);
    assert_int_equal(group_rec_offset_key(&k, "g", "t", 7), 0);
    static const uint8_t want_key[] = {0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 7};
    assert_int_equal(k.len, sizeof want_key);
    assert_memory_equal(k.buf, want_key, sizeof want_key);
    struct group_offset_value ov = {.offset = 0x0102030405LL, .leader_epoch = 3, .metadata = "m",
                                    .commit_timestamp = 1700000000000LL, .expire_timestamp = -1};
    assert_int_equal(group_rec_offset_value(&v, &ov), 0);
    static const uint8_t want_val[] = {0, 3, 0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0, 3, 0, 1, 'm',
                                       0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00};
    assert_int_equal(v.len, sizeof want_val);
    assert_memory_equal(v.buf, want_val, sizeof want_val);
    struct proto_arena a;
    proto_arena_init(&a);
    struct group_rec r;
    assert_int_equal(group_rec_decode(B(&k), B(&v), &a, &r), 0);
    assert_int_equal(r.kind, GROUP_REC_OFFSET);
    assert_true(proto_str_eq(r.group, "g"));
    assert_true(proto_str_eq(r.topic, "t"));
    assert_int_equal(r.partition, 7);
    assert_false(r.value_null);
    assert_int_equal(r.offset.offset, 0x0102030405LL);
    assert_int_equal(r.offset.leader_epoch, 3);
    assert_string_equal(r.offset.metadata, "m");
    assert_int_equal(r.offset.commit_timestamp, 1700000000000LL);
    assert_int_equal(r.offset.expire_timestamp, -1);
    /* v1 (an expire timestamp): no leader epoch, expireTimestamp after commitTimestamp */
    proto_writer_free(&v);
    proto_writer_init(&v);
    ov.expire_timestamp = 1800000000000LL;
    assert_int_equal(group_rec_offset_value(&v, &ov), 0);
    assert_int_equal(v.len, 2 + 8 + 3 + 8 + 8);
    assert_int_equal(v.buf[1], 1);
    assert_int_equal(group_rec_decode(B(&k), B(&v), &a, &r), 0);
    assert_int_equal(r.offset.leader_epoch, -1);
    assert_int_equal(r.offset.expire_timestamp, 1800000000000LL);
    /* tombstone */
    proto_bytes null = {NULL, -1};
    assert_int_equal(group_rec_decode(B(&k), null, &a, &r), 0);
    assert_true(r.value_null);
    /* garbage: truncated value, trailing bytes, unknown key version */
    proto_bytes cut = {v.buf, (int32_t)v.len - 1};
    assert_int_equal(group_rec_decode(B(&k), cut, &a, &r), FERRY_EPARSE);
    uint8_t longer[64];
    memcpy(longer, k.buf, k.len);
    longer[k.len] = 9;
    proto_bytes trail = {longer, (int32_t)k.len + 1};
    assert_int_equal(group_rec_decode(trail, B(&v), &a, &r), FERRY_EPARSE);
    static const uint8_t bad_version[] = {0, 9, 0, 1, 'g'};
    proto_bytes bv = {bad_version, sizeof bad_version};
    assert_int_equal(group_rec_decode(bv, B(&v), &a, &r), FERRY_EPARSE);
    proto_bytes tiny = {bad_version, 1};
    assert_int_equal(group_rec_decode(tiny, B(&v), &a, &r), FERRY_EPARSE);
    proto_arena_free(&a);
    proto_writer_free(&k);
    proto_writer_free(&v);
}

static void test_group_metadata(void **state)
{
    struct proto_writer k, v;
    proto_writer_init(&k);
    proto_writer_init(&v);
    assert_int_equal(group_rec_group_key(&k, "grp"), 0);
    static const uint8_t want_key[] = {0, 2, 0, 3, 'g', 'r', 'p'};
    assert_int_equal(k.len, sizeof want_key);
    assert_memory_equal(k.buf, want_key, sizeof want_key);
    static const uint8_t sub[] = {0, 1}, asg[] = {9};
    struct group_meta_member mm = {.member_id = "m", .instance_id = NULL, .client_id = "c", .client_host = "/h",
                                   .rebalance_timeout_ms = 300000, .session_timeout_ms = 45000,
                                   .subscription = sub, .subscription_len = 2, .assignment = asg,
                                   .assignment_len = 1};
    struct group_meta gm = {.protocol_type = "consumer", .generation = 5, .protocol = "range", .leader = "m",
                            .state_timestamp = 1000, .members = &mm, .members_n = 1};
    assert_int_equal(group_rec_group_value(&v, &gm), 0);
    static const uint8_t want_val[] = {
        0, 3,                                              /* version */
        0, 8, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',      /* protocolType */
        0, 0, 0, 5,                                        /* generation */
        0, 5, 'r', 'a', 'n', 'g', 'e',                     /* protocol */
        0, 1, 'm',                                         /* leader */
        0, 0, 0, 0, 0, 0, 0x03, 0xe8,                      /* currentStateTimestamp */
        0, 0, 0, 1,                                        /* members */
        0, 1, 'm', 0xff, 0xff, 0, 1, 'c', 0, 2, '/', 'h',  /* memberId, groupInstanceId null, clientId, clientHost */
        0, 0x04, 0x93, 0xe0, 0, 0, 0xaf, 0xc8,             /* rebalanceTimeout, sessionTimeout */
        0, 0, 0, 2, 0, 1, 0, 0, 0, 1, 9,                   /* subscription, assignment */
    };
    assert_int_equal(v.len, sizeof want_val);
    assert_memory_equal(v.buf, want_val, sizeof want_val);
    struct proto_arena a;
    proto_arena_init(&a);
    struct group_rec r;
    assert_int_equal(group_rec_decode(B(&k), B(&v), &a, &r), 0);
    assert_int_equal(r.kind, GROUP_REC_GROUP);
    assert_true(proto_str_eq(r.group, "grp"));
    assert_true(proto_str_eq(r.protocol_type, "consumer"));
    assert_int_equal(r.generation, 5);
    assert_true(proto_str_eq(r.protocol, "range"));
    assert_int_equal(r.state_timestamp, 1000);
    assert_int_equal(r.members_n, 1);
    /* an empty group: null protocol and leader, no members */
    proto_writer_free(&v);
    proto_writer_init(&v);
    struct group_meta empty = {.protocol_type = "", .generation = 6, .state_timestamp = 2000};
    assert_int_equal(group_rec_group_value(&v, &empty), 0);
    assert_int_equal(group_rec_decode(B(&k), B(&v), &a, &r), 0);
    assert_int_equal(r.protocol.len, -1);
    assert_int_equal(r.members_n, 0);
    proto_arena_free(&a);
    proto_writer_free(&k);
    proto_writer_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offset_commit),
        cmocka_unit_test(test_group_metadata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
