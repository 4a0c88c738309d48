/* raft_wire: the codec between the Raft core's messages (struct raft_msg, kraftmode/raft/raft.h) and the
 * Kafka 3.7 requests and responses that carry them, plus DescribeQuorum's response. Pure: no I/O, no
 * clock; the I/O layer (kraft_node's network side) sends and receives the structs through broker/net.
 *
 *   RAFT_MSG_VOTE(_RESP)           Vote (52) v0
 *   RAFT_MSG_BEGIN_EPOCH(_RESP)    BeginQuorumEpoch (53) v0
 *   RAFT_MSG_END_EPOCH(_RESP)      EndQuorumEpoch (54) v0
 *   RAFT_MSG_FETCH(_RESP)          Fetch (1) v13-16 (topic id AAAAAAAAAAAAAAAAAAAAAQ)
 *   RAFT_MSG_FETCH_SNAPSHOT(_RESP) FetchSnapshot (59) v0
 * Every message names one topic, __cluster_metadata, with one partition, 0, as Kafka's KafkaRaftClient
 * builds them (RaftUtil.singleton*): the fields Kafka leaves at their defaults are left at Ferry's defaults
 * for them, which are Kafka's (e.g. Fetch MinBytes 0, IsolationLevel 0, SessionId 0, SessionEpoch -1).
 *
 * Outgoing (raft_wire_build): the request or response struct for a raft_msg, allocated in the caller's
 * arena. Requests carry the cluster id (ClusterId; NULL sends null, which Kafka 3.7 accepts). The
 * payload is the bytes the core does not hold: a Fetch response's Records (the I/O layer reads the log in
 * [records_from, records_to), whole batches, at most MaxBytes) and a FetchSnapshot response's chunk
 * (UnalignedRecords; Size comes from msg). A response is built at the version of the request it answers.
 *
 * Incoming requests (raft_wire_request): the checks Kafka's raft client makes before the Raft logic, in its
 * order: a non-null ClusterId other than ours gets INCONSISTENT_CLUSTER_ID (top level, no topics); a topic
 * list other than exactly [__cluster_metadata (Fetch: the metadata topic id) [0]] gets INVALID_REQUEST
 * (top level), except FetchSnapshot, whose wrong topic name or partition gets UNKNOWN_TOPIC_OR_PARTITION at
 * partition level for the topic and partition asked for. A refused request comes back as RAFT_WIRE_REFUSED
 * with the response to send: it never reaches the core. Otherwise the raft_msg for raft_step, with from =
 * CandidateId / LeaderId / ReplicaId (Fetch v15+: ReplicaState.ReplicaId) and to/corr from the caller.
 *
 * Incoming responses (raft_wire_response): the top-level and partition-level error codes fold into
 * msg.error (the first non-zero). A response with a top-level error and no partition carries epoch -1 and
 * leader -1 (the core ignores it as stale, as Kafka only logs top-level errors). Any other shape than one
 * topic with partition 0 is FERRY_EPARSE: the I/O layer drops it (the core resends on its timeout). A
 * Fetch response's Records are split into struct raft_batch (base offset, offsets in the batch = last
 * offset delta + 1, partitionLeaderEpoch, the bytes, pointing into the response; control batches are
 * batches like any other): each batch must be a valid v2 batch (CRC checked) following the previous one
 * (base offset = previous base + count), else FERRY_EPARSE (bad framing, non-contiguous) or
 * FERRY_ECORRUPT (bad CRC); a partial batch at the end (a leader cutting at MaxBytes) is left out, as
 * Kafka's follower does.
 *
 * Versions (raft_wire_version): the highest version both sides have, from the peer's ApiVersions range of
 * the RPC's API key. Ferry has BeginQuorumEpoch/EndQuorumEpoch/FetchSnapshot v0, Vote 0-2 and Fetch
 * 13-16; a Kafka 3.7 controller serves Fetch up to 16 (3.6: 15), so Ferry sends Fetch v16 to both Ferry and
 * 3.7 and v15 to 3.6. Fetch below 13 has no topic id and cannot carry Raft (kraft.md §1.5). Pre-vote
 * (KIP-996) needs Vote v2 (Kafka 4.0's PreVote field), which Ferry voters speak to each other; a Kafka 3.7
 * voter stops at v0, so raft_wire_build refuses a pre-vote to it (FERRY_EUNSUPPORTED) and the I/O layer
 * answers the core for it with UNSUPPORTED_VERSION (raft.h). Vote v1's directory ids (KIP-853) are sent as
 * zero and ignored; a response's pre-vote flag is the request's (the wire has none). */
#ifndef FERRY_RAFT_WIRE_H
#define FERRY_RAFT_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "kraftmode/raft/raft.h"
#include "proto_codec.h"

#define RAFT_WIRE_TOPIC "__cluster_metadata"
#define RAFT_WIRE_PARTITION 0
#define RAFT_WIRE_FETCH_MIN_VERSION 13
#define RAFT_WIRE_FETCH_MAX_VERSION 16
#define RAFT_WIRE_VOTE_MAX_VERSION 2
#define RAFT_WIRE_PRE_VOTE_VERSION 2 /* the first Vote version with PreVote */
#define RAFT_WIRE_FETCH_MAX_BYTES (8 * 1024 * 1024) /* Fetch MaxBytes, as KafkaRaftClient */

/* Kafka's Uuid.METADATA_TOPIC_ID, AAAAAAAAAAAAAAAAAAAAAQ. */
extern const proto_uuid raft_wire_topic_id;

/* raft_wire_request's result when the request is refused before the core (the response is in *refusal). */
#define RAFT_WIRE_REFUSED 1

/* The Kafka message a raft_msg of this type travels as (a request's or a response's). NULL if unknown. */
const struct proto_message *raft_wire_message(enum raft_msg_type type);

/* The request type of an API key (Vote 52, BeginQuorumEpoch 53, EndQuorumEpoch 54, Fetch 1, FetchSnapshot
 * 59). false for any other key. */
bool raft_wire_request_type(int16_t api_key, enum raft_msg_type *type);

/* The version to send a request of `type` at to a peer advertising [peer_min, peer_max] for its API key
 * (ApiVersions): the highest version both have; -1 when there is none (the peer cannot be a Raft peer). */
int16_t raft_wire_version(enum raft_msg_type type, int16_t peer_min, int16_t peer_max);

/* Builds the struct (of raft_wire_message(msg->type)) for an outgoing message at `version` in arena a.
 * cluster_id: requests' ClusterId (NULL: null). payload: FETCH_RESP's Records, FETCH_SNAPSHOT_RESP's
 * chunk (NULL/0: empty); ignored for other types. Returns 0, FERRY_EINVAL (unknown type),
 * FERRY_EUNSUPPORTED (a version raft_wire does not speak for that message, a pre-vote) or FERRY_ENOMEM. */
int raft_wire_build(const struct raft_msg *msg, int16_t version, const char *cluster_id, const void *payload,
                    size_t payload_len, struct proto_arena *a, void **out);

/* raft_wire_build, then the body's bytes appended to w (what goes after the request or response header). */
int raft_wire_encode(const struct raft_msg *msg, int16_t version, const char *cluster_id, const void *payload,
                     size_t payload_len, struct proto_writer *w);

/* Who a message is between, as the I/O layer knows it. */
struct raft_wire_peer {
    const char *cluster_id; /* this node's cluster id (requests: a different non-null ClusterId is refused) */
    int32_t self;           /* this node's id: msg.to */
    int32_t peer;           /* responses: the node the connection goes to: msg.from */
    uint32_t corr;          /* msg.corr (the Kafka correlation id) */
};

/* A decoded request of `type` at `version` (req: a struct of raft_wire_message(type)). Returns 0 with *msg
 * for raft_step; RAFT_WIRE_REFUSED with *refusal, a response struct in arena a to send at the same version
 * (never given to the core); FERRY_EINVAL (unknown type) or FERRY_ENOMEM. */
int raft_wire_request(enum raft_msg_type type, int16_t version, const void *req, const struct raft_wire_peer *p,
                      struct proto_arena *a, struct raft_msg *msg, void **refusal);

/* A decoded response of `type` (a *_RESP type) at `version`. Returns 0 with *msg for raft_step (its
 * batches, FETCH_RESP, in arena a and pointing into the response's records), FERRY_EPARSE (a shape or
 * records that cannot be a Raft answer), FERRY_ECORRUPT (a batch with a bad CRC), FERRY_EINVAL or
 * FERRY_ENOMEM. */
int raft_wire_response(enum raft_msg_type type, int16_t version, const void *resp, const struct raft_wire_peer *p,
                       struct proto_arena *a, struct raft_msg *msg);

/* Splits a records blob into batches (see the header comment): *batches in arena a (NULL when none).
 * Returns 0, FERRY_EPARSE, FERRY_ECORRUPT or FERRY_ENOMEM. */
int raft_wire_batches(const uint8_t *p, size_t len, struct proto_arena *a, const struct raft_batch **batches,
                      size_t *n);

/* DescribeQuorum (55) v0-1. raft_wire_describe_ok: a response from the leader's view d, whose times (in the
 * core's clock) become wall-clock milliseconds by adding clock_to_wall_ms (-1 stays -1). Voters first as
 * in d, then observers. raft_wire_describe_error: the response for a request this node does not answer:
 * the error (NOT_LEADER_OR_FOLLOWER from a non-leader) at partition level for each partition asked for,
 * as Kafka's DescribeQuorumRequest.getPartitionLevelErrorResponse. raft_wire_describe_check: 0 when the
 * request asks for exactly __cluster_metadata partition 0, else UNKNOWN_TOPIC_OR_PARTITION (answer it with
 * raft_wire_describe_error). Return 0 or FERRY_ENOMEM. */
int16_t raft_wire_describe_check(const struct DescribeQuorumRequest *req);
int raft_wire_describe_ok(const struct raft_describe *d, int64_t clock_to_wall_ms, struct proto_arena *a,
                          struct DescribeQuorumResponse *out);
int raft_wire_describe_error(const struct DescribeQuorumRequest *req, int16_t error, struct proto_arena *a,
                             struct DescribeQuorumResponse *out);

#endif
