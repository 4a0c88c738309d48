/* Golden byte-vector tests for the KRaft messages: the Raft quorum RPCs (Vote, BeginQuorumEpoch,
 * EndQuorumEpoch, DescribeQuorum, FetchSnapshot, Fetch v12-16 as the Raft layer uses it), the broker and
 * controller lifecycle RPCs (BrokerRegistration, BrokerHeartbeat, UnregisterBroker, ControllerRegistration,
 * AllocateProducerIds, Envelope), DescribeCluster v0-1 as a controller listener answers it (KIP-919),
 * ElectLeaders v0-2, AlterPartitionReassignments v0 and ListPartitionReassignments v0 (a quorum-mode broker
 * forwards them to the controller listener) and the
 * control records LeaderChangeMessage, SnapshotHeaderRecord and
 * SnapshotFooterRecord, at every version Kafka 3.7 has. The bytes come from scripts/golden_kraft.py (an
 * encoder independent of Ferry's codec, with schemas checked against Kafka's message definitions) in
 * golden/kraft_vectors.inc; the expected field values below are the ones that script uses (keep the two
 * in step).
 *
 * For every vector: the header (request v1/v2, response v0/v1) parses and re-encodes; the body decodes
 * with nothing left over; the fields have the generator's values; re-encoding gives the same bytes (or,
 * for vectors with unknown tagged fields, bytes that decode to the same values and re-encode to
 * themselves); every truncation fails with FERRY_EPARSE; failing each allocation in turn gives
 * FERRY_ENOMEM without leaks. messages.def's version and flexible ranges must equal Kafka 3.7's, and every
 * version must have exact request and response vectors.
 *
 * Nothing is left out: every message listed above matched Kafka's bytes when this test was written. */
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
#include "proto_codec.h"
#include "proto_header.h"
#include "record_batch.h"

#include "golden/golden.h"

enum { KRAFT_DATA = 2 }; /* a control-record value: a body with no header and no api key */

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

#define CLUSTER "kraft-cluster-7"
#define META "__cluster_metadata"
#define TS INT64_C(1700000000000)

/* ---- helpers ---- */

#define STR_EQ(s, c)                                                                                        \
    do {                                                                                                    \
        proto_str s_ = (s);                                                                                 \
        if (!proto_str_eq(s_, (c)))                                                                         \
            fail_msg("%s: got %s%.*s%s, want \"%s\"", #s, s_.len < 0 ? "null" : "\"", s_.len < 0 ? 0 : s_.len, \
                     s_.len < 0 ? "" : s_.p, s_.len < 0 ? "" : "\"", (c));                                  \
    } while (0)
#define STR_NULL(s) assert_int_equal((s).len, -1)
#define EQ(a, b) assert_int_equal((a), (b))

/* The generator's uuids: bytes first, first+1, ... first+15. */
static void uuid_run_eq(proto_uuid u, uint8_t first)
{
    for (int i = 0; i < 16; i++)
        if (u.b[i] != (uint8_t)(first + i))
            fail_msg("uuid byte %d: got 0x%02x, want 0x%02x", i, u.b[i], (uint8_t)(first + i));
}
enum { UUID_A = 0x10, UUID_B = 0xa0, UUID_C = 0x30, UUID_D = 0xc0, INCARNATION = 0x50 };

static void meta_topic_id_eq(proto_uuid u)
{
    static const proto_uuid meta = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
    assert_true(proto_uuid_eq(u, meta));
}

static void i32s_eq(const int32_t *arr, int32_t n, const int32_t *want, int32_t want_n)
{
    EQ(n, want_n);
    for (int32_t i = 0; i < n; i++)
        EQ(arr[i], want[i]);
}

static void bytes_eq(proto_bytes b, const uint8_t *want, size_t want_len)
{
    EQ(b.len, (int32_t)want_len);
    if (want_len)
        assert_memory_equal(b.p, want, want_len);
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The Raft RPCs' cluster id: CLUSTER, or null in the vectors named with `null_suffix`. */
static void cluster_id_eq(const struct golden_vector *gv, proto_str id, const char *null_suffix)
{
    if (has_suffix(gv->name, null_suffix))
        STR_NULL(id);
    else
        STR_EQ(id, CLUSTER);
}

/* The Raft RPCs' topic list: the metadata topic alone, with `parts` partitions (any generated type). */
#define ONE_META_TOPIC(r, name, parts)                                                                      \
    do {                                                                                                    \
        EQ((r)->Topics_n, 1);                                                                               \
        STR_EQ((r)->Topics[0].name, META);                                                                  \
        EQ((r)->Topics[0].Partitions_n, (parts));                                                           \
    } while (0)

static const struct kraft_vector *find_vector(const char *name)
{
    for (size_t i = 0; i < KRAFT_VECTOR_COUNT; i++)
        if (strcmp(kraft_vectors[i].gv.name, name) == 0)
            return &kraft_vectors[i];
    fail_msg("no vector %s", name);
    return NULL;
}

/* Decodes a standalone body with the codec (arena owned by the caller). */
static void *decode_body(const struct proto_message *m, const uint8_t *p, size_t len, struct proto_arena *a)
{
    void *msg = proto_arena_alloc(a, m->body->size);
    assert_non_null(msg);
    struct proto_reader r;
    proto_reader_init(&r, p, len);
    EQ(proto_decode(m, 0, &r, a, msg), 0);
    EQ(proto_reader_left(&r), 0);
    return msg;
}

/* ---- control records ---- */

static void check_leader_change(const struct golden_vector *gv, const void *msg)
{
    (void)gv;
    const struct LeaderChangeMessage *r = msg;
    EQ(r->Version, 0);
    EQ(r->LeaderId, 3001);
    EQ(r->Voters_n, 3);
    EQ(r->Voters[0].VoterId, 3001);
    EQ(r->Voters[1].VoterId, 3002);
    EQ(r->Voters[2].VoterId, 3003);
    EQ(r->GrantingVoters_n, 2);
    EQ(r->GrantingVoters[0].VoterId, 3001);
    EQ(r->GrantingVoters[1].VoterId, 3003);
}

static void check_snapshot_header(const struct golden_vector *gv, const void *msg)
{
    (void)gv;
    const struct SnapshotHeaderRecord *r = msg;
    EQ(r->Version, 0);
    EQ(r->LastContainedLogTimestamp, TS);
}

static void check_snapshot_footer(const struct golden_vector *gv, const void *msg)
{
    (void)gv;
    EQ(((const struct SnapshotFooterRecord *)msg)->Version, 0);
}

/* The Raft batch of the Fetch responses: valid, at offset 4998 in epoch 14, and its two record values
 * decode (through the codec) to the control-record vectors' values. */
static void check_raft_batch(proto_bytes records)
{
    bytes_eq(records, kv_raft_batch, sizeof kv_raft_batch);
    struct rb_header h;
    EQ(rb_validate(records.p, (size_t)records.len, &h), 0);
    EQ(h.base_offset, 4998);
    EQ(h.partition_leader_epoch, 14);
    EQ(h.record_count, 2);
    struct proto_reader r;
    proto_reader_init(&r, records.p + RB_HEADER_SIZE, (size_t)records.len - RB_HEADER_SIZE);
    struct rb_record rec[2];
    EQ(rb_read_record(&r, &rec[0]), 0);
    EQ(rb_read_record(&r, &rec[1]), 0);
    EQ(proto_reader_left(&r), 0);
    EQ(rec[0].key.len, -1);
    EQ(rec[1].timestamp_delta, 4);
    bytes_eq(rec[1].key, (const uint8_t *)"k", 1);
    struct proto_arena a;
    proto_arena_init(&a);
    check_leader_change(NULL, decode_body(&proto_msg_LeaderChangeMessage, rec[0].value.p,
                                          (size_t)rec[0].value.len, &a));
    check_snapshot_header(NULL, decode_body(&proto_msg_SnapshotHeaderRecord, rec[1].value.p,
                                            (size_t)rec[1].value.len, &a));
    proto_arena_free(&a);
}

/* ---- Raft quorum RPCs ---- */

static void check_vote_request(const struct golden_vector *gv, const void *msg)
{
    const struct VoteRequest *r = msg;
    cluster_id_eq(gv, r->ClusterId, "_null_cluster");
    ONE_META_TOPIC(r, TopicName, 2);
    const struct VoteRequest_PartitionData *p = r->Topics[0].Partitions;
    EQ(p[0].PartitionIndex, 0);
    EQ(p[0].CandidateEpoch, 12);
    EQ(p[0].CandidateId, 3002);
    EQ(p[0].LastOffsetEpoch, 11);
    EQ(p[0].LastOffset, 98765);
    EQ(p[1].PartitionIndex, 1);
    EQ(p[1].CandidateEpoch, 13);
    EQ(p[1].CandidateId, 3003);
    EQ(p[1].LastOffsetEpoch, 10);
    EQ(p[1].LastOffset, 4242);
    /* Kafka 4.0's v1 voter keys and v2 PreVote (defaults below them) */
    bool v1 = gv->version >= 1;
    EQ(r->VoterId, v1 ? 3001 : -1);
    static const proto_uuid zero;
    if (v1) {
        uuid_run_eq(p[0].CandidateDirectoryId, UUID_A);
        uuid_run_eq(p[0].VoterDirectoryId, UUID_B);
        uuid_run_eq(p[1].CandidateDirectoryId, UUID_C);
        uuid_run_eq(p[1].VoterDirectoryId, UUID_D);
    } else {
        assert_true(proto_uuid_eq(p[0].CandidateDirectoryId, zero));
        assert_true(proto_uuid_eq(p[1].VoterDirectoryId, zero));
    }
    EQ(p[0].PreVote, gv->version >= 2);
    assert_false(p[1].PreVote);
}

static void check_vote_response(const struct golden_vector *gv, const void *msg)
{
    (void)gv;
    const struct VoteResponse *r = msg;
    EQ(r->ErrorCode, 0);
    ONE_META_TOPIC(r, TopicName, 2);
    const struct VoteResponse_PartitionData *p = r->Topics[0].Partitions;
    EQ(p[0].PartitionIndex, 0);
    EQ(p[0].ErrorCode, 0);
    EQ(p[0].LeaderId, -1);
    EQ(p[0].LeaderEpoch, 12);
    assert_true(p[0].VoteGranted);
    EQ(p[1].PartitionIndex, 1);
    EQ(p[1].ErrorCode, 6);
    EQ(p[1].LeaderId, 3001);
    EQ(p[1].LeaderEpoch, 13);
    assert_false(p[1].VoteGranted);
    if (gv->version < 1) {
        EQ(r->NodeEndpoints_n, 0);
        return;
    }
    EQ(r->NodeEndpoints_n, 1); /* a tagged field from v1 (Kafka 4.0) */
    EQ(r->NodeEndpoints[0].NodeId, 3001);
    assert_true(proto_str_eq(r->NodeEndpoints[0].Host, "ctrl-1"));
    EQ(r->NodeEndpoints[0].Port, 40000);
}

static void check_begin_epoch_request(const struct golden_vector *gv, const void *msg)
{
    const struct BeginQuorumEpochRequest *r = msg;
    cluster_id_eq(gv, r->ClusterId, "_null_cluster");
    ONE_META_TOPIC(r, TopicName, 2);
    const struct BeginQuorumEpochRequest_PartitionData *p = r->Topics[0].Partitions;
    EQ(p[0].PartitionIndex, 0);
    EQ(p[0].LeaderId, 3001);
    EQ(p[0].LeaderEpoch, 14);
    EQ(p[1].PartitionIndex, 2);
    EQ(p[1].LeaderId, 3003);
    EQ(p[1].LeaderEpoch, 15);
}

/* BeginQuorumEpoch and EndQuorumEpoch responses have the same shape (and the generator's values, but for
 * the top-level error: 0 and 57). The generated structs are distinct types of identical layout. */
#define CHECK_QUORUM_EPOCH_RESPONSE(T, r, error)                                                            \
    do {                                                                                                    \
        EQ((r)->ErrorCode, (error));                                                                        \
        ONE_META_TOPIC(r, TopicName, 2);                                                                    \
        const struct T *p_ = (r)->Topics[0].Partitions;                                                     \
        EQ(p_[0].PartitionIndex, 0);                                                                        \
        EQ(p_[0].ErrorCode, 0);                                                                             \
        EQ(p_[0].LeaderId, 3001);                                                                           \
        EQ(p_[0].LeaderEpoch, 14);                                                                          \
        EQ(p_[1].PartitionIndex, 2);                                                                        \
        EQ(p_[1].ErrorCode, 202);                                                                           \
        EQ(p_[1].LeaderId, -1);                                                                             \
        EQ(p_[1].LeaderEpoch, 15);                                                                          \
    } while (0)

static void check_begin_epoch_response(const struct golden_vector *gv, const void *msg)
{
    (void)gv;
    const struct BeginQuorumEpochResponse *r = msg;
    CHECK_QUORUM_EPOCH_RESPONSE(BeginQuorumEpochResponse_PartitionData, r, 0);
}

static void check_end_epoch_response(const struct golden_vector *gv, const void *msg)
{
    (void)gv;
    const struct EndQuorumEpochResponse *r = msg;
    CHECK_QUORUM_EPOCH_RESPONSE(EndQuorumEpochResponse_PartitionData, r, 57);
}

static void check_end_epoch_request(const struct golden_vector *gv, const void *msg)
{
    (void)gv;
    const struct EndQuorumEpochRequest *r = msg;
    STR_EQ(r->ClusterId, CLUSTER);
    ONE_META_TOPIC(r, TopicName, 2);
    const struct EndQuorumEpochRequest_PartitionData *p = r->Topics[0].Partitions;
    EQ(p[0].PartitionIndex, 0);
    EQ(p[0].LeaderId, 3001);
    EQ(p[0].LeaderEpoch, 14);
    i32s_eq(p[0].PreferredSuccessors, p[0].PreferredSuccessors_n, (const int32_t[]){3003, 3002}, 2);
    EQ(p[1].PartitionIndex, 2);
    EQ(p[1].LeaderId, 3002);
    EQ(p[1].LeaderEpoch, 16);
    EQ(p[1].PreferredSuccessors_n, 0);
}

static void check_describe_quorum_request(const struct golden_vector *gv, const void *msg)
{
    (void)gv;
    const struct DescribeQuorumRequest *r = msg;
    ONE_META_TOPIC(r, TopicName, 2);
    EQ(r->Topics[0].Partitions[0].PartitionIndex, 0);
    EQ(r->Topics[0].Partitions[1].PartitionIndex, 4);
}

static void replica_state_eq(const struct DescribeQuorumResponse_ReplicaState *s, int v, int32_t id, int64_t leo,
                             int64_t fetch, int64_t caught)
{
    EQ(s->ReplicaId, id);
    EQ(s->LogEndOffset, leo);
    EQ(s->LastFetchTimestamp, v >= 1 ? fetch : -1); /* v1+; Kafka's default -1 before */
    EQ(s->LastCaughtUpTimestamp, v >= 1 ? caught : -1);
}

static void check_describe_quorum_response(const struct golden_vector *gv, const void *msg)
{
    const struct DescribeQuorumResponse *r = msg;
    int v = gv->version;
    EQ(r->ErrorCode, 0);
    ONE_META_TOPIC(r, TopicName, 1);
    const struct DescribeQuorumResponse_PartitionData *p = r->Topics[0].Partitions;
    EQ(p->PartitionIndex, 0);
    EQ(p->ErrorCode, 0);
    EQ(p->LeaderId, 3001);
    EQ(p->LeaderEpoch, 14);
    EQ(p->HighWatermark, 5000);
    EQ(p->CurrentVoters_n, 2);
    replica_state_eq(&p->CurrentVoters[0], v, 3001, 5010, TS + 1, TS + 2);
    replica_state_eq(&p->CurrentVoters[1], v, 3002, 4990, TS - 30, -1);
    EQ(p->Observers_n, 1);
    replica_state_eq(&p->Observers[0], v, 7, 4800, TS - 50, TS - 60);
}

static void check_fetch_snapshot_request(const struct golden_vector *gv, const void *msg)
{
    const struct FetchSnapshotRequest *r = msg;
    cluster_id_eq(gv, r->ClusterId, "_no_cluster");
    EQ(r->ReplicaId, 3002);
    EQ(r->MaxBytes, 1048576);
    ONE_META_TOPIC(r, Name, 1);
    const struct FetchSnapshotRequest_PartitionSnapshot *p = r->Topics[0].Partitions;
    EQ(p->Partition, 0);
    EQ(p->CurrentLeaderEpoch, 14);
    EQ(p->SnapshotId.EndOffset, 4000);
    EQ(p->SnapshotId.Epoch, 13);
    EQ(p->Position, 8192);
}

static void check_fetch_snapshot_response(const struct golden_vector *gv, const void *msg)
{
    (void)gv;
    const struct FetchSnapshotResponse *r = msg;
    EQ(r->ThrottleTimeMs, 5);
    EQ(r->ErrorCode, 0);
    ONE_META_TOPIC(r, Name, 3);
    const struct FetchSnapshotResponse_PartitionSnapshot *p = r->Topics[0].Partitions;
    EQ(p[0].Index, 0);
    EQ(p[0].ErrorCode, 0);
    EQ(p[0].SnapshotId.EndOffset, 4000);
    EQ(p[0].SnapshotId.Epoch, 13);
    EQ(p[0].CurrentLeader.LeaderId, 3001);
    EQ(p[0].CurrentLeader.LeaderEpoch, 14);
    EQ(p[0].Size, 20480);
    EQ(p[0].Position, 8192);
    bytes_eq(p[0].UnalignedRecords, kv_raft_batch + KV_SNAPSHOT_CHUNK_AT, KV_SNAPSHOT_CHUNK_LEN);
    /* no CurrentLeader tag: Kafka's defaults for that struct are 0 and 0 (its fields declare none) */
    EQ(p[1].Index, 1);
    EQ(p[1].ErrorCode, 3);
    EQ(p[1].SnapshotId.EndOffset, -1);
    EQ(p[1].SnapshotId.Epoch, -1);
    EQ(p[1].CurrentLeader.LeaderId, 0);
    EQ(p[1].CurrentLeader.LeaderEpoch, 0);
    EQ(p[1].Size, 0);
    EQ(p[1].Position, 0);
    EQ(p[1].UnalignedRecords.len, 0);
    /* a tagged {-1, -1}: not the default, so Kafka wrote it and so must Ferry */
    EQ(p[2].Index, 2);
    EQ(p[2].SnapshotId.EndOffset, 3000);
    EQ(p[2].SnapshotId.Epoch, 12);
    EQ(p[2].CurrentLeader.LeaderId, -1);
    EQ(p[2].CurrentLeader.LeaderEpoch, -1);
    EQ(p[2].Size, 70);
    bytes_eq(p[2].UnalignedRecords, kv_raft_batch, 70);
}

/* Fetch v12-16 as a Raft follower sends it: replica id (v12-14) or ReplicaState (v15+), topic names
 * (v12) or ids (v13+), LastFetchedEpoch; ClusterId is tagged (absent in the v13 vector). */
static void check_fetch_request(const struct golden_vector *gv, const void *msg)
{
    const struct FetchRequest *r = msg;
    int v = gv->version;
    if (v == 13)
        STR_NULL(r->ClusterId);
    else
        STR_EQ(r->ClusterId, CLUSTER);
    if (v <= 14) {
        EQ(r->ReplicaId, 3002);
        EQ(r->ReplicaState.ReplicaId, -1);
        EQ(r->ReplicaState.ReplicaEpoch, -1);
    } else {
        EQ(r->ReplicaId, -1);
        EQ(r->ReplicaState.ReplicaId, 3002);
        EQ(r->ReplicaState.ReplicaEpoch, 77);
    }
    EQ(r->MaxWaitMs, 500);
    EQ(r->MinBytes, 1);
    EQ(r->MaxBytes, 8388608);
    EQ(r->IsolationLevel, 1);
    EQ(r->SessionId, 0x4321);
    EQ(r->SessionEpoch, 9);
    EQ(r->Topics_n, 2);
    const struct FetchRequest_FetchTopic *t = r->Topics;
    if (v == 12) {
        STR_EQ(t[0].Topic, META);
        STR_EQ(t[1].Topic, "orders");
        assert_true(proto_uuid_is_zero(t[0].TopicId));
    } else {
        meta_topic_id_eq(t[0].TopicId);
        uuid_run_eq(t[1].TopicId, UUID_A);
        EQ(t[0].Topic.len, 0);
    }
    EQ(t[0].Partitions_n, 1);
    const struct FetchRequest_FetchPartition *p = t[0].Partitions;
    EQ(p->Partition, 0);
    EQ(p->CurrentLeaderEpoch, 14);
    EQ(p->FetchOffset, 5000);
    EQ(p->LastFetchedEpoch, 13);
    EQ(p->LogStartOffset, 100);
    EQ(p->PartitionMaxBytes, 1048576);
    EQ(t[1].Partitions_n, 2);
    p = t[1].Partitions;
    EQ(p[0].Partition, 3);
    EQ(p[0].CurrentLeaderEpoch, -1);
    EQ(p[0].FetchOffset, 7);
    EQ(p[0].LastFetchedEpoch, -1);
    EQ(p[0].LogStartOffset, -1);
    EQ(p[0].PartitionMaxBytes, 65536);
    EQ(p[1].Partition, 5);
    EQ(p[1].CurrentLeaderEpoch, 2);
    EQ(p[1].FetchOffset, 70);
    EQ(p[1].LastFetchedEpoch, 1);
    EQ(p[1].LogStartOffset, 60);
    EQ(p[1].PartitionMaxBytes, 4096);
    EQ(r->ForgottenTopicsData_n, 1);
    if (v == 12)
        STR_EQ(r->ForgottenTopicsData[0].Topic, "old-topic");
    else
        uuid_run_eq(r->ForgottenTopicsData[0].TopicId, UUID_B);
    i32s_eq(r->ForgottenTopicsData[0].Partitions, r->ForgottenTopicsData[0].Partitions_n, (const int32_t[]){2, 5},
            2);
    STR_EQ(r->RackId, "rack-a");
}

static void check_fetch_response(const struct golden_vector *gv, const void *msg)
{
    const struct FetchResponse *r = msg;
    int v = gv->version;
    EQ(r->ThrottleTimeMs, 9);
    EQ(r->ErrorCode, 0);
    EQ(r->SessionId, 0x4321);
    EQ(r->Responses_n, 1);
    if (v == 12)
        STR_EQ(r->Responses[0].Topic, META);
    else
        meta_topic_id_eq(r->Responses[0].TopicId);
    EQ(r->Responses[0].Partitions_n, 2);
    const struct FetchResponse_PartitionData *p = r->Responses[0].Partitions;
    EQ(p[0].PartitionIndex, 0);
    EQ(p[0].ErrorCode, 0);
    EQ(p[0].HighWatermark, 5000);
    EQ(p[0].LastStableOffset, 4999);
    EQ(p[0].LogStartOffset, 100);
    EQ(p[0].DivergingEpoch.Epoch, 12);
    EQ(p[0].DivergingEpoch.EndOffset, 4500);
    EQ(p[0].CurrentLeader.LeaderId, 3001);
    EQ(p[0].CurrentLeader.LeaderEpoch, 14);
    EQ(p[0].SnapshotId.EndOffset, -1); /* tag absent */
    EQ(p[0].SnapshotId.Epoch, -1);
    EQ(p[0].AbortedTransactions_n, -1);
    EQ(p[0].PreferredReadReplica, -1);
    check_raft_batch(p[0].Records);
    EQ(p[1].PartitionIndex, 1);
    EQ(p[1].ErrorCode, 6);
    EQ(p[1].HighWatermark, -1);
    EQ(p[1].LastStableOffset, -1);
    EQ(p[1].LogStartOffset, -1);
    EQ(p[1].DivergingEpoch.Epoch, -1); /* tags absent */
    EQ(p[1].DivergingEpoch.EndOffset, -1);
    EQ(p[1].CurrentLeader.LeaderId, -1);
    EQ(p[1].CurrentLeader.LeaderEpoch, -1);
    EQ(p[1].SnapshotId.EndOffset, 4000);
    EQ(p[1].SnapshotId.Epoch, 13);
    EQ(p[1].AbortedTransactions_n, 1);
    EQ(p[1].AbortedTransactions[0].ProducerId, 4242);
    EQ(p[1].AbortedTransactions[0].FirstOffset, 101);
    EQ(p[1].PreferredReadReplica, 3);
    EQ(p[1].Records.len, -1);
    if (v < 16) {
        EQ(r->NodeEndpoints_n, 0);
        return;
    }
    EQ(r->NodeEndpoints_n, 2);
    const struct FetchResponse_NodeEndpoint *n = r->NodeEndpoints;
    EQ(n[0].NodeId, 3001);
    STR_EQ(n[0].Host, "ctrl-1.example");
    EQ(n[0].Port, 9093);
    STR_EQ(n[0].Rack, "rack-a");
    EQ(n[1].NodeId, 3002);
    STR_EQ(n[1].Host, "ctrl-2.example");
    EQ(n[1].Port, 9094);
    STR_NULL(n[1].Rack);
}

/* ---- broker and controller lifecycle ---- */

/* Listeners and features of BrokerRegistration and ControllerRegistration: distinct generated types of
 * the same shape. */
#define CHECK_LISTENER(l, name, host, port, proto)                                                         \
    do {                                                                                                    \
        STR_EQ((l).Name, (name));                                                                           \
        STR_EQ((l).Host, (host));                                                                           \
        EQ((l).Port, (port));                                                                               \
        EQ((l).SecurityProtocol, (proto));                                                                  \
    } while (0)
#define CHECK_FEATURE(f, name, min, max)                                                                   \
    do {                                                                                                    \
        STR_EQ((f).Name, (name));                                                                           \
        EQ((f).MinSupportedVersion, (min));                                                                 \
        EQ((f).MaxSupportedVersion, (max));                                                                 \
    } while (0)

static void check_broker_registration_request(const struct golden_vector *gv, const void *msg)
{
    const struct BrokerRegistrationRequest *r = msg;
    int v = gv->version;
    EQ(r->BrokerId, 7);
    STR_EQ(r->ClusterId, CLUSTER);
    uuid_run_eq(r->IncarnationId, INCARNATION);
    EQ(r->Listeners_n, 2);
    CHECK_LISTENER(r->Listeners[0], "PLAINTEXT", "broker-7.example", 9092, 0);
    CHECK_LISTENER(r->Listeners[1], "SSL", "broker-7.example", 50443, 1); /* uint16 above INT16_MAX */
    EQ(r->Features_n, 2);
    CHECK_FEATURE(r->Features[0], "metadata.version", 1, 19);
    CHECK_FEATURE(r->Features[1], "zk.migration", 0, 2);
    if (v == 1)
        STR_NULL(r->Rack);
    else
        STR_EQ(r->Rack, "rack-b");
    assert_true(r->IsMigratingZkBroker == (v >= 1));
    if (v >= 2) {
        EQ(r->LogDirs_n, 2);
        uuid_run_eq(r->LogDirs[0], UUID_C);
        uuid_run_eq(r->LogDirs[1], UUID_D);
    } else {
        EQ(r->LogDirs_n, 0);
    }
    EQ(r->PreviousBrokerEpoch, v >= 3 ? INT64_C(5000000001) : -1);
}

static void check_broker_registration_response(const struct golden_vector *gv, const void *msg)
{
    const struct BrokerRegistrationResponse *r = msg;
    int v = gv->version;
    EQ(r->ThrottleTimeMs, 10 + v);
    EQ(r->ErrorCode, v % 2 ? 64 : 0);
    EQ(r->BrokerEpoch, INT64_C(5000000002) + v);
}

static void check_broker_heartbeat_request(const struct golden_vector *gv, const void *msg)
{
    const struct BrokerHeartbeatRequest *r = msg;
    EQ(r->BrokerId, 7);
    EQ(r->BrokerEpoch, INT64_C(5000000002));
    EQ(r->CurrentMetadataOffset, 123456);
    assert_false(r->WantFence);
    assert_true(r->WantShutDown);
    /* v0 (where tag 0 is unknown, even when present) and the v1 vector without the tag: none */
    if (gv->version >= 1 && !has_suffix(gv->name, "_no_offline_dirs")) {
        EQ(r->OfflineLogDirs_n, 2);
        uuid_run_eq(r->OfflineLogDirs[0], UUID_D);
        uuid_run_eq(r->OfflineLogDirs[1], UUID_C);
    } else {
        EQ(r->OfflineLogDirs_n, 0);
    }
}

static void check_broker_heartbeat_response(const struct golden_vector *gv, const void *msg)
{
    (void)gv;
    const struct BrokerHeartbeatResponse *r = msg;
    EQ(r->ThrottleTimeMs, 3);
    EQ(r->ErrorCode, 0);
    assert_true(r->IsCaughtUp);
    assert_false(r->IsFenced);
    assert_true(r->ShouldShutDown);
}

static void check_unregister_broker_request(const struct golden_vector *gv, const void *msg)
{
    (void)gv;
    EQ(((const struct UnregisterBrokerRequest *)msg)->BrokerId, 7);
}

static void check_unregister_broker_response(const struct golden_vector *gv, const void *msg)
{
    const struct UnregisterBrokerResponse *r = msg;
    EQ(r->ThrottleTimeMs, 4);
    if (has_suffix(gv->name, "_ok")) {
        EQ(r->ErrorCode, 0);
        STR_NULL(r->ErrorMessage);
    } else {
        EQ(r->ErrorCode, 102);
        STR_EQ(r->ErrorMessage, "broker 7 is still registered");
    }
}

static void check_controller_registration_request(const struct golden_vector *gv, const void *msg)
{
    (void)gv;
    const struct ControllerRegistrationRequest *r = msg;
    EQ(r->ControllerId, 3001);
    uuid_run_eq(r->IncarnationId, INCARNATION);
    assert_true(r->ZkMigrationReady);
    EQ(r->Listeners_n, 1);
    CHECK_LISTENER(r->Listeners[0], "CONTROLLER", "ctrl-1.example", 9093, 0);
    EQ(r->Features_n, 1);
    CHECK_FEATURE(r->Features[0], "metadata.version", 1, 19);
}

static void check_controller_registration_response(const struct golden_vector *gv, const void *msg)
{
    (void)gv;
    const struct ControllerRegistrationResponse *r = msg;
    EQ(r->ThrottleTimeMs, 4);
    EQ(r->ErrorCode, 0);
    STR_NULL(r->ErrorMessage);
}

static void check_allocate_producer_ids_request(const struct golden_vector *gv, const void *msg)
{
    (void)gv;
    const struct AllocateProducerIdsRequest *r = msg;
    EQ(r->BrokerId, 7);
    EQ(r->BrokerEpoch, INT64_C(5000000002));
}

static void check_allocate_producer_ids_response(const struct golden_vector *gv, const void *msg)
{
    (void)gv;
    const struct AllocateProducerIdsResponse *r = msg;
    EQ(r->ThrottleTimeMs, 2);
    EQ(r->ErrorCode, 0);
    EQ(r->ProducerIdStart, 3000);
    EQ(r->ProducerIdLen, 1000);
}

/* An Envelope carries a whole UnregisterBroker request frame (header v2, client "adminclient-1",
 * correlation id 77) and its response frame: both are read back through Ferry's header and codec. */
static void check_envelope_request(const struct golden_vector *gv, const void *msg)
{
    const struct EnvelopeRequest *r = msg;
    struct proto_reader in;
    proto_reader_init(&in, r->RequestData.p, (size_t)r->RequestData.len);
    struct proto_request_header h;
    EQ(proto_read_request_header(&in, &h), 0);
    EQ(h.api_key, 64);
    EQ(h.api_version, 0);
    EQ(h.correlation_id, 77);
    STR_EQ(h.client_id, "adminclient-1");
    struct proto_arena a;
    proto_arena_init(&a);
    check_unregister_broker_request(gv, decode_body(&proto_msg_UnregisterBrokerRequest, r->RequestData.p + in.pos,
                                                    proto_reader_left(&in), &a));
    proto_arena_free(&a);
    if (has_suffix(gv->name, "_null_principal")) {
        EQ(r->RequestPrincipal.len, -1);
        EQ(r->ClientHostAddress.len, 0);
    } else {
        bytes_eq(r->RequestPrincipal, (const uint8_t *)"\x00\x04User\x00\x05"
                                                       "alice",
                 13);
        bytes_eq(r->ClientHostAddress, (const uint8_t[]){10, 0, 0, 7}, 4);
    }
}

static void check_envelope_response(const struct golden_vector *gv, const void *msg)
{
    const struct EnvelopeResponse *r = msg;
    if (has_suffix(gv->name, "_null_data")) {
        EQ(r->ResponseData.len, -1);
        EQ(r->ErrorCode, 41);
        return;
    }
    EQ(r->ErrorCode, 0);
    struct proto_reader in;
    proto_reader_init(&in, r->ResponseData.p, (size_t)r->ResponseData.len);
    EQ(proto_read_i32(&in), 77);
    proto_skip_tags(&in); /* response header v1 */
    EQ(in.err, 0);
    struct proto_arena a;
    proto_arena_init(&a);
    const struct UnregisterBrokerResponse *inner = decode_body(
        &proto_msg_UnregisterBrokerResponse, r->ResponseData.p + in.pos, proto_reader_left(&in), &a);
    EQ(inner->ThrottleTimeMs, 4);
    EQ(inner->ErrorCode, 0);
    STR_NULL(inner->ErrorMessage);
    proto_arena_free(&a);
}

static void check_describe_cluster_request(const struct golden_vector *gv, const void *msg)
{
    const struct DescribeClusterRequest *r = msg;
    assert_true(r->IncludeClusterAuthorizedOperations == (gv->version == 0));
    EQ(r->EndpointType, gv->version >= 1 ? 2 : 1); /* v0 has none: Kafka's default, brokers */
}

static void check_describe_cluster_response(const struct golden_vector *gv, const void *msg)
{
    const struct DescribeClusterResponse *r = msg;
    EQ(r->ThrottleTimeMs, 0);
    EQ(r->ClusterAuthorizedOperations, INT32_MIN);
    if (has_suffix(gv->name, "_mismatched")) {
        EQ(r->ErrorCode, 114);
        STR_EQ(r->ErrorMessage,
               "The request was sent to an endpoint of type CONTROLLER, but we wanted an endpoint of type BROKER");
        EQ(r->EndpointType, 1);
        STR_EQ(r->ClusterId, "");
        EQ(r->ControllerId, -1);
        EQ(r->Brokers_n, 0);
        return;
    }
    EQ(r->ErrorCode, 0);
    STR_NULL(r->ErrorMessage);
    EQ(r->EndpointType, gv->version >= 1 ? 2 : 1);
    STR_EQ(r->ClusterId, CLUSTER);
    EQ(r->ControllerId, 3001);
    EQ(r->Brokers_n, 2);
    EQ(r->Brokers[0].BrokerId, 3001);
    STR_EQ(r->Brokers[0].Host, "ctrl-1.example");
    EQ(r->Brokers[0].Port, 9093);
    STR_NULL(r->Brokers[0].Rack);
    EQ(r->Brokers[1].BrokerId, 3002);
    STR_EQ(r->Brokers[1].Host, "ctrl-2.example");
    EQ(r->Brokers[1].Port, 9094);
    STR_EQ(r->Brokers[1].Rack, "rack-a");
}

/* ElectLeaders: "orders" [2, 0] and "payments" [] (v0 PREFERRED, v1-2 UNCLEAN), or every partition. */
static void check_elect_leaders_request(const struct golden_vector *gv, const void *msg)
{
    const struct ElectLeadersRequest *r = msg;
    if (has_suffix(gv->name, "_all")) {
        EQ(r->ElectionType, 0);
        EQ(r->TopicPartitions_n, -1);
        EQ(r->TimeoutMs, 60000);
        return;
    }
    EQ(r->ElectionType, gv->version >= 1 ? 1 : 0); /* v0 has none: Kafka's default, PREFERRED */
    EQ(r->TimeoutMs, 45000);
    EQ(r->TopicPartitions_n, 2);
    STR_EQ(r->TopicPartitions[0].Topic, "orders");
    const int32_t want[] = {2, 0};
    i32s_eq(r->TopicPartitions[0].Partitions, r->TopicPartitions[0].Partitions_n, want, 2);
    STR_EQ(r->TopicPartitions[1].Topic, "payments");
    EQ(r->TopicPartitions[1].Partitions_n, 0);
}

static void check_elect_leaders_response(const struct golden_vector *gv, const void *msg)
{
    const struct ElectLeadersResponse *r = msg;
    if (has_suffix(gv->name, "_not_controller")) {
        EQ(r->ThrottleTimeMs, 0);
        EQ(r->ErrorCode, 41);
        EQ(r->ReplicaElectionResults_n, 1);
        STR_EQ(r->ReplicaElectionResults[0].Topic, "orders");
        EQ(r->ReplicaElectionResults[0].PartitionResult_n, 1);
        EQ(r->ReplicaElectionResults[0].PartitionResult[0].PartitionId, 1);
        EQ(r->ReplicaElectionResults[0].PartitionResult[0].ErrorCode, 41);
        STR_NULL(r->ReplicaElectionResults[0].PartitionResult[0].ErrorMessage);
        return;
    }
    EQ(r->ThrottleTimeMs, 6);
    EQ(r->ErrorCode, 0);
    EQ(r->ReplicaElectionResults_n, 2);
    const struct ElectLeadersResponse_ReplicaElectionResult *t = r->ReplicaElectionResults;
    STR_EQ(t[0].Topic, "orders");
    EQ(t[0].PartitionResult_n, 2);
    EQ(t[0].PartitionResult[0].PartitionId, 2);
    EQ(t[0].PartitionResult[0].ErrorCode, 0);
    STR_NULL(t[0].PartitionResult[0].ErrorMessage);
    EQ(t[0].PartitionResult[1].PartitionId, 0);
    EQ(t[0].PartitionResult[1].ErrorCode, 84);
    STR_EQ(t[0].PartitionResult[1].ErrorMessage, "Leader election not needed for topic partition.");
    STR_EQ(t[1].Topic, "payments");
    EQ(t[1].PartitionResult_n, 0);
}

/* AlterPartitionReassignments: "orders" 0 -> [2, 3], 1 cancelled (null replicas); the answer: done, and
 * NO_REASSIGNMENT_IN_PROGRESS. */
static void check_alter_reassignments_request(const struct golden_vector *gv, const void *msg)
{
    (void)gv;
    const struct AlterPartitionReassignmentsRequest *r = msg;
    EQ(r->TimeoutMs, 45000);
    EQ(r->Topics_n, 1);
    STR_EQ(r->Topics[0].Name, "orders");
    EQ(r->Topics[0].Partitions_n, 2);
    EQ(r->Topics[0].Partitions[0].PartitionIndex, 0);
    const int32_t want[] = {2, 3};
    i32s_eq(r->Topics[0].Partitions[0].Replicas, r->Topics[0].Partitions[0].Replicas_n, want, 2);
    EQ(r->Topics[0].Partitions[1].PartitionIndex, 1);
    EQ(r->Topics[0].Partitions[1].Replicas_n, -1);
}

static void check_alter_reassignments_response(const struct golden_vector *gv, const void *msg)
{
    (void)gv;
    const struct AlterPartitionReassignmentsResponse *r = msg;
    EQ(r->ThrottleTimeMs, 0);
    EQ(r->ErrorCode, 0);
    STR_NULL(r->ErrorMessage);
    EQ(r->Responses_n, 1);
    STR_EQ(r->Responses[0].Name, "orders");
    EQ(r->Responses[0].Partitions_n, 2);
    EQ(r->Responses[0].Partitions[0].PartitionIndex, 0);
    EQ(r->Responses[0].Partitions[0].ErrorCode, 0);
    STR_NULL(r->Responses[0].Partitions[0].ErrorMessage);
    EQ(r->Responses[0].Partitions[1].PartitionIndex, 1);
    EQ(r->Responses[0].Partitions[1].ErrorCode, 85);
    STR_EQ(r->Responses[0].Partitions[1].ErrorMessage, "No partition reassignment is in progress.");
}

/* ListPartitionReassignments: everything (null topics) or "orders" [0, 7]; the answer: "orders" 0 moving
 * from [1, 2] to [2, 3]. */
static void check_list_reassignments_request(const struct golden_vector *gv, const void *msg)
{
    const struct ListPartitionReassignmentsRequest *r = msg;
    if (has_suffix(gv->name, "_all")) {
        EQ(r->TimeoutMs, 60000);
        EQ(r->Topics_n, -1);
        return;
    }
    EQ(r->TimeoutMs, 45000);
    EQ(r->Topics_n, 1);
    STR_EQ(r->Topics[0].Name, "orders");
    const int32_t want[] = {0, 7};
    i32s_eq(r->Topics[0].PartitionIndexes, r->Topics[0].PartitionIndexes_n, want, 2);
}

static void check_list_reassignments_response(const struct golden_vector *gv, const void *msg)
{
    (void)gv;
    const struct ListPartitionReassignmentsResponse *r = msg;
    EQ(r->ErrorCode, 0);
    STR_NULL(r->ErrorMessage);
    EQ(r->Topics_n, 1);
    STR_EQ(r->Topics[0].Name, "orders");
    EQ(r->Topics[0].Partitions_n, 1);
    const struct ListPartitionReassignmentsResponse_OngoingPartitionReassignment *p = &r->Topics[0].Partitions[0];
    EQ(p->PartitionIndex, 0);
    const int32_t replicas[] = {2, 3, 1}, adding[] = {3}, removing[] = {1};
    i32s_eq(p->Replicas, p->Replicas_n, replicas, 3);
    i32s_eq(p->AddingReplicas, p->AddingReplicas_n, adding, 1);
    i32s_eq(p->RemovingReplicas, p->RemovingReplicas_n, removing, 1);
}

typedef void (*check_fn)(const struct golden_vector *gv, const void *msg);

static const struct {
    const struct proto_message *msg;
    check_fn check;
} checks[] = {
    {&proto_msg_VoteRequest, check_vote_request},
    {&proto_msg_VoteResponse, check_vote_response},
    {&proto_msg_BeginQuorumEpochRequest, check_begin_epoch_request},
    {&proto_msg_BeginQuorumEpochResponse, check_begin_epoch_response},
    {&proto_msg_EndQuorumEpochRequest, check_end_epoch_request},
    {&proto_msg_EndQuorumEpochResponse, check_end_epoch_response},
    {&proto_msg_DescribeQuorumRequest, check_describe_quorum_request},
    {&proto_msg_DescribeQuorumResponse, check_describe_quorum_response},
    {&proto_msg_FetchSnapshotRequest, check_fetch_snapshot_request},
    {&proto_msg_FetchSnapshotResponse, check_fetch_snapshot_response},
    {&proto_msg_FetchRequest, check_fetch_request},
    {&proto_msg_FetchResponse, check_fetch_response},
    {&proto_msg_BrokerRegistrationRequest, check_broker_registration_request},
    {&proto_msg_BrokerRegistrationResponse, check_broker_registration_response},
    {&proto_msg_BrokerHeartbeatRequest, check_broker_heartbeat_request},
    {&proto_msg_BrokerHeartbeatResponse, check_broker_heartbeat_response},
    {&proto_msg_UnregisterBrokerRequest, check_unregister_broker_request},
    {&proto_msg_UnregisterBrokerResponse, check_unregister_broker_response},
    {&proto_msg_ControllerRegistrationRequest, check_controller_registration_request},
    {&proto_msg_ControllerRegistrationResponse, check_controller_registration_response},
    {&proto_msg_AllocateProducerIdsRequest, check_allocate_producer_ids_request},
    {&proto_msg_AllocateProducerIdsResponse, check_allocate_producer_ids_response},
    {&proto_msg_EnvelopeRequest, check_envelope_request},
    {&proto_msg_EnvelopeResponse, check_envelope_response},
    {&proto_msg_DescribeClusterRequest, check_describe_cluster_request},
    {&proto_msg_DescribeClusterResponse, check_describe_cluster_response},
    {&proto_msg_ElectLeadersRequest, check_elect_leaders_request},
    {&proto_msg_ElectLeadersResponse, check_elect_leaders_response},
    {&proto_msg_AlterPartitionReassignmentsRequest, check_alter_reassignments_request},
    {&proto_msg_AlterPartitionReassignmentsResponse, check_alter_reassignments_response},
    {&proto_msg_ListPartitionReassignmentsRequest, check_list_reassignments_request},
    {&proto_msg_ListPartitionReassignmentsResponse, check_list_reassignments_response},
    {&proto_msg_LeaderChangeMessage, check_leader_change},
    {&proto_msg_SnapshotHeaderRecord, check_snapshot_header},
    {&proto_msg_SnapshotFooterRecord, check_snapshot_footer},
};

static check_fn find_check(const struct proto_message *m)
{
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        if (checks[i].msg == m)
            return checks[i].check;
    fail_msg("no check for %s", m->name);
    return NULL;
}

/* ---- the walk over one vector ---- */

/* The message a vector's bytes hold, found as a server finds it (by kind and api key) for frames. */
static const struct proto_message *vector_message(const struct kraft_vector *kv)
{
    if (kv->gv.kind == KRAFT_DATA)
        return kv->msg;
    const struct proto_message *m =
        proto_find(kv->gv.kind == GOLDEN_REQUEST ? PROTO_KIND_REQUEST : PROTO_KIND_RESPONSE, kv->gv.api_key);
    if (m != kv->msg)
        fail_msg("%s: api key %d finds %s, want %s", kv->gv.name, kv->gv.api_key, m ? m->name : "nothing",
                 kv->msg->name);
    return m;
}

/* Reads and checks the frame's header (request v1/v2, response v0/v1 as the generator wrote it); returns
 * the body offset. Control records have none. */
static size_t read_header(const struct golden_vector *gv, const struct proto_message *m, const uint8_t *p,
                          size_t len, struct proto_request_header *h)
{
    if (gv->kind == KRAFT_DATA)
        return 0;
    bool flex = proto_is_flexible(m, gv->version);
    struct proto_reader r;
    proto_reader_init(&r, p, len);
    if (gv->kind == GOLDEN_REQUEST) {
        EQ(proto_request_header_version(gv->api_key, gv->version), flex ? 2 : 1);
        EQ(proto_read_request_header(&r, h), 0);
        EQ(h->api_key, gv->api_key);
        EQ(h->api_version, gv->version);
        EQ(h->correlation_id, gv->correlation_id);
        if (gv->client_id)
            STR_EQ(h->client_id, gv->client_id);
        else
            STR_NULL(h->client_id);
    } else {
        EQ(proto_response_header_version(gv->api_key, gv->version), flex ? 1 : 0);
        EQ(proto_read_i32(&r), gv->correlation_id);
        if (flex)
            proto_skip_tags(&r);
        EQ(r.err, 0);
    }
    return r.pos;
}

/* Encodes header + body as Ferry would send them. */
static void encode_frame(const struct golden_vector *gv, const struct proto_request_header *h,
                         const struct proto_message *m, const void *msg, struct proto_writer *w)
{
    if (gv->kind == GOLDEN_REQUEST)
        proto_write_request_header(w, h);
    else if (gv->kind == GOLDEN_RESPONSE)
        proto_write_response_header(w, gv->api_key, gv->version, gv->correlation_id);
    EQ(proto_encode(m, gv->version, w, msg), 0);
}

/* Decodes a whole frame (header + body, nothing left over), checks its values, and appends its re-encoding
 * to w. The header must be `header_len` bytes long, unless that is SIZE_MAX (a re-encoding: dropped
 * header tags make it shorter). */
static void decode_check_encode(const struct kraft_vector *kv, const uint8_t *p, size_t len, size_t header_len,
                                struct proto_arena *a, struct proto_writer *w)
{
    const struct golden_vector *gv = &kv->gv;
    const struct proto_message *m = vector_message(kv);
    struct proto_request_header h;
    size_t body = read_header(gv, m, p, len, &h);
    if (header_len != SIZE_MAX && body != header_len)
        fail_msg("%s: header is %zu bytes, want %zu", gv->name, body, header_len);
    void *msg = proto_arena_alloc(a, m->body->size);
    assert_non_null(msg);
    struct proto_reader r;
    proto_reader_init(&r, p + body, len - body);
    int rc = proto_decode(m, gv->version, &r, a, msg);
    if (rc)
        fail_msg("%s: decode failed (%d) at body offset %zu", gv->name, rc, r.pos);
    if (proto_reader_left(&r))
        fail_msg("%s: decode left %zu of %zu body bytes", gv->name, proto_reader_left(&r), len - body);
    find_check(m)(gv, msg);
    encode_frame(gv, &h, m, msg, w);
}

static void expect_same(const char *name, const struct proto_writer *w, const uint8_t *want, size_t want_len)
{
    size_t n = w->len < want_len ? w->len : want_len, i = 0;
    while (i < n && w->buf[i] == want[i])
        i++;
    if (w->len != want_len || i < n)
        fail_msg("%s: re-encoded %zu bytes, want %zu; first difference at offset %zu (got 0x%02x, want 0x%02x)",
                 name, w->len, want_len, i, i < w->len ? w->buf[i] : 0, i < want_len ? want[i] : 0);
}

static void run_vector(void **state)
{
    const struct kraft_vector *kv = *state;
    struct proto_arena a;
    proto_arena_init(&a);
    struct proto_writer w;
    proto_writer_init(&w);
    decode_check_encode(kv, kv->gv.bytes, kv->gv.len, kv->gv.header_len, &a, &w);
    if (kv->gv.exact) {
        expect_same(kv->gv.name, &w, kv->gv.bytes, kv->gv.len);
    } else {
        /* Unknown tagged fields are dropped: what Ferry wrote must hold the same values and be stable. */
        assert_true(w.len < kv->gv.len);
        struct proto_writer w2;
        proto_writer_init(&w2);
        decode_check_encode(kv, w.buf, w.len, SIZE_MAX, &a, &w2);
        expect_same(kv->gv.name, &w2, w.buf, w.len);
        proto_writer_free(&w2);
    }
    proto_writer_free(&w);
    proto_arena_free(&a);
}

/* Reads a frame cut to its first `cut` bytes as a server or client would: header, then body. */
static int decode_prefix(const struct kraft_vector *kv, const struct proto_message *m, const uint8_t *p, size_t cut)
{
    const struct golden_vector *gv = &kv->gv;
    struct proto_reader r;
    proto_reader_init(&r, p, cut);
    if (gv->kind == GOLDEN_REQUEST) {
        struct proto_request_header h;
        int rc = proto_read_request_header(&r, &h);
        if (rc)
            return rc;
    } else if (gv->kind == GOLDEN_RESPONSE) {
        (void)proto_read_i32(&r);
        if (proto_is_flexible(m, gv->version))
            proto_skip_tags(&r);
        if (r.err)
            return FERRY_EPARSE;
    }
    struct proto_arena a;
    proto_arena_init(&a);
    void *msg = proto_arena_alloc(&a, m->body->size);
    int rc = msg ? proto_decode(m, gv->version, &r, &a, msg) : FERRY_ENOMEM;
    proto_arena_free(&a);
    return rc;
}

/* Every strict prefix of the frame (inside the header or inside the body) fails with FERRY_EPARSE; each is
 * read from an exact-size heap copy so that the sanitizer sees any read past its end. */
static void run_truncations(void **state)
{
    const struct kraft_vector *kv = *state;
    const struct proto_message *m = vector_message(kv);
    for (size_t cut = 0; cut < kv->gv.len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        assert_non_null(copy);
        memcpy(copy, kv->gv.bytes, cut);
        int rc = decode_prefix(kv, m, copy, cut);
        free(copy);
        if (rc != FERRY_EPARSE)
            fail_msg("%s: frame cut at %zu of %zu (header %zu) gave %d, want FERRY_EPARSE", kv->gv.name, cut,
                     kv->gv.len, kv->gv.header_len, rc);
    }
}

/* Failing the Nth allocation of the decode, then of the encode, gives FERRY_ENOMEM; nothing leaks (the
 * sanitizer's leak check runs at exit). */
static void run_alloc_failures(void **state)
{
    const struct kraft_vector *kv = *state;
    const struct golden_vector *gv = &kv->gv;
    const struct proto_message *m = vector_message(kv);
    void *msg = malloc(m->body->size);
    assert_non_null(msg);
    struct proto_arena a;
    int rc;
    long n = 0;
    do {
        proto_arena_init(&a);
        struct proto_reader r;
        proto_reader_init(&r, gv->bytes + gv->header_len, gv->len - gv->header_len);
        ferry_alloc_fail_after(n);
        rc = proto_decode(m, gv->version, &r, &a, msg);
        ferry_alloc_fail_after(-1);
        if (rc) {
            EQ(rc, FERRY_ENOMEM);
            proto_arena_free(&a);
        }
        assert_true(++n < 1000);
    } while (rc);
    n = 0;
    do {
        struct proto_writer w;
        proto_writer_init(&w);
        ferry_alloc_fail_after(n);
        rc = proto_encode(m, gv->version, &w, msg);
        ferry_alloc_fail_after(-1);
        if (rc == 0 && gv->exact)
            EQ(w.len, gv->len - gv->header_len);
        proto_writer_free(&w);
        if (rc)
            EQ(rc, FERRY_ENOMEM);
        assert_true(++n < 1000);
    } while (rc);
    proto_arena_free(&a);
    free(msg);
}

/* ---- version ranges and coverage ---- */

static bool have_exact(const struct proto_message *m, int16_t version)
{
    for (size_t i = 0; i < KRAFT_VECTOR_COUNT; i++)
        if (kraft_vectors[i].msg == m && kraft_vectors[i].gv.version == version && kraft_vectors[i].gv.exact)
            return true;
    return false;
}

/* messages.def's ranges equal Kafka 3.7's (for Fetch: it reaches 16 and is flexible from 12), the lookup
 * by api key finds the message, and each version has an exact vector. */
static void test_ranges_match_kafka_and_every_version_has_a_vector(void **state)
{
    (void)state;
    int missing = 0;
    for (size_t i = 0; i < KRAFT_RANGE_COUNT; i++) {
        const struct kraft_range *kr = &kraft_ranges[i];
        const struct proto_message *m = kr->msg;
        if (strcmp(m->name, kr->name) != 0)
            fail_msg("%s: descriptor is named %s", kr->name, m->name);
        EQ(m->api_key, kr->api_key);
        if (kr->api_key == 1)
            assert_true(m->min_version <= kr->min_version);
        else
            EQ(m->min_version, kr->min_version);
        EQ(m->max_version, kr->max_version);
        EQ(m->flexible_min, kr->flexible_min);
        if (kr->api_key >= 0) {
            bool req = has_suffix(kr->name, "Request");
            assert_ptr_equal(proto_find(req ? PROTO_KIND_REQUEST : PROTO_KIND_RESPONSE, kr->api_key), m);
            EQ(m->kind, req ? PROTO_KIND_REQUEST : PROTO_KIND_RESPONSE);
        } else {
            EQ(m->kind, PROTO_KIND_DATA);
        }
        for (int16_t v = kr->min_version; v <= kr->max_version; v++) {
            if (!have_exact(m, v)) {
                print_error("no exact golden vector for %s v%d\n", kr->name, v);
                missing++;
            }
        }
    }
    if (missing)
        fail_msg("%d (message, version) pairs have no golden vector; add them to scripts/golden_kraft.py", missing);
}

/* A version Ferry does not have is refused, not misread: Vote v3 decoding, BrokerRegistration v4
 * encoding. */
static void test_versions_outside_the_range_are_refused(void **state)
{
    (void)state;
    const struct kraft_vector *kv = find_vector("VoteRequest_v0");
    struct proto_arena a;
    proto_arena_init(&a);
    void *msg = proto_arena_alloc(&a, proto_msg_VoteRequest.body->size);
    assert_non_null(msg);
    struct proto_reader r;
    proto_reader_init(&r, kv->gv.bytes + kv->gv.header_len, kv->gv.len - kv->gv.header_len);
    EQ(proto_decode(&proto_msg_VoteRequest, 3, &r, &a, msg), FERRY_EUNSUPPORTED);
    struct proto_writer w;
    proto_writer_init(&w);
    EQ(proto_encode(&proto_msg_BrokerRegistrationRequest, 4, &w, msg), FERRY_EUNSUPPORTED);
    proto_writer_free(&w);
    proto_arena_free(&a);
}

int main(void)
{
    enum { PER_VECTOR = 3, FIXED = 2 };
    static struct CMUnitTest tests[KRAFT_VECTOR_COUNT * PER_VECTOR + FIXED];
    static char names[KRAFT_VECTOR_COUNT * PER_VECTOR][96];
    size_t n = 0;
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_ranges_match_kafka_and_every_version_has_a_vector);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_versions_outside_the_range_are_refused);
    static const struct {
        const char *suffix;
        CMUnitTestFunction fn;
    } kinds[PER_VECTOR] = {{"", run_vector}, {" truncated", run_truncations}, {" alloc-failures", run_alloc_failures}};
    for (size_t k = 0; k < PER_VECTOR; k++) {
        for (size_t i = 0; i < KRAFT_VECTOR_COUNT; i++) {
            char *name = names[k * KRAFT_VECTOR_COUNT + i];
            snprintf(name, sizeof names[0], "%s%s", kraft_vectors[i].gv.name, kinds[k].suffix);
            tests[n++] = (struct CMUnitTest){name, kinds[k].fn, NULL, NULL, (void *)&kraft_vectors[i]};
        }
    }
    return _cmocka_run_group_tests("proto_golden_kraft", tests, n, NULL, NULL);
}
