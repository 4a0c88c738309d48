/* Unit tests of raft_wire (kraftmode/raft_wire.h), the codec between the Raft core's messages and Kafka's
 * Raft RPCs.
 *
 * Round trips against golden/raft_wire_vectors.inc (scripts/golden_kraft.py: the RPCs as Kafka 3.7's raft
 * client shapes them, from an encoder independent of Ferry's): every message type encodes from its
 * raft_msg to exactly the vector's bytes, the bytes decode back to the same raft_msg, and that re-encodes
 * to the same bytes. Error cases: a wrong cluster id and a wrong topic or partition are refused with the
 * response Kafka sends (also golden), responses of another shape and bad records are rejected, a partial
 * batch at the end of the records is left out; DescribeQuorum's answers; version negotiation; every vector
 * with single bytes changed goes through the codec without a fault. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "api_support.h"
#include "kraftmode/raft_wire.h"
#include "proto_codec.h"
#include "record_batch.h"

#include "golden/golden.h"

struct wire_vector {
    const char *name;
    int16_t version;
    const uint8_t *bytes;
    size_t len;
};
#include "golden/raft_wire_vectors.inc"

/* kraft_vectors.inc: multi-partition and foreign-topic forms of the same RPCs, for the refusals. */
enum { KRAFT_DATA = 2 };
struct kraft_vector {
    struct golden_vector gv;
    const struct proto_message *msg;
};
struct kraft_range {
    const char *name;
    int16_t api_key;
    int16_t min_version, max_version, flexible_min;
    const struct proto_message *msg;
};
#include "golden/kraft_vectors.inc"
#include "golden/zkrpc_vectors.inc"

#define CLUSTER "kraft-cluster-7"
#define TS INT64_C(1700000000000)
#define EQ(a, b) assert_int_equal((a), (b))

static const struct wire_vector *wv(const char *name)
{
    for (size_t i = 0; i < WIRE_VECTOR_COUNT; i++)
        if (strcmp(wire_vectors[i].name, name) == 0)
            return &wire_vectors[i];
    fail_msg("no wire vector %s", name);
    return NULL;
}

static const struct golden_vector *kv(const char *name)
{
    for (size_t i = 0; i < KRAFT_VECTOR_COUNT; i++)
        if (strcmp(kraft_vectors[i].gv.name, name) == 0)
            return &kraft_vectors[i].gv;
    fail_msg("no kraft vector %s", name);
    return NULL;
}

static void *decode(const struct proto_message *m, int16_t version, const uint8_t *p, size_t len,
                    struct proto_arena *a)
{
    void *body = proto_arena_alloc(a, m->body->size);
    assert_non_null(body);
    struct proto_reader r;
    proto_reader_init(&r, p, len);
    EQ(proto_decode(m, version, &r, a, body), 0);
    EQ(proto_reader_left(&r), 0);
    return body;
}

static void expect_bytes(const char *what, const struct proto_writer *w, const uint8_t *want, size_t want_len)
{
    size_t n = w->len < want_len ? w->len : want_len, i = 0;
    while (i < n && w->buf[i] == want[i])
        i++;
    if (w->len != want_len || i < n)
        fail_msg("%s: %zu bytes, want %zu; first difference at %zu", what, w->len, want_len, i);
}

/* Encodes a response or refusal struct of message m and compares it with a vector. */
static void expect_struct(const struct proto_message *m, const void *body, const struct wire_vector *v)
{
    struct proto_writer w;
    proto_writer_init(&w);
    EQ(proto_encode(m, v->version, &w, body), 0);
    expect_bytes(v->name, &w, v->bytes, v->len);
    proto_writer_free(&w);
}

/* ---- the expected messages ---- */

struct wire_case {
    const char *vector;
    struct raft_msg msg;
    const uint8_t *payload; /* FETCH_RESP records, FETCH_SNAPSHOT_RESP chunk */
    size_t payload_len;
};

/* The records' one batch: offsets 4998-4999 in epoch 14. */
static const struct raft_batch records_batch = {4998, 2, 14, false, wv_raft_batch, sizeof wv_raft_batch};

/* A request from `from` to `to`; a response from `from` to `to` naming leader l in epoch e, error err. */
#define REQ(t, e, from_, to_, l) .type = (t), .from = (from_), .to = (to_), .corr = 77, .epoch = (e), .leader_id = (l)
#define RESP(t, e, l, err, from_, to_)                                                                       \
    .type = (t), .from = (from_), .to = (to_), .corr = 77, .epoch = (e), .leader_id = (l), .error = (err)
#define FOLLOWER_REQ(t, e) REQ(t, e, 3002, 3001, RAFT_NO_ID)
#define LEADER_RESP(t, err) RESP(t, 14, 3001, err, 3001, 3002)
#define FETCH_RESP_FIELDS(hw_, div_e, div_o, snap_o, snap_e)                                                  \
    .u.fetch_resp = {.high_watermark = (hw_), .log_start_offset = 100, .diverging_epoch = (div_e),            \
                     .diverging_end_offset = (div_o), .snapshot = {(snap_o), (snap_e)}, .records_from = -1,  \
                     .records_to = -1}

static const struct wire_case cases[] = {
    {"VoteRequest_v0", {FOLLOWER_REQ(RAFT_MSG_VOTE, 12), .u.vote = {11, 98765, false}}, NULL, 0},
    {"VoteResponse_v0", {RESP(RAFT_MSG_VOTE_RESP, 12, RAFT_NO_ID, 0, 3001, 3002), .u.vote_resp = {true, false}}, NULL,
     0},
    /* a pre-vote for epoch 12 travels as Kafka 4.0's: ReplicaEpoch 11 (the sender's epoch), PreVote */
    {"VoteRequest_v2_pre_vote", {FOLLOWER_REQ(RAFT_MSG_VOTE, 12), .u.vote = {11, 98765, true}}, NULL, 0},
    {"VoteResponse_v2", {RESP(RAFT_MSG_VOTE_RESP, 12, RAFT_NO_ID, 0, 3001, 3002), .u.vote_resp = {true, false}}, NULL,
     0},
    {"BeginQuorumEpochRequest_v0", {REQ(RAFT_MSG_BEGIN_EPOCH, 14, 3001, 3002, 3001)}, NULL, 0},
    {"BeginQuorumEpochResponse_v0", {RESP(RAFT_MSG_BEGIN_EPOCH_RESP, 14, 3001, 0, 3002, 3001)}, NULL, 0},
    {"EndQuorumEpochRequest_v0",
     {REQ(RAFT_MSG_END_EPOCH, 14, 3001, 3002, 3001), .u.end_epoch = {.preferred = {3003, 3002}, .npreferred = 2}},
     NULL, 0},
    {"EndQuorumEpochResponse_v0", {RESP(RAFT_MSG_END_EPOCH_RESP, 15, 3003, 6, 3002, 3001)}, NULL, 0},
    {"FetchRequest_v13", {FOLLOWER_REQ(RAFT_MSG_FETCH, 14), .u.fetch = {5000, 13, 500}}, NULL, 0},
    {"FetchRequest_v14", {FOLLOWER_REQ(RAFT_MSG_FETCH, 14), .u.fetch = {5000, 13, 500}}, NULL, 0},
    {"FetchRequest_v15", {FOLLOWER_REQ(RAFT_MSG_FETCH, 14), .u.fetch = {5000, 13, 500}}, NULL, 0},
    {"FetchRequest_v16", {FOLLOWER_REQ(RAFT_MSG_FETCH, 14), .u.fetch = {5000, 13, 500}}, NULL, 0},
    {"FetchResponse_v13", {LEADER_RESP(RAFT_MSG_FETCH_RESP, 0), FETCH_RESP_FIELDS(5000, -1, -1, -1, -1)},
     wv_raft_batch, sizeof wv_raft_batch},
    {"FetchResponse_v14", {LEADER_RESP(RAFT_MSG_FETCH_RESP, 0), FETCH_RESP_FIELDS(5000, -1, -1, -1, -1)},
     wv_raft_batch, sizeof wv_raft_batch},
    {"FetchResponse_v15", {LEADER_RESP(RAFT_MSG_FETCH_RESP, 0), FETCH_RESP_FIELDS(5000, -1, -1, -1, -1)},
     wv_raft_batch, sizeof wv_raft_batch},
    {"FetchResponse_v16", {LEADER_RESP(RAFT_MSG_FETCH_RESP, 0), FETCH_RESP_FIELDS(5000, -1, -1, -1, -1)},
     wv_raft_batch, sizeof wv_raft_batch},
    {"FetchResponse_v16_diverging", {LEADER_RESP(RAFT_MSG_FETCH_RESP, 0), FETCH_RESP_FIELDS(5000, 12, 4500, -1, -1)},
     NULL, 0},
    {"FetchResponse_v16_snapshot", {LEADER_RESP(RAFT_MSG_FETCH_RESP, 0), FETCH_RESP_FIELDS(5000, -1, -1, 4000, 13)},
     NULL, 0},
    {"FetchResponse_v16_not_leader", {LEADER_RESP(RAFT_MSG_FETCH_RESP, 6), FETCH_RESP_FIELDS(5000, -1, -1, -1, -1)},
     NULL, 0},
    {"FetchSnapshotRequest_v0",
     {FOLLOWER_REQ(RAFT_MSG_FETCH_SNAPSHOT, 14), .u.fetch_snapshot = {{4000, 13}, 8192, 1048576}}, NULL, 0},
    {"FetchSnapshotResponse_v0",
     {LEADER_RESP(RAFT_MSG_FETCH_SNAPSHOT_RESP, 0),
      .u.fetch_snapshot_resp = {.snapshot = {4000, 13}, .size = 20480, .position = 8192}},
     wv_snapshot_chunk, sizeof wv_snapshot_chunk},
};

static const struct wire_case *case_named(const char *vector)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strcmp(cases[i].vector, vector) == 0)
            return &cases[i];
    fail_msg("no case %s", vector);
    return NULL;
}

static bool is_request(enum raft_msg_type t)
{
    return t % 2 == 0;
}

/* The fields of a and b that carry meaning for their type are equal. */
static void msg_eq(const struct raft_msg *a, const struct raft_msg *b)
{
    EQ(a->type, b->type);
    EQ(a->from, b->from);
    EQ(a->to, b->to);
    EQ(a->corr, b->corr);
    EQ(a->epoch, b->epoch);
    EQ(a->leader_id, b->leader_id);
    EQ(a->error, b->error);
    switch (a->type) {
    case RAFT_MSG_VOTE:
        EQ(a->u.vote.last_epoch, b->u.vote.last_epoch);
        EQ(a->u.vote.last_offset, b->u.vote.last_offset);
        EQ(a->u.vote.pre_vote, b->u.vote.pre_vote);
        break;
    case RAFT_MSG_VOTE_RESP:
        EQ(a->u.vote_resp.granted, b->u.vote_resp.granted);
        EQ(a->u.vote_resp.pre_vote, b->u.vote_resp.pre_vote);
        break;
    case RAFT_MSG_END_EPOCH:
        EQ(a->u.end_epoch.npreferred, b->u.end_epoch.npreferred);
        for (size_t i = 0; i < a->u.end_epoch.npreferred; i++)
            EQ(a->u.end_epoch.preferred[i], b->u.end_epoch.preferred[i]);
        break;
    case RAFT_MSG_FETCH:
        EQ(a->u.fetch.fetch_offset, b->u.fetch.fetch_offset);
        EQ(a->u.fetch.last_fetched_epoch, b->u.fetch.last_fetched_epoch);
        EQ(a->u.fetch.max_wait_ms, b->u.fetch.max_wait_ms);
        break;
    case RAFT_MSG_FETCH_RESP:
        EQ(a->u.fetch_resp.high_watermark, b->u.fetch_resp.high_watermark);
        EQ(a->u.fetch_resp.log_start_offset, b->u.fetch_resp.log_start_offset);
        EQ(a->u.fetch_resp.diverging_epoch, b->u.fetch_resp.diverging_epoch);
        EQ(a->u.fetch_resp.diverging_end_offset, b->u.fetch_resp.diverging_end_offset);
        EQ(a->u.fetch_resp.snapshot.end_offset, b->u.fetch_resp.snapshot.end_offset);
        EQ(a->u.fetch_resp.snapshot.epoch, b->u.fetch_resp.snapshot.epoch);
        break;
    case RAFT_MSG_FETCH_SNAPSHOT:
        EQ(a->u.fetch_snapshot.snapshot.end_offset, b->u.fetch_snapshot.snapshot.end_offset);
        EQ(a->u.fetch_snapshot.snapshot.epoch, b->u.fetch_snapshot.snapshot.epoch);
        EQ(a->u.fetch_snapshot.position, b->u.fetch_snapshot.position);
        EQ(a->u.fetch_snapshot.max_bytes, b->u.fetch_snapshot.max_bytes);
        break;
    case RAFT_MSG_FETCH_SNAPSHOT_RESP:
        EQ(a->u.fetch_snapshot_resp.snapshot.end_offset, b->u.fetch_snapshot_resp.snapshot.end_offset);
        EQ(a->u.fetch_snapshot_resp.snapshot.epoch, b->u.fetch_snapshot_resp.snapshot.epoch);
        EQ(a->u.fetch_snapshot_resp.size, b->u.fetch_snapshot_resp.size);
        EQ(a->u.fetch_snapshot_resp.position, b->u.fetch_snapshot_resp.position);
        break;
    default: break;
    }
}

/* Decodes the vector's bytes as the peer of case c's message would, into *out (arena a). */
static void decode_case(const struct wire_case *c, const struct wire_vector *v, struct proto_arena *a,
                        struct raft_msg *out)
{
    const struct proto_message *m = raft_wire_message(c->msg.type);
    void *body = decode(m, v->version, v->bytes, v->len, a);
    struct raft_wire_peer peer = {.cluster_id = CLUSTER, .self = c->msg.to, .peer = c->msg.from, .corr = 77};
    if (is_request(c->msg.type)) {
        void *refusal = (void *)1;
        EQ(raft_wire_request(c->msg.type, v->version, body, &peer, a, out, &refusal), 0);
        assert_null(refusal);
    } else {
        EQ(raft_wire_response(c->msg.type, v->version, body, &peer, a, out), 0);
    }
}

static void test_round_trip(void **state)
{
    const struct wire_case *c = *state;
    const struct wire_vector *v = wv(c->vector);
    struct proto_writer w;
    proto_writer_init(&w);
    EQ(raft_wire_encode(&c->msg, v->version, CLUSTER, c->payload, c->payload_len, &w), 0);
    expect_bytes(v->name, &w, v->bytes, v->len);
    proto_writer_free(&w);

    struct proto_arena a;
    proto_arena_init(&a);
    struct raft_msg got;
    decode_case(c, v, &a, &got);
    msg_eq(&got, &c->msg);
    const void *payload = NULL;
    size_t payload_len = 0;
    if (c->msg.type == RAFT_MSG_FETCH_RESP) {
        if (c->payload) {
            EQ(got.u.fetch_resp.nbatches, 1);
            const struct raft_batch *b = &got.u.fetch_resp.batches[0];
            EQ(b->base_offset, records_batch.base_offset);
            EQ(b->count, records_batch.count);
            EQ(b->epoch, records_batch.epoch);
            EQ(b->len, records_batch.len);
            assert_memory_equal(b->data, records_batch.data, b->len);
            payload = b->data;
            payload_len = b->len;
        } else {
            EQ(got.u.fetch_resp.nbatches, 0);
        }
    } else if (c->msg.type == RAFT_MSG_FETCH_SNAPSHOT_RESP) {
        EQ(got.u.fetch_snapshot_resp.len, c->payload_len);
        assert_memory_equal(got.u.fetch_snapshot_resp.data, c->payload, c->payload_len);
        payload = got.u.fetch_snapshot_resp.data;
        payload_len = got.u.fetch_snapshot_resp.len;
    }
    /* what was decoded encodes to the same bytes (the I/O layer would hand the payload back) */
    proto_writer_init(&w);
    EQ(raft_wire_encode(&got, v->version, CLUSTER, payload, payload_len, &w), 0);
    expect_bytes(v->name, &w, v->bytes, v->len);
    proto_writer_free(&w);
    proto_arena_free(&a);
}

/* Every allocation of a build failing in turn gives FERRY_ENOMEM and leaks nothing. */
static void test_build_allocation_failures(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct wire_case *c = &cases[i];
        const struct wire_vector *v = wv(c->vector);
        int rc;
        long n = 0;
        do {
            struct proto_writer w;
            proto_writer_init(&w);
            ferry_alloc_fail_after(n);
            rc = raft_wire_encode(&c->msg, v->version, CLUSTER, c->payload, c->payload_len, &w);
            ferry_alloc_fail_after(-1);
            proto_writer_free(&w);
            if (rc)
                EQ(rc, FERRY_ENOMEM);
            assert_true(++n < 100);
        } while (rc);
    }
}

/* ---- refusals: what the I/O layer answers itself ---- */

/* Decodes a request body, expects raft_wire_request to refuse it, and compares the refusal with vector
 * `want` (at want's version). */
static void expect_refusal(enum raft_msg_type type, int16_t version, const void *req, const char *cluster,
                           const char *want)
{
    struct proto_arena a;
    proto_arena_init(&a);
    struct raft_wire_peer peer = {.cluster_id = cluster, .self = 3001};
    struct raft_msg msg;
    void *refusal = NULL;
    EQ(raft_wire_request(type, version, req, &peer, &a, &msg, &refusal), RAFT_WIRE_REFUSED);
    assert_non_null(refusal);
    expect_struct(raft_wire_message(type + 1), refusal, wv(want));
    proto_arena_free(&a);
}

static void test_wrong_cluster_id_is_refused(void **state)
{
    (void)state;
    struct proto_arena a;
    proto_arena_init(&a);
    const struct wire_vector *v = wv("VoteRequest_v0");
    expect_refusal(RAFT_MSG_VOTE, 0, decode(&proto_msg_VoteRequest, 0, v->bytes, v->len, &a), "other-cluster",
                   "VoteResponse_v0_inconsistent_cluster");
    v = wv("EndQuorumEpochRequest_v0");
    expect_refusal(RAFT_MSG_END_EPOCH, 0, decode(&proto_msg_EndQuorumEpochRequest, 0, v->bytes, v->len, &a),
                   "other-cluster", "EndQuorumEpochResponse_v0_inconsistent_cluster");
    /* Fetch and FetchSnapshot carry it tagged; the refusal is the same top-level error */
    v = wv("FetchRequest_v16");
    struct raft_wire_peer peer = {.cluster_id = "other-cluster", .self = 3001};
    struct raft_msg msg;
    void *refusal;
    EQ(raft_wire_request(RAFT_MSG_FETCH, 16, decode(&proto_msg_FetchRequest, 16, v->bytes, v->len, &a), &peer, &a,
                         &msg, &refusal),
       RAFT_WIRE_REFUSED);
    EQ(((struct FetchResponse *)refusal)->ErrorCode, KERR_INCONSISTENT_CLUSTER_ID);
    EQ(((struct FetchResponse *)refusal)->Responses_n, 0);
    v = wv("FetchSnapshotRequest_v0");
    EQ(raft_wire_request(RAFT_MSG_FETCH_SNAPSHOT, 0, decode(&proto_msg_FetchSnapshotRequest, 0, v->bytes, v->len, &a),
                         &peer, &a, &msg, &refusal),
       RAFT_WIRE_REFUSED);
    EQ(((struct FetchSnapshotResponse *)refusal)->ErrorCode, KERR_INCONSISTENT_CLUSTER_ID);
    /* a null cluster id is accepted (Kafka 3.7 does, for older peers) */
    struct VoteRequest *vote = decode(&proto_msg_VoteRequest, 0, wv("VoteRequest_v0")->bytes,
                                      wv("VoteRequest_v0")->len, &a);
    vote->ClusterId = proto_str_from(NULL);
    EQ(raft_wire_request(RAFT_MSG_VOTE, 0, vote, &peer, &a, &msg, &refusal), 0);
    EQ(msg.from, 3002);
    proto_arena_free(&a);
}

static void test_wrong_topic_or_partition_is_refused(void **state)
{
    (void)state;
    struct proto_arena a;
    proto_arena_init(&a);
    /* kraft_vectors.inc's forms carry two partitions (Begin/EndQuorumEpoch, Vote) or two topics (Fetch) */
    const struct golden_vector *g = kv("BeginQuorumEpochRequest_v0");
    expect_refusal(RAFT_MSG_BEGIN_EPOCH, 0,
                   decode(&proto_msg_BeginQuorumEpochRequest, 0, g->bytes + g->header_len, g->len - g->header_len, &a),
                   CLUSTER, "BeginQuorumEpochResponse_v0_invalid_request");
    g = kv("FetchRequest_v16_raft");
    expect_refusal(RAFT_MSG_FETCH, 16,
                   decode(&proto_msg_FetchRequest, 16, g->bytes + g->header_len, g->len - g->header_len, &a), CLUSTER,
                   "FetchResponse_v16_invalid_request");
    /* a Fetch for another topic id, or partition 1 */
    const struct wire_vector *v = wv("FetchRequest_v16");
    struct FetchRequest *f = decode(&proto_msg_FetchRequest, 16, v->bytes, v->len, &a);
    f->Topics[0].TopicId.b[15] = 2;
    expect_refusal(RAFT_MSG_FETCH, 16, f, CLUSTER, "FetchResponse_v16_invalid_request");
    f->Topics[0].TopicId.b[15] = 1;
    f->Topics[0].Partitions[0].Partition = 1;
    expect_refusal(RAFT_MSG_FETCH, 16, f, CLUSTER, "FetchResponse_v16_invalid_request");
    /* Vote for another topic name */
    v = wv("VoteRequest_v0");
    struct VoteRequest *vote = decode(&proto_msg_VoteRequest, 0, v->bytes, v->len, &a);
    vote->Topics[0].TopicName = proto_str_from("orders");
    struct raft_wire_peer peer = {.cluster_id = CLUSTER, .self = 3001};
    struct raft_msg msg;
    void *refusal;
    EQ(raft_wire_request(RAFT_MSG_VOTE, 0, vote, &peer, &a, &msg, &refusal), RAFT_WIRE_REFUSED);
    EQ(((struct VoteResponse *)refusal)->ErrorCode, KERR_INVALID_REQUEST);
    /* FetchSnapshot: another topic or partition is UNKNOWN_TOPIC_OR_PARTITION for what was asked; not
     * exactly one topic and partition is INVALID_REQUEST */
    v = wv("FetchSnapshotRequest_v0");
    struct FetchSnapshotRequest *fs = decode(&proto_msg_FetchSnapshotRequest, 0, v->bytes, v->len, &a);
    fs->Topics[0].Name = proto_str_from("orders");
    fs->Topics[0].Partitions[0].Partition = 3;
    expect_refusal(RAFT_MSG_FETCH_SNAPSHOT, 0, fs, CLUSTER, "FetchSnapshotResponse_v0_unknown_partition");
    fs->Topics_n = 0;
    EQ(raft_wire_request(RAFT_MSG_FETCH_SNAPSHOT, 0, fs, &peer, &a, &msg, &refusal), RAFT_WIRE_REFUSED);
    EQ(((struct FetchSnapshotResponse *)refusal)->ErrorCode, KERR_INVALID_REQUEST);
    EQ(((struct FetchSnapshotResponse *)refusal)->Topics_n, 0);
    proto_arena_free(&a);
}

/* ---- responses ---- */

static void test_top_level_errors_fold_and_other_shapes_are_rejected(void **state)
{
    (void)state;
    struct proto_arena a;
    proto_arena_init(&a);
    struct raft_wire_peer peer = {.cluster_id = CLUSTER, .self = 3002, .peer = 3001, .corr = 9};
    struct raft_msg msg;
    /* a top-level error with no topics: the error, epoch -1 (stale to the core) */
    const struct wire_vector *v = wv("VoteResponse_v0_inconsistent_cluster");
    EQ(raft_wire_response(RAFT_MSG_VOTE_RESP, 0, decode(&proto_msg_VoteResponse, 0, v->bytes, v->len, &a), &peer, &a,
                          &msg),
       0);
    EQ(msg.error, KERR_INCONSISTENT_CLUSTER_ID);
    EQ(msg.epoch, -1);
    EQ(msg.leader_id, RAFT_NO_ID);
    EQ(msg.from, 3001);
    EQ(msg.corr, 9);
    v = wv("FetchResponse_v16_invalid_request");
    EQ(raft_wire_response(RAFT_MSG_FETCH_RESP, 16, decode(&proto_msg_FetchResponse, 16, v->bytes, v->len, &a), &peer,
                          &a, &msg),
       0);
    EQ(msg.error, KERR_INVALID_REQUEST);
    EQ(msg.epoch, -1);
    EQ(msg.u.fetch_resp.nbatches, 0);
    EQ(msg.u.fetch_resp.diverging_epoch, -1);
    EQ(msg.u.fetch_resp.snapshot.end_offset, -1);
    /* a top-level error beside a partition: the top-level one wins */
    v = wv("BeginQuorumEpochResponse_v0");
    struct BeginQuorumEpochResponse *b = decode(&proto_msg_BeginQuorumEpochResponse, 0, v->bytes, v->len, &a);
    b->ErrorCode = KERR_BROKER_NOT_AVAILABLE;
    b->Topics[0].Partitions[0].ErrorCode = KERR_FENCED_LEADER_EPOCH;
    EQ(raft_wire_response(RAFT_MSG_BEGIN_EPOCH_RESP, 0, b, &peer, &a, &msg), 0);
    EQ(msg.error, KERR_BROKER_NOT_AVAILABLE);
    EQ(msg.epoch, 14);
    /* kraft_vectors.inc's two-partition responses are no Raft answer */
    static const struct {
        const char *name;
        enum raft_msg_type type;
    } others[] = {{"VoteResponse_v0", RAFT_MSG_VOTE_RESP},
                  {"BeginQuorumEpochResponse_v0", RAFT_MSG_BEGIN_EPOCH_RESP},
                  {"EndQuorumEpochResponse_v0", RAFT_MSG_END_EPOCH_RESP},
                  {"FetchResponse_v16_raft", RAFT_MSG_FETCH_RESP},
                  {"FetchSnapshotResponse_v0", RAFT_MSG_FETCH_SNAPSHOT_RESP}};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        const struct golden_vector *g = kv(others[i].name);
        const struct proto_message *m = raft_wire_message(others[i].type);
        void *body = decode(m, g->version, g->bytes + g->header_len, g->len - g->header_len, &a);
        int rc = raft_wire_response(others[i].type, g->version, body, &peer, &a, &msg);
        if (rc != FERRY_EPARSE && !(rc == 0 && msg.error != 0 && msg.epoch == -1))
            fail_msg("%s: rc %d", others[i].name, rc);
    }
    /* a Fetch response for another topic id */
    v = wv("FetchResponse_v16");
    struct FetchResponse *f = decode(&proto_msg_FetchResponse, 16, v->bytes, v->len, &a);
    f->Responses[0].TopicId.b[0] = 7;
    EQ(raft_wire_response(RAFT_MSG_FETCH_RESP, 16, f, &peer, &a, &msg), FERRY_EPARSE);
    proto_arena_free(&a);
}

/* Two copies of the golden batch, the second at offset 5000: contiguous. */
static uint8_t *two_batches(size_t *len)
{
    size_t n = sizeof wv_raft_batch;
    uint8_t *p = malloc(2 * n);
    assert_non_null(p);
    memcpy(p, wv_raft_batch, n);
    memcpy(p + n, wv_raft_batch, n);
    rb_set_base_offset(p + n, 5000);
    *len = 2 * n;
    return p;
}

static void test_records_split_into_batches(void **state)
{
    (void)state;
    struct proto_arena a;
    proto_arena_init(&a);
    const struct raft_batch *b;
    size_t n, len;
    uint8_t *p = two_batches(&len);
    EQ(raft_wire_batches(p, len, &a, &b, &n), 0);
    EQ(n, 2);
    EQ(b[0].base_offset, 4998);
    EQ(b[1].base_offset, 5000);
    EQ(b[1].count, 2);
    EQ(b[1].epoch, 14);
    assert_ptr_equal(b[1].data, p + sizeof wv_raft_batch);
    /* a partial batch at the end is left out, whatever the cut */
    for (size_t cut = 1; cut < sizeof wv_raft_batch; cut++) {
        EQ(raft_wire_batches(p, len - cut, &a, &b, &n), 0);
        EQ(n, 1);
        EQ(raft_wire_batches(p, sizeof wv_raft_batch - cut, &a, &b, &n), 0);
        EQ(n, 0);
        assert_null(b);
    }
    /* not contiguous: the same batch twice */
    rb_set_base_offset(p + sizeof wv_raft_batch, 4998);
    EQ(raft_wire_batches(p, len, &a, &b, &n), FERRY_EPARSE);
    rb_set_base_offset(p + sizeof wv_raft_batch, 5001);
    EQ(raft_wire_batches(p, len, &a, &b, &n), FERRY_EPARSE);
    rb_set_base_offset(p + sizeof wv_raft_batch, 5000);
    /* a flipped byte under the CRC */
    p[sizeof wv_raft_batch + 70] ^= 0x40;
    EQ(raft_wire_batches(p, len, &a, &b, &n), FERRY_ECORRUPT);
    p[sizeof wv_raft_batch + 70] ^= 0x40;
    /* a batch length too small to be a batch; magic 1 */
    uint8_t bad[sizeof wv_raft_batch];
    memcpy(bad, wv_raft_batch, sizeof bad);
    bad[8] = bad[9] = bad[10] = 0;
    bad[11] = 10;
    EQ(raft_wire_batches(bad, sizeof bad, &a, &b, &n), FERRY_EPARSE);
    memcpy(bad, wv_raft_batch, sizeof bad);
    bad[16] = 1;
    EQ(raft_wire_batches(bad, sizeof bad, &a, &b, &n), FERRY_EPARSE);
    free(p);
    proto_arena_free(&a);
}

/* Through raft_wire_response: truncated records give the whole batches; corrupt ones reject the response. */
static void test_fetch_response_with_truncated_or_corrupt_records(void **state)
{
    (void)state;
    struct proto_arena a;
    proto_arena_init(&a);
    struct raft_wire_peer peer = {.cluster_id = CLUSTER, .self = 3002, .peer = 3001};
    const struct wire_vector *v = wv("FetchResponse_v16");
    struct FetchResponse *f = decode(&proto_msg_FetchResponse, 16, v->bytes, v->len, &a);
    size_t len;
    uint8_t *p = two_batches(&len);
    struct raft_msg msg;
    f->Responses[0].Partitions[0].Records = (proto_bytes){p, (int32_t)(len - 3)};
    EQ(raft_wire_response(RAFT_MSG_FETCH_RESP, 16, f, &peer, &a, &msg), 0);
    EQ(msg.u.fetch_resp.nbatches, 1);
    EQ(msg.u.fetch_resp.batches[0].base_offset, 4998);
    f->Responses[0].Partitions[0].Records = (proto_bytes){p, 30};
    EQ(raft_wire_response(RAFT_MSG_FETCH_RESP, 16, f, &peer, &a, &msg), 0);
    EQ(msg.u.fetch_resp.nbatches, 0);
    p[100] ^= 1;
    f->Responses[0].Partitions[0].Records = (proto_bytes){p, (int32_t)len};
    EQ(raft_wire_response(RAFT_MSG_FETCH_RESP, 16, f, &peer, &a, &msg), FERRY_ECORRUPT);
    /* with a partition error the records are not looked at */
    f->Responses[0].Partitions[0].ErrorCode = KERR_NOT_LEADER_OR_FOLLOWER;
    EQ(raft_wire_response(RAFT_MSG_FETCH_RESP, 16, f, &peer, &a, &msg), 0);
    EQ(msg.error, KERR_NOT_LEADER_OR_FOLLOWER);
    EQ(msg.u.fetch_resp.nbatches, 0);
    free(p);
    proto_arena_free(&a);
}

/* ---- versions ---- */

static void test_versions(void **state)
{
    (void)state;
    EQ(raft_wire_version(RAFT_MSG_FETCH, 0, 16), 16); /* Kafka 3.7 */
    EQ(raft_wire_version(RAFT_MSG_FETCH, 0, 15), 15); /* Kafka 3.6 */
    EQ(raft_wire_version(RAFT_MSG_FETCH, 4, 17), 16); /* a later Kafka */
    EQ(raft_wire_version(RAFT_MSG_FETCH, 0, 12), -1); /* no topic ids: no Raft */
    EQ(raft_wire_version(RAFT_MSG_FETCH, 17, 18), -1);
    EQ(raft_wire_version(RAFT_MSG_VOTE, 0, 0), 0); /* Kafka 3.7 */
    EQ(raft_wire_version(RAFT_MSG_VOTE, 0, 2), 2); /* Ferry, Kafka 4.0: pre-vote */
    EQ(raft_wire_version(RAFT_MSG_VOTE, 0, 5), 2);
    EQ(raft_wire_version(RAFT_MSG_FETCH_SNAPSHOT, 0, 0), 0);
    EQ(raft_wire_version(RAFT_MSG_BEGIN_EPOCH, 1, 1), -1);
    enum raft_msg_type t;
    assert_true(raft_wire_request_type(52, &t));
    EQ(t, RAFT_MSG_VOTE);
    assert_true(raft_wire_request_type(1, &t));
    EQ(t, RAFT_MSG_FETCH);
    assert_true(raft_wire_request_type(59, &t));
    EQ(t, RAFT_MSG_FETCH_SNAPSHOT);
    assert_false(raft_wire_request_type(55, &t));
    assert_null(raft_wire_message((enum raft_msg_type)99));

    struct proto_writer w;
    proto_writer_init(&w);
    struct raft_msg fetch = case_named("FetchRequest_v13")->msg;
    EQ(raft_wire_encode(&fetch, 12, CLUSTER, NULL, 0, &w), FERRY_EUNSUPPORTED);
    struct raft_msg vote = case_named("VoteRequest_v0")->msg;
    EQ(raft_wire_encode(&vote, 3, CLUSTER, NULL, 0, &w), FERRY_EUNSUPPORTED);
    vote.u.vote.pre_vote = true; /* KIP-996: below Vote v2 (Kafka 3.7) there is no pre-vote */
    EQ(raft_wire_encode(&vote, 0, CLUSTER, NULL, 0, &w), FERRY_EUNSUPPORTED);
    EQ(raft_wire_encode(&vote, 1, CLUSTER, NULL, 0, &w), FERRY_EUNSUPPORTED);
    vote.type = (enum raft_msg_type)99;
    EQ(raft_wire_encode(&vote, 0, CLUSTER, NULL, 0, &w), FERRY_EINVAL);
    EQ(w.len, 0);
    proto_writer_free(&w);
}

/* ---- DescribeQuorum ---- */

static void test_describe_quorum(void **state)
{
    (void)state;
    struct proto_arena a;
    proto_arena_init(&a);
    /* the leader's view, in a clock 1000 ms behind the wall clock */
    struct raft_describe d = {.leader_id = 3001, .epoch = 14, .high_watermark = 5000, .nvoters = 2, .nobservers = 1};
    d.voters[0] = (struct raft_replica_info){3001, 5010, TS + 1 - 1000, TS + 2 - 1000};
    d.voters[1] = (struct raft_replica_info){3002, 4990, TS - 30 - 1000, -1};
    d.observers[0] = (struct raft_replica_info){7, 4800, TS - 50 - 1000, TS - 60 - 1000};
    for (int16_t v = 0; v <= 1; v++) {
        char name[64];
        snprintf(name, sizeof name, "DescribeQuorumRequest_v%d", v);
        const struct wire_vector *rv = wv(name);
        struct DescribeQuorumRequest *req = decode(&proto_msg_DescribeQuorumRequest, v, rv->bytes, rv->len, &a);
        EQ(raft_wire_describe_check(req), 0);
        struct DescribeQuorumResponse resp;
        EQ(raft_wire_describe_ok(&d, 1000, &a, &resp), 0);
        snprintf(name, sizeof name, "DescribeQuorumResponse_v%d", v);
        expect_struct(&proto_msg_DescribeQuorumResponse, &resp, wv(name));
        EQ(raft_wire_describe_error(req, KERR_NOT_LEADER_OR_FOLLOWER, &a, &resp), 0);
        snprintf(name, sizeof name, "DescribeQuorumResponse_v%d_not_leader", v);
        expect_struct(&proto_msg_DescribeQuorumResponse, &resp, wv(name));
    }
    /* kraft_vectors.inc's request asks for partitions 0 and 4 */
    const struct golden_vector *g = kv("DescribeQuorumRequest_v1");
    struct DescribeQuorumRequest *req =
        decode(&proto_msg_DescribeQuorumRequest, 1, g->bytes + g->header_len, g->len - g->header_len, &a);
    EQ(raft_wire_describe_check(req), KERR_UNKNOWN_TOPIC_OR_PARTITION);
    struct DescribeQuorumResponse resp;
    EQ(raft_wire_describe_error(req, raft_wire_describe_check(req), &a, &resp), 0);
    expect_struct(&proto_msg_DescribeQuorumResponse, &resp, wv("DescribeQuorumResponse_v1_unknown_partition"));
    /* the existing golden response (same values) is what describe_ok writes too */
    g = kv("DescribeQuorumResponse_v1");
    EQ(raft_wire_describe_ok(&d, 1000, &a, &resp), 0);
    struct proto_writer w;
    proto_writer_init(&w);
    EQ(proto_encode(&proto_msg_DescribeQuorumResponse, 1, &w, &resp), 0);
    expect_bytes(g->name, &w, g->bytes + g->header_len, g->len - g->header_len);
    proto_writer_free(&w);
    proto_arena_free(&a);
}

/* ---- mutated input ---- */

/* Every wire vector with each byte replaced by a few values: whatever still decodes goes through
 * raft_wire_request/response without a fault (the sanitizers watch), and what those accept encodes again.
 * Returns how many mutants were accepted, so that the walk is known to reach the codec. */
static size_t mutate_vector(const struct wire_case *c, const struct wire_vector *v)
{
    static const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
    const struct proto_message *m = raft_wire_message(c->msg.type);
    size_t accepted = 0;
    for (size_t at = 0; at < v->len; at++) {
        for (size_t k = 0; k < sizeof values; k++) {
            if (v->bytes[at] == values[k])
                continue;
            uint8_t *copy = malloc(v->len);
            assert_non_null(copy);
            memcpy(copy, v->bytes, v->len);
            copy[at] = values[k];
            struct proto_arena a;
            proto_arena_init(&a);
            void *body = proto_arena_alloc(&a, m->body->size);
            assert_non_null(body);
            struct proto_reader r;
            proto_reader_init(&r, copy, v->len);
            if (proto_decode(m, v->version, &r, &a, body) == 0) {
                struct raft_wire_peer peer = {.cluster_id = CLUSTER, .self = 1, .peer = 2, .corr = 5};
                struct raft_msg msg;
                void *refusal = NULL;
                int rc = is_request(c->msg.type) ? raft_wire_request(c->msg.type, v->version, body, &peer, &a, &msg,
                                                                     &refusal)
                                                 : raft_wire_response(c->msg.type, v->version, body, &peer, &a, &msg);
                if (rc == 0) {
                    struct proto_writer w;
                    proto_writer_init(&w);
                    EQ(raft_wire_encode(&msg, v->version, CLUSTER, NULL, 0, &w), 0);
                    proto_writer_free(&w);
                    accepted++;
                } else if (rc == RAFT_WIRE_REFUSED) {
                    struct proto_writer w;
                    proto_writer_init(&w);
                    EQ(proto_encode(raft_wire_message(c->msg.type + 1), v->version, &w, refusal), 0);
                    proto_writer_free(&w);
                } else if (rc != FERRY_EPARSE && rc != FERRY_ECORRUPT) {
                    fail_msg("%s byte %zu = 0x%02x: rc %d", v->name, at, values[k], rc);
                }
            }
            proto_arena_free(&a);
            free(copy);
        }
    }
    return accepted;
}

static void test_mutated_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (mutate_vector(&cases[i], wv(cases[i].vector)) == 0)
            fail_msg("%s: no mutant was accepted: the walk never reached raft_wire", cases[i].vector);
}

/* ---- the controller listener's table ---- */

/* Every entry of table but ApiVersions is a KRaft message with golden vectors (kraft_vectors.inc), inside
 * Kafka 3.7's range, and lookup finds it. */
static void check_kraft_table(const struct proto_api_range *table, size_t n,
                              const struct proto_api_range *(*lookup)(int16_t))
{
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        const struct proto_api_range *r = &table[i];
        assert_ptr_equal(lookup(r->api_key), r);
        if (r->api_key == API_API_VERSIONS)
            continue;
        bool found = false;
        for (size_t k = 0; k < KRAFT_RANGE_COUNT; k++) {
            const struct kraft_range *kr = &kraft_ranges[k];
            if (kr->api_key != r->api_key)
                continue;
            found = true;
            assert_true(r->min_version >= kr->min_version && r->max_version <= kr->max_version);
        }
        /* the forwarded admin writes: the broker listener's golden vectors (test_proto_golden) cover them */
        const struct proto_api_range *client = proto_api_lookup(r->api_key);
        if (!found && client) {
            found = true;
            assert_true(r->min_version >= client->min_version && r->max_version <= client->max_version);
        }
        /* AlterPartition v0-3: zkrpc_vectors.inc (test_zkrpc_golden) */
        for (size_t k = 0; !found && k < sizeof zkrpc_goldens / sizeof zkrpc_goldens[0]; k++)
            found = zkrpc_goldens[k].api_key == r->api_key;
        for (int16_t v = r->min_version; found && r->api_key == API_ALTER_PARTITION && v <= r->max_version; v++) {
            int both = 0;
            for (size_t k = 0; k < sizeof zkrpc_goldens / sizeof zkrpc_goldens[0]; k++)
                both += zkrpc_goldens[k].api_key == r->api_key && zkrpc_goldens[k].version == v;
            assert_int_equal(both, 2);
        }
        if (!found)
            fail_msg("api %d has no golden vectors", r->api_key);
    }
}

/* The controller listener's table and the broker listeners' quorum-only one; DescribeQuorum is in both. */
static void test_controller_listener_table(void **state)
{
    (void)state;
    check_kraft_table(proto_controller_apis, proto_controller_apis_count, proto_controller_api_lookup);
    check_kraft_table(proto_quorum_apis, proto_quorum_apis_count, proto_quorum_api_lookup);
    assert_null(proto_controller_api_lookup(API_PRODUCE));
    assert_null(proto_controller_api_lookup(-1));
    assert_null(proto_quorum_api_lookup(API_PRODUCE));
    assert_non_null(proto_controller_api_lookup(API_DESCRIBE_QUORUM));
    assert_non_null(proto_quorum_api_lookup(API_DESCRIBE_QUORUM));
}

int main(void)
{
    enum { NCASES = sizeof cases / sizeof cases[0], FIXED = 10 };
    static struct CMUnitTest tests[NCASES + FIXED];
    static char names[NCASES][80];
    size_t n = 0;
    for (size_t i = 0; i < NCASES; i++) {
        snprintf(names[i], sizeof names[0], "round trip %s", cases[i].vector);
        tests[n++] = (struct CMUnitTest){names[i], test_round_trip, NULL, NULL, (void *)&cases[i]};
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_build_allocation_failures);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_wrong_cluster_id_is_refused);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_wrong_topic_or_partition_is_refused);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_top_level_errors_fold_and_other_shapes_are_rejected);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_records_split_into_batches);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_fetch_response_with_truncated_or_corrupt_records);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_versions);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_describe_quorum);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_controller_listener_table);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_mutated_vectors);
    return _cmocka_run_group_tests("kraft_wire", tests, n, NULL, NULL);
}
