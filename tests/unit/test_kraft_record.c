/* Unit tests for the metadata-log framing (ApiMessageAndVersion values, data and control batches,
 * snapshot-format files), the loader's transaction handling and the quorum-state file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker/common/ferry_err.h"
#include "kraftmode/metalog.h"
#include "kraftmode/metalog_loader.h"
#include "kraftmode/metalog_record.h"
#include "kraftmode/quorum_state.h"
#include "proto_codec.h"

static void test_value_framing(void **state)
{
    (void)state;
    struct TopicRecord t = {.Name = proto_str_from("foo")};
    t.TopicId.b[15] = 9;
    struct metalog_rec rec = {&proto_msg_TopicRecord, 0, &t};
    struct proto_writer w;
    proto_writer_init(&w);
    assert_int_equal(metalog_encode_value(&w, &rec), 0);
    /* frame 1, type 2, version 0, compact "foo", 16-byte uuid, empty tag buffer */
    const uint8_t want[] = {1, 2, 0, 4, 'f', 'o', 'o', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0};
    assert_int_equal(w.len, sizeof want);
    assert_memory_equal(w.buf, want, sizeof want);

    struct proto_arena a;
    proto_arena_init(&a);
    const struct proto_message *m;
    int16_t v;
    void *out;
    assert_int_equal(metalog_decode_value(want, sizeof want, &a, &m, &v, &out), 0);
    assert_ptr_equal(m, &proto_msg_TopicRecord);
    assert_true(proto_str_eq(((struct TopicRecord *)out)->Name, "foo"));

    uint8_t bad[sizeof want + 1];
    memcpy(bad, want, sizeof want);
    bad[0] = 0; /* frame version 0 (the 2.8 preview) */
    assert_int_equal(metalog_decode_value(bad, sizeof want, &a, &m, &v, &out), FERRY_EUNSUPPORTED);
    memcpy(bad, want, sizeof want);
    bad[sizeof want] = 0; /* a trailing byte */
    assert_int_equal(metalog_decode_value(bad, sizeof bad, &a, &m, &v, &out), FERRY_EPARSE);
    bad[1] = 99; /* unknown record type */
    assert_int_equal(metalog_decode_value(bad, sizeof want, &a, &m, &v, &out), FERRY_EUNSUPPORTED);
    bad[1] = 2;
    bad[2] = 5; /* version out of range */
    assert_int_equal(metalog_decode_value(bad, sizeof want, &a, &m, &v, &out), FERRY_EUNSUPPORTED);
    for (size_t cut = 0; cut < sizeof want; cut++)
        assert_int_not_equal(metalog_decode_value(want, cut, &a, &m, &v, &out), 0);
    /* A request is not a metadata record. */
    rec.m = &proto_msg_MetadataRequest;
    assert_int_equal(metalog_encode_value(&w, &rec), FERRY_EUNSUPPORTED);
    proto_arena_free(&a);
    proto_writer_free(&w);
}

static void test_batches(void **state)
{
    (void)state;
    struct FeatureLevelRecord f = {.Name = proto_str_from("metadata.version"), .FeatureLevel = 19};
    struct NoOpRecord noop = {0};
    struct metalog_rec recs[] = {{&proto_msg_FeatureLevelRecord, 0, &f}, {&proto_msg_NoOpRecord, 0, &noop}};
    struct proto_writer w;
    proto_writer_init(&w);
    assert_int_equal(metalog_build_batch(&w, 100, 7, 1234, recs, 2), 0);
    size_t data_len = w.len;
    struct LeaderChangeMessage_Voter v1 = {.VoterId = 1};
    struct LeaderChangeMessage lc = {.LeaderId = 1, .Voters = &v1, .Voters_n = 1, .GrantingVoters = &v1,
                                     .GrantingVoters_n = 1};
    assert_int_equal(metalog_build_control_batch(&w, 102, 7, 1234, METALOG_CTRL_LEADER_CHANGE,
                                                 &proto_msg_LeaderChangeMessage, &lc),
                     0);
    assert_int_equal(metalog_build_batch(&w, 0, 0, 0, recs, 0), FERRY_EINVAL);

    struct proto_arena a;
    proto_arena_init(&a);
    struct metalog_batch b;
    assert_int_equal(metalog_decode_batch(w.buf, data_len, &a, &b), 0);
    assert_false(b.control);
    assert_int_equal(b.h.partition_leader_epoch, 7);
    assert_int_equal(b.h.producer_id, -1);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.entries[1].offset, 101);
    assert_ptr_equal(b.entries[1].m, &proto_msg_NoOpRecord);

    /* The control batch: attributes bit 5, key = version 0 + type 2, value without a frame. */
    const uint8_t *cb = w.buf + data_len;
    size_t clen = w.len - data_len;
    assert_int_equal(metalog_decode_batch(cb, clen, &a, &b), 0);
    assert_true(b.control);
    assert_int_equal(b.h.attributes & RB_ATTR_CONTROL, RB_ATTR_CONTROL);
    assert_int_equal(b.control_type, METALOG_CTRL_LEADER_CHANGE);
    assert_int_equal(((struct LeaderChangeMessage *)b.control_data)->LeaderId, 1);
    assert_int_equal(b.n, 0);

    /* A flipped bit fails the CRC. */
    uint8_t *copy = malloc(data_len);
    memcpy(copy, w.buf, data_len);
    copy[data_len - 3] ^= 1;
    assert_int_equal(metalog_decode_batch(copy, data_len, &a, &b), FERRY_ECORRUPT);
    free(copy);
    proto_arena_free(&a);
    proto_writer_free(&w);
}

/* Hostile batches: every single-byte change (CRC fixed up so decoding goes past it) either decodes or
 * fails cleanly, also through the loader into an image. */
static void test_mutated_batches(void **state)
{
    (void)state;
    struct TopicRecord t = {.Name = proto_str_from("topic")};
    t.TopicId.b[3] = 1;
    int32_t reps[] = {1, 2};
    struct PartitionRecord p;
    proto_struct_init(proto_msg_PartitionRecord.body, &p);
    p.TopicId = t.TopicId;
    p.PartitionId = 0;
    p.Replicas = reps;
    p.Replicas_n = 2;
    p.Isr = reps;
    p.Isr_n = 2;
    p.Directories_n = 0;
    struct ConfigRecord c = {.ResourceType = 2, .ResourceName = proto_str_from("topic"), .Name = proto_str_from("k"),
                             .Value = proto_str_from("v")};
    struct metalog_rec recs[] = {{&proto_msg_TopicRecord, 0, &t}, {&proto_msg_PartitionRecord, 1, &p},
                                 {&proto_msg_ConfigRecord, 0, &c}};
    struct proto_writer w;
    proto_writer_init(&w);
    assert_int_equal(metalog_build_batch(&w, 0, 1, 0, recs, 3), 0);
    uint8_t *copy = malloc(w.len);
    static const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x40};
    for (size_t pos = 0; pos < w.len; pos++) {
        for (size_t v = 0; v < sizeof values; v++) {
            memcpy(copy, w.buf, w.len);
            copy[pos] = values[v];
            if (pos >= RB_CRC_START)
                proto_put_be32(copy + 17, rb_compute_crc(copy, w.len));
            struct proto_arena a;
            proto_arena_init(&a);
            struct metalog_batch b;
            (void)metalog_decode_batch(copy, w.len, &a, &b);
            proto_arena_free(&a);
            struct md_image img;
            md_image_init(&img);
            struct metalog_loader l;
            metalog_loader_init(&l, &img, NULL);
            (void)metalog_loader_batch(&l, copy, w.len);
            metalog_loader_free(&l);
            md_image_free(&img);
        }
    }
    free(copy);
    proto_writer_free(&w);
}

static char tmpdir[512];

static int make_tmp(void **state)
{
    (void)state;
    const char *base = getenv("FERRY_TEST_TMP");
    if (!base)
        base = "/tmp";
    mkdir(base, 0755);
    snprintf(tmpdir, sizeof tmpdir, "%s/kraft-record-XXXXXX", base);
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int remove_tmp(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

struct collect {
    int batches;
    int control;
};

static int count_batch(void *arg, const uint8_t *b, size_t len)
{
    struct collect *c = arg;
    struct proto_arena a;
    proto_arena_init(&a);
    struct metalog_batch mb;
    assert_int_equal(metalog_decode_batch(b, len, &a, &mb), 0);
    c->batches++;
    c->control += mb.control;
    proto_arena_free(&a);
    return 0;
}

static void test_snapshot_file(void **state)
{
    (void)state;
    char path[600];
    snprintf(path, sizeof path, "%s/bootstrap.checkpoint", tmpdir);
    struct FeatureLevelRecord f = {.Name = proto_str_from("metadata.version"), .FeatureLevel = 19};
    struct metalog_rec rec = {&proto_msg_FeatureLevelRecord, 0, &f};
    assert_int_equal(metalog_write_snapshot_file(path, &rec, 1, 1000), 0);
    struct collect c = {0};
    assert_int_equal(metalog_read_snapshot_file(path, count_batch, &c), 0);
    assert_int_equal(c.batches, 3);
    assert_int_equal(c.control, 2);

    /* Loaded through the loader: metadata.version is set. */
    struct md_image img;
    md_image_init(&img);
    struct metalog_loader l;
    metalog_loader_init(&l, &img, NULL);
    assert_int_equal(metalog_read_snapshot_file(path, metalog_loader_batch_cb, &l), 0);
    assert_int_equal(img.metadata_version, 19);
    metalog_loader_free(&l);
    md_image_free(&img);

    /* Truncated: no footer. */
    FILE *fp = fopen(path, "rb");
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    fp = fopen(path, "wb");
    fwrite(buf, 1, n - 10, fp);
    fclose(fp);
    c = (struct collect){0};
    assert_int_equal(metalog_read_snapshot_file(path, count_batch, &c), FERRY_ECORRUPT);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none.checkpoint", tmpdir);
    assert_int_equal(metalog_read_snapshot_file(missing, count_batch, &c), FERRY_ENOTFOUND);
}

/* Transactions: records between Begin and End apply together; Abort drops them. */
static void test_loader_transactions(void **state)
{
    (void)state;
    struct BeginTransactionRecord begin = {.Name = proto_str_from("t")};
    struct EndTransactionRecord end = {0};
    struct AbortTransactionRecord abort_rec = {.Reason = proto_str_from("Controller failover")};
    struct TopicRecord a1 = {.Name = proto_str_from("a1")}, a2 = {.Name = proto_str_from("a2")};
    a1.TopicId.b[0] = 1;
    a2.TopicId.b[0] = 2;
    struct metalog_rec first[] = {{&proto_msg_BeginTransactionRecord, 0, &begin}, {&proto_msg_TopicRecord, 0, &a1}};
    struct metalog_rec second[] = {{&proto_msg_EndTransactionRecord, 0, &end}};
    struct metalog_rec third[] = {{&proto_msg_BeginTransactionRecord, 0, &begin}, {&proto_msg_TopicRecord, 0, &a2}};
    struct metalog_rec fourth[] = {{&proto_msg_AbortTransactionRecord, 0, &abort_rec}};
    struct proto_writer w;
    proto_writer_init(&w);
    struct md_image img;
    md_image_init(&img);
    struct md_delta d;
    md_delta_init(&d);
    struct metalog_loader l;
    metalog_loader_init(&l, &img, &d);

    assert_int_equal(metalog_build_batch(&w, 0, 1, 0, first, 2), 0);
    assert_int_equal(metalog_loader_batch(&l, w.buf, w.len), 0);
    assert_true(l.in_txn);
    assert_null(md_image_topic(&img, "a1")); /* held back */
    w.len = 0;
    assert_int_equal(metalog_build_batch(&w, 2, 1, 0, second, 1), 0);
    assert_int_equal(metalog_loader_batch(&l, w.buf, w.len), 0);
    assert_false(l.in_txn);
    assert_non_null(md_image_topic(&img, "a1"));
    assert_int_equal(img.last_offset, 2);

    w.len = 0;
    assert_int_equal(metalog_build_batch(&w, 3, 1, 0, third, 2), 0);
    assert_int_equal(metalog_loader_batch(&l, w.buf, w.len), 0);
    w.len = 0;
    assert_int_equal(metalog_build_batch(&w, 5, 2, 0, fourth, 1), 0);
    assert_int_equal(metalog_loader_batch(&l, w.buf, w.len), 0);
    assert_false(l.in_txn);
    assert_null(md_image_topic(&img, "a2"));
    assert_int_equal(l.next_offset, 6);
    assert_int_equal(l.last_epoch, 2);
    assert_int_equal(d.ntopics, 1);

    metalog_loader_free(&l);
    md_delta_free(&d);
    md_image_free(&img);
    proto_writer_free(&w);
}

static void test_quorum_state(void **state)
{
    (void)state;
    struct quorum_state qs;
    quorum_state_init(&qs);
    assert_int_equal(quorum_state_read(tmpdir, &qs), FERRY_ENOTFOUND);
    assert_int_equal(qs.leader_epoch, 0);
    assert_int_equal(qs.leader_id, -1);
    qs.leader_id = 1;
    qs.leader_epoch = 7;
    qs.nvoters = 3;
    qs.voters[0] = 3;
    qs.voters[1] = 1;
    qs.voters[2] = 2;
    assert_int_equal(quorum_state_write(tmpdir, &qs), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/quorum-state", tmpdir);
    FILE *fp = fopen(path, "rb");
    char text[512] = "";
    size_t n = fread(text, 1, sizeof text - 1, fp);
    text[n] = '\0';
    fclose(fp);
    assert_string_equal(text, "{\"clusterId\":\"\",\"leaderId\":1,\"leaderEpoch\":7,\"votedId\":-1,\"appliedOffset\":0,"
                              "\"currentVoters\":[{\"voterId\":1},{\"voterId\":2},{\"voterId\":3}],\"data_version\":0}");
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s/quorum-state.tmp", tmpdir);
    assert_int_not_equal(access(tmp, F_OK), 0);
    struct quorum_state back;
    assert_int_equal(quorum_state_read(tmpdir, &back), 0);
    assert_int_equal(back.leader_epoch, 7);
    assert_int_equal(back.leader_id, 1);
    assert_int_equal(back.voted_id, -1);
    assert_int_equal(back.nvoters, 3);

    /* A file Kafka wrote (Jackson, same shape) reads back. */
    fp = fopen(path, "wb");
    fputs("{\"clusterId\":\"\",\"leaderId\":-1,\"leaderEpoch\":3,\"votedId\":2,\"appliedOffset\":0,"
          "\"currentVoters\":[{\"voterId\":2}],\"data_version\":0}",
          fp);
    fclose(fp);
    assert_int_equal(quorum_state_read(tmpdir, &back), 0);
    assert_int_equal(back.voted_id, 2);
    assert_int_equal(back.leader_id, -1);

    /* Unknown data_version: an error, the file stays. */
    fp = fopen(path, "wb");
    fputs("{\"leaderId\":1,\"leaderEpoch\":3,\"votedId\":-1,\"currentVoters\":[],\"data_version\":1}", fp);
    fclose(fp);
    assert_int_equal(quorum_state_read(tmpdir, &back), FERRY_EUNSUPPORTED);
    assert_int_equal(access(path, F_OK), 0);

    /* Unparseable: deleted, reads as absent. */
    const char *garbage[] = {"", "[1,2]", "{\"leaderEpoch\":\"x\",\"data_version\":0}", "{\"leaderId\":1}", "\xff\xfe"};
    for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++) {
        fp = fopen(path, "wb");
        fputs(garbage[i], fp);
        fclose(fp);
        assert_int_equal(quorum_state_read(tmpdir, &back), FERRY_ENOTFOUND);
        assert_int_not_equal(access(path, F_OK), 0);
        assert_int_equal(back.leader_epoch, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_framing),
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_mutated_batches),
        cmocka_unit_test_setup_teardown(test_snapshot_file, make_tmp, remove_tmp),
        cmocka_unit_test(test_loader_transactions),
        cmocka_unit_test_setup_teardown(test_quorum_state, make_tmp, remove_tmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
