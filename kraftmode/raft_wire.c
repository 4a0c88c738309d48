/* raft_wire: see raft_wire.h. */
#include "raft_wire.h"

#include <string.h>

#include "broker/common/ferry_err.h"
#include "record_batch.h"

const proto_uuid raft_wire_topic_id = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};

static const uint8_t no_bytes[1];

/* Allocates a one-element array of generated struct T into (ptr, n), or returns FERRY_ENOMEM. */
#define ONE(a, T, ptr, n)                                                                                   \
    do {                                                                                                    \
        (ptr) = proto_array_new((a), &desc_##T, 1);                                                         \
        if (!(ptr))                                                                                         \
            return FERRY_ENOMEM;                                                                            \
        (n) = 1;                                                                                            \
    } while (0)

/* The single metadata topic and its partition 0 of a generated Raft message: topic array field `topics`
 * (element type TT, name field `name`) holding one partition array (element type PT). Sets `part`. */
#define ONE_META_PARTITION(a, r, TT, PT, name, part)                                                        \
    do {                                                                                                    \
        ONE(a, TT, (r)->Topics, (r)->Topics_n);                                                             \
        (r)->Topics[0].name = proto_str_from(RAFT_WIRE_TOPIC);                                              \
        ONE(a, PT, (r)->Topics[0].Partitions, (r)->Topics[0].Partitions_n);                                 \
        (part) = (r)->Topics[0].Partitions;                                                                 \
    } while (0)

/* A decoded message holds exactly the metadata topic with partition 0. */
#define IS_META_PARTITION(r, name, index)                                                                   \
    ((r)->Topics_n == 1 && proto_str_eq((r)->Topics[0].name, RAFT_WIRE_TOPIC) &&                            \
     (r)->Topics[0].Partitions_n == 1 && (r)->Topics[0].Partitions[0].index == RAFT_WIRE_PARTITION)

static const struct {
    const struct proto_message *msg;
    int16_t min_version, max_version; /* what raft_wire speaks */
} wire[] = {
    [RAFT_MSG_VOTE] = {&proto_msg_VoteRequest, 0, RAFT_WIRE_VOTE_MAX_VERSION},
    [RAFT_MSG_VOTE_RESP] = {&proto_msg_VoteResponse, 0, RAFT_WIRE_VOTE_MAX_VERSION},
    [RAFT_MSG_BEGIN_EPOCH] = {&proto_msg_BeginQuorumEpochRequest, 0, 0},
    [RAFT_MSG_BEGIN_EPOCH_RESP] = {&proto_msg_BeginQuorumEpochResponse, 0, 0},
    [RAFT_MSG_END_EPOCH] = {&proto_msg_EndQuorumEpochRequest, 0, 0},
    [RAFT_MSG_END_EPOCH_RESP] = {&proto_msg_EndQuorumEpochResponse, 0, 0},
    [RAFT_MSG_FETCH] = {&proto_msg_FetchRequest, RAFT_WIRE_FETCH_MIN_VERSION, RAFT_WIRE_FETCH_MAX_VERSION},
    [RAFT_MSG_FETCH_RESP] = {&proto_msg_FetchResponse, RAFT_WIRE_FETCH_MIN_VERSION, RAFT_WIRE_FETCH_MAX_VERSION},
    [RAFT_MSG_FETCH_SNAPSHOT] = {&proto_msg_FetchSnapshotRequest, 0, 0},
    [RAFT_MSG_FETCH_SNAPSHOT_RESP] = {&proto_msg_FetchSnapshotResponse, 0, 0},
};

static bool known_type(enum raft_msg_type type)
{
    return (unsigned)type < sizeof wire / sizeof wire[0];
}

const struct proto_message *raft_wire_message(enum raft_msg_type type)
{
    return known_type(type) ? wire[type].msg : NULL;
}

bool raft_wire_request_type(int16_t api_key, enum raft_msg_type *type)
{
    for (enum raft_msg_type t = RAFT_MSG_VOTE; t <= RAFT_MSG_FETCH_SNAPSHOT; t += 2) {
        if (wire[t].msg->api_key == api_key) {
            *type = t;
            return true;
        }
    }
    return false;
}

int16_t raft_wire_version(enum raft_msg_type type, int16_t peer_min, int16_t peer_max)
{
    if (!known_type(type))
        return -1;
    int16_t hi = peer_max < wire[type].max_version ? peer_max : wire[type].max_version;
    int16_t lo = peer_min > wire[type].min_version ? peer_min : wire[type].min_version;
    return hi >= lo ? hi : -1;
}

static void *new_body(const struct proto_message *m, struct proto_arena *a)
{
    void *body = proto_arena_alloc(a, m->body->size);
    if (body)
        proto_struct_init(m->body, body);
    return body;
}

static proto_bytes bytes_of(const void *p, size_t len)
{
    return (proto_bytes){p ? p : no_bytes, (int32_t)len};
}

/* ---- outgoing ---- */

static int build_vote(const struct raft_msg *m, proto_str cluster, struct proto_arena *a, struct VoteRequest *r)
{
    struct VoteRequest_PartitionData *p;
    r->ClusterId = cluster;
    r->VoterId = m->to; /* v1+; directory ids stay zero (static voters) */
    ONE_META_PARTITION(a, r, VoteRequest_TopicData, VoteRequest_PartitionData, TopicName, p);
    /* a pre-vote carries the sender's epoch on the wire (Kafka 4.0), the core the one it would stand in */
    p->CandidateEpoch = m->u.vote.pre_vote ? m->epoch - 1 : m->epoch;
    p->CandidateId = m->from;
    p->LastOffsetEpoch = m->u.vote.last_epoch;
    p->LastOffset = m->u.vote.last_offset;
    p->PreVote = m->u.vote.pre_vote; /* v2+ */
    return 0;
}

static int build_vote_resp(const struct raft_msg *m, struct proto_arena *a, struct VoteResponse *r)
{
    struct VoteResponse_PartitionData *p;
    ONE_META_PARTITION(a, r, VoteResponse_TopicData, VoteResponse_PartitionData, TopicName, p);
    p->ErrorCode = m->error;
    p->LeaderId = m->leader_id;
    p->LeaderEpoch = m->epoch;
    p->VoteGranted = m->u.vote_resp.granted;
    return 0;
}

static int build_begin(const struct raft_msg *m, proto_str cluster, struct proto_arena *a,
                       struct BeginQuorumEpochRequest *r)
{
    struct BeginQuorumEpochRequest_PartitionData *p;
    r->ClusterId = cluster;
    ONE_META_PARTITION(a, r, BeginQuorumEpochRequest_TopicData, BeginQuorumEpochRequest_PartitionData, TopicName, p);
    p->LeaderId = m->leader_id;
    p->LeaderEpoch = m->epoch;
    return 0;
}

/* BeginQuorumEpoch and EndQuorumEpoch responses: distinct generated types of the same shape. */
#define BUILD_EPOCH_RESP(a, m, r, T)                                                                        \
    do {                                                                                                    \
        struct T##_PartitionData *p_;                                                                       \
        ONE_META_PARTITION(a, r, T##_TopicData, T##_PartitionData, TopicName, p_);                          \
        p_->ErrorCode = (m)->error;                                                                         \
        p_->LeaderId = (m)->leader_id;                                                                      \
        p_->LeaderEpoch = (m)->epoch;                                                                       \
    } while (0)

static int build_begin_resp(const struct raft_msg *m, struct proto_arena *a, struct BeginQuorumEpochResponse *r)
{
    BUILD_EPOCH_RESP(a, m, r, BeginQuorumEpochResponse);
    return 0;
}

static int build_end_resp(const struct raft_msg *m, struct proto_arena *a, struct EndQuorumEpochResponse *r)
{
    BUILD_EPOCH_RESP(a, m, r, EndQuorumEpochResponse);
    return 0;
}

static int build_end(const struct raft_msg *m, proto_str cluster, struct proto_arena *a, struct EndQuorumEpochRequest *r)
{
    struct EndQuorumEpochRequest_PartitionData *p;
    r->ClusterId = cluster;
    ONE_META_PARTITION(a, r, EndQuorumEpochRequest_TopicData, EndQuorumEpochRequest_PartitionData, TopicName, p);
    p->LeaderId = m->leader_id;
    p->LeaderEpoch = m->epoch;
    size_t n = m->u.end_epoch.npreferred;
    if (n > RAFT_MAX_VOTERS)
        return FERRY_EINVAL;
    p->PreferredSuccessors = proto_arena_alloc(a, (n ? n : 1) * sizeof(int32_t));
    if (!p->PreferredSuccessors)
        return FERRY_ENOMEM;
    memcpy(p->PreferredSuccessors, m->u.end_epoch.preferred, n * sizeof(int32_t));
    p->PreferredSuccessors_n = (int32_t)n;
    return 0;
}

static int build_fetch(const struct raft_msg *m, int16_t version, proto_str cluster, struct proto_arena *a,
                       struct FetchRequest *r)
{
    r->ClusterId = cluster;
    if (version >= 15) {
        r->ReplicaState.ReplicaId = m->from;
        r->ReplicaState_isnull = false;
    } else {
        r->ReplicaId = m->from;
    }
    r->MaxWaitMs = m->u.fetch.max_wait_ms;
    r->MaxBytes = RAFT_WIRE_FETCH_MAX_BYTES;
    ONE(a, FetchRequest_FetchTopic, r->Topics, r->Topics_n);
    r->Topics[0].Topic = proto_str_from(RAFT_WIRE_TOPIC); /* written only below v13 */
    r->Topics[0].TopicId = raft_wire_topic_id;
    ONE(a, FetchRequest_FetchPartition, r->Topics[0].Partitions, r->Topics[0].Partitions_n);
    struct FetchRequest_FetchPartition *p = r->Topics[0].Partitions;
    p->Partition = RAFT_WIRE_PARTITION;
    p->CurrentLeaderEpoch = m->epoch;
    p->FetchOffset = m->u.fetch.fetch_offset;
    p->LastFetchedEpoch = m->u.fetch.last_fetched_epoch;
    return 0;
}

static int build_fetch_resp(const struct raft_msg *m, proto_bytes records, struct proto_arena *a,
                            struct FetchResponse *r)
{
    ONE(a, FetchResponse_FetchableTopicResponse, r->Responses, r->Responses_n);
    r->Responses[0].Topic = proto_str_from(RAFT_WIRE_TOPIC); /* written only below v13 */
    r->Responses[0].TopicId = raft_wire_topic_id;
    ONE(a, FetchResponse_PartitionData, r->Responses[0].Partitions, r->Responses[0].Partitions_n);
    struct FetchResponse_PartitionData *p = r->Responses[0].Partitions;
    p->PartitionIndex = RAFT_WIRE_PARTITION;
    p->ErrorCode = m->error;
    p->HighWatermark = m->u.fetch_resp.high_watermark;
    p->LogStartOffset = m->u.fetch_resp.log_start_offset;
    if (m->u.fetch_resp.diverging_epoch >= 0) {
        p->DivergingEpoch.Epoch = m->u.fetch_resp.diverging_epoch;
        p->DivergingEpoch.EndOffset = m->u.fetch_resp.diverging_end_offset;
    }
    p->CurrentLeader.LeaderId = m->leader_id;
    p->CurrentLeader.LeaderEpoch = m->epoch;
    if (m->u.fetch_resp.snapshot.end_offset >= 0) {
        p->SnapshotId.EndOffset = m->u.fetch_resp.snapshot.end_offset;
        p->SnapshotId.Epoch = m->u.fetch_resp.snapshot.epoch;
    }
    p->AbortedTransactions_n = 0; /* Kafka's raft leader sends an empty list */
    p->Records = records;
    return 0;
}

static int build_fetch_snapshot(const struct raft_msg *m, proto_str cluster, struct proto_arena *a,
                                struct FetchSnapshotRequest *r)
{
    struct FetchSnapshotRequest_PartitionSnapshot *p;
    r->ClusterId = cluster;
    r->ReplicaId = m->from;
    r->MaxBytes = m->u.fetch_snapshot.max_bytes;
    ONE_META_PARTITION(a, r, FetchSnapshotRequest_TopicSnapshot, FetchSnapshotRequest_PartitionSnapshot, Name, p);
    p->CurrentLeaderEpoch = m->epoch;
    p->SnapshotId.EndOffset = m->u.fetch_snapshot.snapshot.end_offset;
    p->SnapshotId.Epoch = m->u.fetch_snapshot.snapshot.epoch;
    p->Position = m->u.fetch_snapshot.position;
    return 0;
}

static int build_fetch_snapshot_resp(const struct raft_msg *m, proto_bytes chunk, struct proto_arena *a,
                                     struct FetchSnapshotResponse *r)
{
    struct FetchSnapshotResponse_PartitionSnapshot *p;
    ONE_META_PARTITION(a, r, FetchSnapshotResponse_TopicSnapshot, FetchSnapshotResponse_PartitionSnapshot, Name, p);
    p->ErrorCode = m->error;
    p->SnapshotId.EndOffset = m->u.fetch_snapshot_resp.snapshot.end_offset;
    p->SnapshotId.Epoch = m->u.fetch_snapshot_resp.snapshot.epoch;
    p->CurrentLeader.LeaderId = m->leader_id;
    p->CurrentLeader.LeaderEpoch = m->epoch;
    p->Size = m->u.fetch_snapshot_resp.size;
    p->Position = m->u.fetch_snapshot_resp.position;
    p->UnalignedRecords = chunk;
    return 0;
}

int raft_wire_build(const struct raft_msg *msg, int16_t version, const char *cluster_id, const void *payload,
                    size_t payload_len, struct proto_arena *a, void **out)
{
    *out = NULL;
    if (!known_type(msg->type) || payload_len > INT32_MAX)
        return FERRY_EINVAL;
    if (version < wire[msg->type].min_version || version > wire[msg->type].max_version)
        return FERRY_EUNSUPPORTED;
    if (msg->type == RAFT_MSG_VOTE && msg->u.vote.pre_vote && version < RAFT_WIRE_PRE_VOTE_VERSION)
        return FERRY_EUNSUPPORTED; /* a peer below Vote v2 (Kafka 3.7) has no pre-vote */
    void *body = new_body(wire[msg->type].msg, a);
    if (!body)
        return FERRY_ENOMEM;
    proto_str cluster = proto_str_from(cluster_id);
    proto_bytes data = bytes_of(payload, payload_len);
    int rc = FERRY_EINVAL;
    switch (msg->type) {
    case RAFT_MSG_VOTE: rc = build_vote(msg, cluster, a, body); break;
    case RAFT_MSG_VOTE_RESP: rc = build_vote_resp(msg, a, body); break;
    case RAFT_MSG_BEGIN_EPOCH: rc = build_begin(msg, cluster, a, body); break;
    case RAFT_MSG_BEGIN_EPOCH_RESP: rc = build_begin_resp(msg, a, body); break;
    case RAFT_MSG_END_EPOCH: rc = build_end(msg, cluster, a, body); break;
    case RAFT_MSG_END_EPOCH_RESP: rc = build_end_resp(msg, a, body); break;
    case RAFT_MSG_FETCH: rc = build_fetch(msg, version, cluster, a, body); break;
    case RAFT_MSG_FETCH_RESP: rc = build_fetch_resp(msg, data, a, body); break;
    case RAFT_MSG_FETCH_SNAPSHOT: rc = build_fetch_snapshot(msg, cluster, a, body); break;
    case RAFT_MSG_FETCH_SNAPSHOT_RESP: rc = build_fetch_snapshot_resp(msg, data, a, body); break;
    }
    if (rc == 0)
        *out = body;
    return rc;
}

int raft_wire_encode(const struct raft_msg *msg, int16_t version, const char *cluster_id, const void *payload,
                     size_t payload_len, struct proto_writer *w)
{
    struct proto_arena a;
    proto_arena_init(&a);
    void *body;
    int rc = raft_wire_build(msg, version, cluster_id, payload, payload_len, &a, &body);
    if (rc == 0)
        rc = proto_encode(wire[msg->type].msg, version, w, body);
    proto_arena_free(&a);
    return rc;
}

/* ---- incoming requests ---- */

/* The response refusing a request of `type`: a top-level error and no topics (Kafka's
 * RaftUtil.errorResponse). */
static int refuse(enum raft_msg_type type, int16_t error, struct proto_arena *a, void **refusal)
{
    void *body = new_body(wire[type + 1].msg, a);
    if (!body)
        return FERRY_ENOMEM;
    /* every Raft response body starts with its top-level ErrorCode, but FetchResponse and
     * FetchSnapshotResponse (ThrottleTimeMs first) */
    switch (type) {
    case RAFT_MSG_VOTE: ((struct VoteResponse *)body)->ErrorCode = error; break;
    case RAFT_MSG_BEGIN_EPOCH: ((struct BeginQuorumEpochResponse *)body)->ErrorCode = error; break;
    case RAFT_MSG_END_EPOCH: ((struct EndQuorumEpochResponse *)body)->ErrorCode = error; break;
    case RAFT_MSG_FETCH: ((struct FetchResponse *)body)->ErrorCode = error; break;
    case RAFT_MSG_FETCH_SNAPSHOT: ((struct FetchSnapshotResponse *)body)->ErrorCode = error; break;
    default: return FERRY_EINVAL;
    }
    *refusal = body;
    return RAFT_WIRE_REFUSED;
}

/* FetchSnapshot for another topic or partition: UNKNOWN_TOPIC_OR_PARTITION for the one asked for. */
static int refuse_snapshot_partition(const struct FetchSnapshotRequest *req, struct proto_arena *a, void **refusal)
{
    struct FetchSnapshotResponse *r = new_body(&proto_msg_FetchSnapshotResponse, a);
    if (!r)
        return FERRY_ENOMEM;
    ONE(a, FetchSnapshotResponse_TopicSnapshot, r->Topics, r->Topics_n);
    r->Topics[0].Name = req->Topics[0].Name;
    ONE(a, FetchSnapshotResponse_PartitionSnapshot, r->Topics[0].Partitions, r->Topics[0].Partitions_n);
    r->Topics[0].Partitions[0].Index = req->Topics[0].Partitions[0].Partition;
    r->Topics[0].Partitions[0].ErrorCode = KERR_UNKNOWN_TOPIC_OR_PARTITION;
    *refusal = r;
    return RAFT_WIRE_REFUSED;
}

static bool cluster_ok(proto_str requested, const struct raft_wire_peer *p)
{
    return requested.len < 0 || !p->cluster_id || proto_str_eq(requested, p->cluster_id);
}

static bool fetch_topic_ok(const struct FetchRequest *r)
{
    return r->Topics_n == 1 && proto_uuid_eq(r->Topics[0].TopicId, raft_wire_topic_id) &&
           r->Topics[0].Partitions_n == 1 && r->Topics[0].Partitions[0].Partition == RAFT_WIRE_PARTITION;
}

int raft_wire_request(enum raft_msg_type type, int16_t version, const void *req, const struct raft_wire_peer *p,
                      struct proto_arena *a, struct raft_msg *msg, void **refusal)
{
    *refusal = NULL;
    memset(msg, 0, sizeof *msg);
    msg->type = type;
    msg->to = p->self;
    msg->corr = p->corr;
    msg->leader_id = RAFT_NO_ID;
    switch (type) {
    case RAFT_MSG_VOTE: {
        const struct VoteRequest *r = req;
        if (!cluster_ok(r->ClusterId, p))
            return refuse(type, KERR_INCONSISTENT_CLUSTER_ID, a, refusal);
        if (!IS_META_PARTITION(r, TopicName, PartitionIndex))
            return refuse(type, KERR_INVALID_REQUEST, a, refusal);
        const struct VoteRequest_PartitionData *d = r->Topics[0].Partitions;
        msg->from = d->CandidateId;
        msg->epoch = d->PreVote && d->CandidateEpoch < INT32_MAX ? d->CandidateEpoch + 1 : d->CandidateEpoch;
        msg->u.vote.last_epoch = d->LastOffsetEpoch;
        msg->u.vote.last_offset = d->LastOffset;
        msg->u.vote.pre_vote = d->PreVote;
        return 0;
    }
    case RAFT_MSG_BEGIN_EPOCH: {
        const struct BeginQuorumEpochRequest *r = req;
        if (!cluster_ok(r->ClusterId, p))
            return refuse(type, KERR_INCONSISTENT_CLUSTER_ID, a, refusal);
        if (!IS_META_PARTITION(r, TopicName, PartitionIndex))
            return refuse(type, KERR_INVALID_REQUEST, a, refusal);
        const struct BeginQuorumEpochRequest_PartitionData *d = r->Topics[0].Partitions;
        msg->from = msg->leader_id = d->LeaderId;
        msg->epoch = d->LeaderEpoch;
        return 0;
    }
    case RAFT_MSG_END_EPOCH: {
        const struct EndQuorumEpochRequest *r = req;
        if (!cluster_ok(r->ClusterId, p))
            return refuse(type, KERR_INCONSISTENT_CLUSTER_ID, a, refusal);
        if (!IS_META_PARTITION(r, TopicName, PartitionIndex))
            return refuse(type, KERR_INVALID_REQUEST, a, refusal);
        const struct EndQuorumEpochRequest_PartitionData *d = r->Topics[0].Partitions;
        msg->from = msg->leader_id = d->LeaderId;
        msg->epoch = d->LeaderEpoch;
        /* more successors than a quorum can have voters: the first ones (most caught up) are kept */
        size_t n = d->PreferredSuccessors_n > 0 ? (size_t)d->PreferredSuccessors_n : 0;
        if (n > RAFT_MAX_VOTERS)
            n = RAFT_MAX_VOTERS;
        if (n)
            memcpy(msg->u.end_epoch.preferred, d->PreferredSuccessors, n * sizeof(int32_t));
        msg->u.end_epoch.npreferred = n;
        return 0;
    }
    case RAFT_MSG_FETCH: {
        const struct FetchRequest *r = req;
        if (!cluster_ok(r->ClusterId, p))
            return refuse(type, KERR_INCONSISTENT_CLUSTER_ID, a, refusal);
        if (version < RAFT_WIRE_FETCH_MIN_VERSION || !fetch_topic_ok(r))
            return refuse(type, KERR_INVALID_REQUEST, a, refusal);
        const struct FetchRequest_FetchPartition *d = r->Topics[0].Partitions;
        msg->from = version >= 15 ? r->ReplicaState.ReplicaId : r->ReplicaId;
        msg->epoch = d->CurrentLeaderEpoch;
        msg->u.fetch.fetch_offset = d->FetchOffset;
        msg->u.fetch.last_fetched_epoch = d->LastFetchedEpoch;
        msg->u.fetch.max_wait_ms = r->MaxWaitMs;
        return 0;
    }
    case RAFT_MSG_FETCH_SNAPSHOT: {
        const struct FetchSnapshotRequest *r = req;
        if (!cluster_ok(r->ClusterId, p))
            return refuse(type, KERR_INCONSISTENT_CLUSTER_ID, a, refusal);
        if (r->Topics_n != 1 || r->Topics[0].Partitions_n != 1)
            return refuse(type, KERR_INVALID_REQUEST, a, refusal);
        if (!IS_META_PARTITION(r, Name, Partition))
            return refuse_snapshot_partition(r, a, refusal);
        const struct FetchSnapshotRequest_PartitionSnapshot *d = r->Topics[0].Partitions;
        msg->from = r->ReplicaId;
        msg->epoch = d->CurrentLeaderEpoch;
        msg->u.fetch_snapshot.snapshot = (struct raft_snapshot_id){d->SnapshotId.EndOffset, d->SnapshotId.Epoch};
        msg->u.fetch_snapshot.position = d->Position;
        msg->u.fetch_snapshot.max_bytes = r->MaxBytes;
        return 0;
    }
    default: return FERRY_EINVAL;
    }
}

/* ---- incoming responses ---- */

int raft_wire_batches(const uint8_t *p, size_t len, struct proto_arena *a, const struct raft_batch **batches,
                      size_t *n)
{
    *batches = NULL;
    *n = 0;
    struct rb_iter it;
    const uint8_t *b;
    size_t blen;
    struct rb_header h;
    size_t count = 0;
    int rc;
    rb_iter_init(&it, p, len);
    while ((rc = rb_iter_next(&it, &b, &blen, &h)) == 1)
        count++;
    if (rc < 0)
        return rc;
    if (count == 0)
        return 0;
    struct raft_batch *out = proto_arena_alloc(a, count * sizeof *out);
    if (!out)
        return FERRY_ENOMEM;
    rb_iter_init(&it, p, len);
    for (size_t i = 0; i < count; i++) {
        (void)rb_iter_next(&it, &b, &blen, &h);
        rc = rb_validate(b, blen, &h);
        if (rc)
            return rc == FERRY_EUNSUPPORTED ? FERRY_EPARSE : rc;
        if (h.last_offset_delta < 0 || (i > 0 && h.base_offset != out[i - 1].base_offset + out[i - 1].count))
            return FERRY_EPARSE;
        out[i] = (struct raft_batch){.base_offset = h.base_offset,
                                     .count = h.last_offset_delta + 1,
                                     .epoch = h.partition_leader_epoch,
                                     .data = b,
                                     .len = blen};
    }
    *batches = out;
    *n = count;
    return 0;
}

/* The partition a response answers for, after its top-level error: 1 with *part set, 0 when the response
 * carries only a top-level error (no topics), FERRY_EPARSE for any other shape. */
#define META_RESPONSE_PARTITION(r, name, index, part)                                                       \
    (((r)->ErrorCode != 0 && (r)->Topics_n <= 0)                                                            \
         ? 0                                                                                                \
         : (IS_META_PARTITION(r, name, index) ? ((part) = (r)->Topics[0].Partitions, 1) : FERRY_EPARSE))

static int16_t fold(int16_t top, int16_t partition)
{
    return top ? top : partition;
}

static int fetch_response(int16_t version, const struct FetchResponse *r, struct proto_arena *a, struct raft_msg *msg)
{
    msg->u.fetch_resp.high_watermark = -1;
    msg->u.fetch_resp.log_start_offset = -1;
    msg->u.fetch_resp.diverging_epoch = -1;
    msg->u.fetch_resp.diverging_end_offset = -1;
    msg->u.fetch_resp.snapshot = (struct raft_snapshot_id){-1, -1};
    msg->u.fetch_resp.records_from = msg->u.fetch_resp.records_to = -1;
    msg->error = r->ErrorCode;
    if (r->ErrorCode != 0 && r->Responses_n <= 0)
        return 0;
    if (version < RAFT_WIRE_FETCH_MIN_VERSION || r->Responses_n != 1 ||
        !proto_uuid_eq(r->Responses[0].TopicId, raft_wire_topic_id) || r->Responses[0].Partitions_n != 1 ||
        r->Responses[0].Partitions[0].PartitionIndex != RAFT_WIRE_PARTITION)
        return FERRY_EPARSE;
    const struct FetchResponse_PartitionData *d = r->Responses[0].Partitions;
    msg->error = fold(r->ErrorCode, d->ErrorCode);
    msg->epoch = d->CurrentLeader.LeaderEpoch;
    msg->leader_id = d->CurrentLeader.LeaderId;
    msg->u.fetch_resp.high_watermark = d->HighWatermark;
    msg->u.fetch_resp.log_start_offset = d->LogStartOffset;
    if (d->DivergingEpoch.Epoch >= 0) {
        msg->u.fetch_resp.diverging_epoch = d->DivergingEpoch.Epoch;
        msg->u.fetch_resp.diverging_end_offset = d->DivergingEpoch.EndOffset;
    }
    if (d->SnapshotId.EndOffset >= 0)
        msg->u.fetch_resp.snapshot = (struct raft_snapshot_id){d->SnapshotId.EndOffset, d->SnapshotId.Epoch};
    if (msg->error || d->Records.len <= 0)
        return 0;
    return raft_wire_batches(d->Records.p, (size_t)d->Records.len, a, &msg->u.fetch_resp.batches,
                             &msg->u.fetch_resp.nbatches);
}

int raft_wire_response(enum raft_msg_type type, int16_t version, const void *resp, const struct raft_wire_peer *p,
                       struct proto_arena *a, struct raft_msg *msg)
{
    memset(msg, 0, sizeof *msg);
    msg->type = type;
    msg->from = p->peer;
    msg->to = p->self;
    msg->corr = p->corr;
    msg->epoch = -1;
    msg->leader_id = RAFT_NO_ID;
    int rc;
    switch (type) {
    case RAFT_MSG_VOTE_RESP: {
        const struct VoteResponse *r = resp;
        const struct VoteResponse_PartitionData *d = NULL;
        msg->error = r->ErrorCode;
        if ((rc = META_RESPONSE_PARTITION(r, TopicName, PartitionIndex, d)) <= 0)
            return rc;
        msg->error = fold(r->ErrorCode, d->ErrorCode);
        msg->epoch = d->LeaderEpoch;
        msg->leader_id = d->LeaderId;
        msg->u.vote_resp.granted = d->VoteGranted;
        return 0;
    }
    case RAFT_MSG_BEGIN_EPOCH_RESP: {
        const struct BeginQuorumEpochResponse *r = resp;
        const struct BeginQuorumEpochResponse_PartitionData *d = NULL;
        msg->error = r->ErrorCode;
        if ((rc = META_RESPONSE_PARTITION(r, TopicName, PartitionIndex, d)) <= 0)
            return rc;
        msg->error = fold(r->ErrorCode, d->ErrorCode);
        msg->epoch = d->LeaderEpoch;
        msg->leader_id = d->LeaderId;
        return 0;
    }
    case RAFT_MSG_END_EPOCH_RESP: {
        const struct EndQuorumEpochResponse *r = resp;
        const struct EndQuorumEpochResponse_PartitionData *d = NULL;
        msg->error = r->ErrorCode;
        if ((rc = META_RESPONSE_PARTITION(r, TopicName, PartitionIndex, d)) <= 0)
            return rc;
        msg->error = fold(r->ErrorCode, d->ErrorCode);
        msg->epoch = d->LeaderEpoch;
        msg->leader_id = d->LeaderId;
        return 0;
    }
    case RAFT_MSG_FETCH_RESP: return fetch_response(version, resp, a, msg);
    case RAFT_MSG_FETCH_SNAPSHOT_RESP: {
        const struct FetchSnapshotResponse *r = resp;
        const struct FetchSnapshotResponse_PartitionSnapshot *d = NULL;
        msg->error = r->ErrorCode;
        msg->u.fetch_snapshot_resp.snapshot = (struct raft_snapshot_id){-1, -1};
        if ((rc = META_RESPONSE_PARTITION(r, Name, Index, d)) <= 0)
            return rc;
        msg->error = fold(r->ErrorCode, d->ErrorCode);
        msg->epoch = d->CurrentLeader.LeaderEpoch;
        msg->leader_id = d->CurrentLeader.LeaderId;
        msg->u.fetch_snapshot_resp.snapshot = (struct raft_snapshot_id){d->SnapshotId.EndOffset, d->SnapshotId.Epoch};
        msg->u.fetch_snapshot_resp.size = d->Size;
        msg->u.fetch_snapshot_resp.position = d->Position;
        msg->u.fetch_snapshot_resp.data = d->UnalignedRecords.len > 0 ? d->UnalignedRecords.p : NULL;
        msg->u.fetch_snapshot_resp.len = d->UnalignedRecords.len > 0 ? (size_t)d->UnalignedRecords.len : 0;
        return 0;
    }
    default: return FERRY_EINVAL;
    }
}

/* ---- DescribeQuorum ---- */

int16_t raft_wire_describe_check(const struct DescribeQuorumRequest *req)
{
    return IS_META_PARTITION(req, TopicName, PartitionIndex) ? 0 : KERR_UNKNOWN_TOPIC_OR_PARTITION;
}

static int64_t wall(int64_t t, int64_t clock_to_wall_ms)
{
    return t < 0 ? -1 : t + clock_to_wall_ms;
}

static int replica_states(const struct raft_replica_info *in, size_t n, int64_t clock_to_wall_ms,
                          struct proto_arena *a, struct DescribeQuorumResponse_ReplicaState **out, int32_t *out_n)
{
    *out = proto_array_new(a, &desc_DescribeQuorumResponse_ReplicaState, (int32_t)n);
    if (!*out)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < n; i++)
        (*out)[i] = (struct DescribeQuorumResponse_ReplicaState){in[i].id, in[i].log_end_offset,
                                                                 wall(in[i].last_fetch_ms, clock_to_wall_ms),
                                                                 wall(in[i].last_caught_up_ms, clock_to_wall_ms)};
    *out_n = (int32_t)n;
    return 0;
}

int raft_wire_describe_ok(const struct raft_describe *d, int64_t clock_to_wall_ms, struct proto_arena *a,
                          struct DescribeQuorumResponse *out)
{
    struct DescribeQuorumResponse_PartitionData *p;
    proto_struct_init(proto_msg_DescribeQuorumResponse.body, out);
    ONE_META_PARTITION(a, out, DescribeQuorumResponse_TopicData, DescribeQuorumResponse_PartitionData, TopicName, p);
    p->LeaderId = d->leader_id;
    p->LeaderEpoch = d->epoch;
    p->HighWatermark = d->high_watermark;
    int rc = replica_states(d->voters, d->nvoters, clock_to_wall_ms, a, &p->CurrentVoters, &p->CurrentVoters_n);
    if (rc == 0)
        rc = replica_states(d->observers, d->nobservers, clock_to_wall_ms, a, &p->Observers, &p->Observers_n);
    return rc;
}

int raft_wire_describe_error(const struct DescribeQuorumRequest *req, int16_t error, struct proto_arena *a,
                             struct DescribeQuorumResponse *out)
{
    proto_struct_init(proto_msg_DescribeQuorumResponse.body, out);
    int32_t nt = req->Topics_n > 0 ? req->Topics_n : 0;
    out->Topics = proto_array_new(a, &desc_DescribeQuorumResponse_TopicData, nt);
    if (!out->Topics)
        return FERRY_ENOMEM;
    out->Topics_n = nt;
    for (int32_t t = 0; t < nt; t++) {
        const struct DescribeQuorumRequest_TopicData *in = &req->Topics[t];
        struct DescribeQuorumResponse_TopicData *o = &out->Topics[t];
        int32_t np = in->Partitions_n > 0 ? in->Partitions_n : 0;
        o->TopicName = in->TopicName;
        o->Partitions = proto_array_new(a, &desc_DescribeQuorumResponse_PartitionData, np);
        if (!o->Partitions)
            return FERRY_ENOMEM;
        o->Partitions_n = np;
        for (int32_t i = 0; i < np; i++) {
            o->Partitions[i].PartitionIndex = in->Partitions[i].PartitionIndex;
            o->Partitions[i].ErrorCode = error;
        }
    }
    return 0;
}
