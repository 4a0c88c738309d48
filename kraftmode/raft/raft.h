/* raft: the KRaft (KIP-595) consensus core, plus pre-vote (KIP-996), as a pure deterministic state machine.
 *
 * Owner: the raft module (kraftmode/raft, library ferry_raft). It links only ferry_proto/ferry_common: no
 * libuv, no files, no clocks, no randomness of its own. The I/O layer (a libuv adapter, or the simulator
 * in tests/sim) owns the network, the metadata log, the quorum-state file, snapshot files and the clock,
 * and drives the core like etcd raft's RawNode:
 *
 *   inputs  (each takes now_ms, the caller's millisecond clock, which must never go back):
 *     raft_tick            time passes (call at least every few tens of ms, and whenever raft_next_deadline
 *                          says)
 *     raft_step            a message arrived (request or response; see struct raft_msg)
 *     raft_propose         the leader's application appends an opaque record batch
 *     raft_state_persisted the quorum-state write with sequence `seq` is durable (written, fsynced, renamed)
 *     raft_log_persisted   every log action (append/truncate/snapshot install) up to sequence `seq` is fsynced
 *     raft_snapshot_done   the application wrote a snapshot; the log start may move up to it
 *     raft_resign          graceful shutdown (Leader -> Resigned, EndQuorumEpoch)
 *     raft_peer_lost       the connection to a peer was closed by it or refused (its process died)
 *   Each returns 0, FERRY_EINVAL (bad arguments: nothing changed) or FERRY_ENOMEM; after FERRY_ENOMEM, or a
 *   RAFT_ACT_FATAL action, the core is stopped (raft_fatal() is true, later input is ignored): free it and
 *   restart the node from disk, as Kafka's raft client exits.
 *   outputs: raft_actions() returns the actions produced so far, in order; the caller performs them in that
 *     order and then calls raft_actions_clear(). Do this after EVERY input call, before the next one:
 *     batch data pointers inside append actions are borrowed from that input (the fetch response or the
 *     proposal) and are only valid until the next call into the core.
 *
 * Durability (design principle 4). The core never releases a message whose meaning depends on state that
 * is not yet durable:
 *   - every message waits until every quorum-state write issued before it is persisted (so a Vote request,
 *     a granted vote, a BeginQuorumEpoch, a follower's Fetch in a new epoch are sent only after the
 *     transition they announce is in the quorum-state file);
 *   - a Fetch request (whose FetchOffset is the follower's append acknowledgement) and a Vote request
 *     (whose LastOffset the voters compare) wait until the log is fsynced up to that offset;
 *   - RAFT_ACT_COMMIT (the offset below which the application may apply and acknowledge) is at most the
 *     locally fsynced log end, on the leader as on followers; the leader counts its own log in the
 *     high watermark only up to its fsynced end.
 * Messages held back are released (appear in raft_actions) by the raft_state_persisted/raft_log_persisted
 * call that makes them safe.
 *
 * Mapping to Kafka 3.7 (every request names topic __cluster_metadata, partition 0; topic id
 * AAAAAAAAAAAAAAAAAAAAAQ for Fetch v13+):
 *   RAFT_MSG_VOTE(_RESP)          Vote (52) v0: CandidateEpoch=epoch, CandidateId=from, LastOffsetEpoch,
 *                                 LastOffset; response LeaderId/LeaderEpoch/VoteGranted. pre_vote=true is
 *                                 KIP-996's Vote v2 PreVote=true, which Kafka 3.7 does not have: set
 *                                 raft_config.pre_vote=false in a quorum with Java 3.7 voters.
 *   RAFT_MSG_BEGIN_EPOCH(_RESP)   BeginQuorumEpoch (53) v0: LeaderId=leader_id, LeaderEpoch=epoch.
 *   RAFT_MSG_END_EPOCH(_RESP)     EndQuorumEpoch (54) v0: LeaderId, LeaderEpoch, PreferredSuccessors.
 *   RAFT_MSG_FETCH(_RESP)         Fetch (1) v13+: CurrentLeaderEpoch=epoch, FetchOffset, LastFetchedEpoch,
 *                                 MaxWaitMs, ReplicaId=from. Response: HighWatermark, LogStartOffset,
 *                                 DivergingEpoch, CurrentLeader{leader_id, epoch}, SnapshotId, Records.
 *   RAFT_MSG_FETCH_SNAPSHOT(_RESP) FetchSnapshot (59) v0: CurrentLeaderEpoch, SnapshotId, Position,
 *                                 MaxBytes; response SnapshotId, CurrentLeader, Size, Position,
 *                                 UnalignedRecords.
 *   DescribeQuorum (55)           raft_describe() fills the leader's view (LeaderId, LeaderEpoch,
 *                                 HighWatermark, voters and observers with LogEndOffset and timestamps).
 *   quorum-state file             RAFT_ACT_PERSIST_STATE {epoch=leaderEpoch, leader_id, voted_id};
 *                                 currentVoters = raft_config.voters, appliedOffset 0 (quorum_state.h).
 * Errors in messages are Kafka codes (enum kafka_error, broker/common/ferry_err.h). Top-level and
 * partition-level error codes of the wire messages are folded into raft_msg.error by the I/O layer (the
 * first non-zero one), and an outgoing error is put in the partition-level field (top level for
 * cluster-id or topic errors the core never sees: the I/O layer answers those itself).
 *
 * Records are opaque: the core knows batches only by (base offset, record count, epoch). The I/O layer
 * encodes them (record batch v2, partitionLeaderEpoch = epoch) and keeps the bytes.
 *
 * What the I/O layer does (the simulator in tests/sim/raft_sim.c is a complete example):
 *   - start-up: read quorum-state (quorum_state_read) and recover the log and the latest snapshot, then
 *     raft_new with them; call raft_tick at once and whenever raft_next_deadline passes;
 *   - RAFT_ACT_SEND: encode the Kafka request/response and send it; keep the core's corr as the Kafka
 *     correlation id of a request and give it back in the decoded response. A request that gets no answer
 *     needs nothing: the core resends after request_timeout_ms. Drop responses that arrive after a
 *     reconnect to a restarted peer;
 *   - incoming requests: decode, check cluster id / topic / partition itself (INCONSISTENT_CLUSTER_ID,
 *     INVALID_REQUEST, UNKNOWN_TOPIC_OR_PARTITION), then raft_step; the answer comes back as a
 *     RAFT_ACT_SEND with the request's corr;
 *   - RAFT_ACT_PERSIST_STATE: write quorum-state (tmp, fsync, rename), in order, then
 *     raft_state_persisted(seq);
 *   - RAFT_ACT_LOG_APPEND / LOG_TRUNCATE / SNAPSHOT_INSTALL: apply to the metadata log (page cache) at
 *     once, in order; RAFT_ACT_LOG_SYNC: fsync off the loop, then raft_log_persisted(seq);
 *   - RAFT_ACT_COMMIT: apply the records below the offset to the metadata image and answer the writers;
 *   - RAFT_ACT_FATAL, or FERRY_ENOMEM from any call: stop the node.
 * Times in the core (DescribeQuorum's LastFetchTimestamp and LastCaughtUpTimestamp) are in the caller's
 * now_ms clock: drive the core with wall-clock milliseconds, or convert before answering DescribeQuorum. */
#ifndef FERRY_RAFT_H
#define FERRY_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAFT_MAX_VOTERS 64    /* as QUORUM_STATE_MAX_VOTERS */
#define RAFT_MAX_OBSERVERS 64 /* observers the leader remembers for DescribeQuorum (oldest forgotten) */
#define RAFT_NO_ID (-1)

enum raft_role {
    RAFT_UNATTACHED, /* epoch known, no leader, no vote cast (voters and observers) */
    RAFT_VOTED,      /* granted a vote in this epoch (voters) */
    RAFT_PROSPECTIVE, /* KIP-996: asking for pre-votes for epoch+1 without bumping the epoch (voters) */
    RAFT_CANDIDATE,  /* asking for votes in its own epoch (voters) */
    RAFT_LEADER,
    RAFT_FOLLOWER, /* knows the leader of its epoch and fetches from it (voters and observers) */
    RAFT_RESIGNED, /* ex-leader of this epoch, after shutdown or a failed check-quorum; not persisted */
};

const char *raft_role_name(enum raft_role role);

/* A snapshot id as in Kafka: end_offset exclusive, epoch of the last contained batch. {0, 0}: none. */
struct raft_snapshot_id {
    int64_t end_offset;
    int32_t epoch;
};

/* One record batch of the metadata log. data/len: the encoded batch bytes (opaque to the core; may be
 * NULL/0 when the I/O layer keeps the bytes elsewhere). leader_change: the batch the core asks a new leader
 * to write, a LeaderChangeMessage control batch (LeaderId = the leader, Voters = raft_config.voters,
 * GrantingVoters = raft_action.granting) that the I/O layer encodes itself (data is NULL). */
struct raft_batch {
    int64_t base_offset;
    int32_t count; /* records (offsets) in the batch, >= 1 */
    int32_t epoch; /* partitionLeaderEpoch */
    bool leader_change;
    const void *data;
    size_t len;
};

/* One entry of the leader-epoch cache (leader-epoch-checkpoint): `epoch` starts at `start_offset`. */
struct raft_epoch_entry {
    int32_t epoch;
    int64_t start_offset;
};

enum raft_msg_type {
    RAFT_MSG_VOTE,
    RAFT_MSG_VOTE_RESP,
    RAFT_MSG_BEGIN_EPOCH,
    RAFT_MSG_BEGIN_EPOCH_RESP,
    RAFT_MSG_END_EPOCH,
    RAFT_MSG_END_EPOCH_RESP,
    RAFT_MSG_FETCH,
    RAFT_MSG_FETCH_RESP,
    RAFT_MSG_FETCH_SNAPSHOT,
    RAFT_MSG_FETCH_SNAPSHOT_RESP,
};

const char *raft_msg_name(enum raft_msg_type type);

/* A message. Common fields:
 *   from, to   node ids (ReplicaId / CandidateId / LeaderId for requests; the I/O layer knows the peer of
 *              a response from its connection and sets `from`)
 *   corr       a request's correlation id chosen by the core; the I/O layer delivers the matching
 *              response with the same corr (Kafka's correlation id does this). Responses the core makes
 *              echo the request's corr.
 *   epoch      requests: CandidateEpoch / LeaderEpoch / CurrentLeaderEpoch. Responses: the responder's
 *              epoch (LeaderEpoch / CurrentLeader.LeaderEpoch).
 *   leader_id  requests: LeaderId of Begin/EndQuorumEpoch. Responses: the leader the responder knows in
 *              `epoch` (LeaderId / CurrentLeader.LeaderId), RAFT_NO_ID if none.
 *   error      responses: a Kafka error code (0 = NONE). */
struct raft_msg {
    enum raft_msg_type type;
    int32_t from;
    int32_t to;
    uint32_t corr;
    int32_t epoch;
    int32_t leader_id;
    int16_t error;
    union {
        struct {
            int32_t last_epoch;  /* LastOffsetEpoch: epoch of the candidate's last batch */
            int64_t last_offset; /* LastOffset: the candidate's log end offset */
            bool pre_vote;       /* KIP-996 (Vote v2); epoch is then the epoch it would stand in */
        } vote;
        struct {
            bool granted;
            bool pre_vote;
        } vote_resp;
        struct {
            int32_t preferred[RAFT_MAX_VOTERS]; /* PreferredSuccessors, most caught up first */
            size_t npreferred;
        } end_epoch;
        struct {
            int64_t fetch_offset;
            int32_t last_fetched_epoch;
            int32_t max_wait_ms;
        } fetch;
        struct {
            int64_t high_watermark; /* -1: unknown (a new leader before its first commit) */
            int64_t log_start_offset;
            int32_t diverging_epoch; /* -1: none; else DivergingEpoch{Epoch, EndOffset} */
            int64_t diverging_end_offset;
            struct raft_snapshot_id snapshot; /* end_offset -1: none; else SnapshotId to fetch */
            /* Outgoing (made by the core, a leader): send Records = the log's batches in
             * [records_from, records_to) (whole batches; the I/O layer may send fewer to respect MaxBytes,
             * ending on a batch boundary). Incoming (given to the core): the decoded batches; records_*
             * are ignored. */
            int64_t records_from;
            int64_t records_to;
            const struct raft_batch *batches;
            size_t nbatches;
        } fetch_resp;
        struct {
            struct raft_snapshot_id snapshot;
            int64_t position;
            int32_t max_bytes;
        } fetch_snapshot;
        struct {
            /* Outgoing (made by the core): the I/O layer reads up to max_bytes of snapshot `snapshot` from
             * `position`, fills size/data/len (POSITION_OUT_OF_RANGE unless 0 <= position < size). Incoming: all
             * filled. */
            struct raft_snapshot_id snapshot;
            int64_t size;
            int64_t position;
            int32_t max_bytes;
            const void *data;
            size_t len;
        } fetch_snapshot_resp;
    } u;
};

enum raft_action_type {
    RAFT_ACT_SEND,          /* send `msg` (to msg.to) */
    RAFT_ACT_PERSIST_STATE, /* write quorum-state {epoch, leader_id, voted_id, voters = config} durably, then
                             * call raft_state_persisted(seq) (writes complete in order) */
    RAFT_ACT_LOG_APPEND,    /* append `batches` (base offsets contiguous from the current log end) */
    RAFT_ACT_LOG_TRUNCATE,  /* remove every batch at or above `offset` (and leader-epoch cache entries) */
    RAFT_ACT_SNAPSHOT_WRITE,   /* write snapshot `snapshot`'s bytes data/len at `position` of its .part file */
    RAFT_ACT_SNAPSHOT_INSTALL, /* freeze snapshot `snapshot`, then replace the whole log by an empty log
                                * starting at snapshot.end_offset; the application reloads its state from
                                * the snapshot. A log action (has a seq) */
    RAFT_ACT_LOG_SYNC,      /* fsync the log; then call raft_log_persisted(seq): every log action with a
                             * sequence <= seq is durable */
    RAFT_ACT_LOG_START,     /* the log start may move up to `offset` (segments wholly below it may go) */
    RAFT_ACT_COMMIT,        /* `offset`: every record below it is committed and locally durable; apply in
                             * order. Never decreases during one raft instance's life */
    RAFT_ACT_ROLE,          /* role changed: role, epoch, leader_id (informational; logged by the core too) */
    RAFT_ACT_FATAL,         /* an invariant broke (e.g. two leaders in one epoch, truncation below the
                             * commit): `reason`. Stop the node (Kafka exits). The core ignores input
                             * after this */
};

struct raft_action {
    enum raft_action_type type;
    uint64_t seq; /* PERSIST_STATE: state write sequence; log actions and LOG_SYNC: log sequence */
    struct raft_msg msg;
    int32_t epoch;     /* PERSIST_STATE, ROLE */
    int32_t leader_id; /* PERSIST_STATE, ROLE */
    int32_t voted_id;  /* PERSIST_STATE */
    enum raft_role role;
    int64_t offset; /* LOG_TRUNCATE, LOG_START, COMMIT */
    const struct raft_batch *batches; /* LOG_APPEND (borrowed: valid until the next input call) */
    size_t nbatches;
    const int32_t *granting; /* LOG_APPEND of a leader_change batch: GrantingVoters (owned by the core,
                              * valid until the next input call) */
    size_t ngranting;
    struct raft_snapshot_id snapshot; /* SNAPSHOT_WRITE, SNAPSHOT_INSTALL */
    int64_t position;                 /* SNAPSHOT_WRITE */
    const void *data;                 /* SNAPSHOT_WRITE (borrowed) */
    size_t len;
    const char *reason; /* FATAL (static string) */
};

/* Test-only fault injection, to prove the simulator catches broken safety rules. Never set in production. */
enum raft_test_bug {
    RAFT_BUG_NONE = 0,
    RAFT_BUG_VOTE_WITHOUT_LOG_CHECK = 1 << 0, /* grant votes without comparing logs */
    RAFT_BUG_ACK_BEFORE_FSYNC = 1 << 1,       /* send Fetch (the append ack) before the log is fsynced */
};

struct raft_config {
    int32_t node_id;
    const int32_t *voters; /* controller.quorum.voters ids (copied); the node is an observer if absent */
    size_t nvoters;        /* 1..RAFT_MAX_VOTERS */
    int32_t election_timeout_ms;      /* controller.quorum.election.timeout.ms: random in [T, 2T); 1000 */
    int32_t fetch_timeout_ms;         /* controller.quorum.fetch.timeout.ms; 2000. Check-quorum: 1.5x */
    int32_t election_backoff_max_ms;  /* controller.quorum.election.backoff.max.ms; 1000 */
    int32_t request_timeout_ms;       /* controller.quorum.request.timeout.ms: resend after; 2000 */
    int32_t fetch_max_wait_ms;        /* Fetch MaxWaitMs (long poll); 500 */
    int32_t fetch_snapshot_max_bytes; /* FetchSnapshot MaxBytes, and the most one answer carries; 8 MiB */
    bool pre_vote;                    /* KIP-996 pre-vote (not understood by Kafka 3.7 voters) */
    uint64_t (*rand)(void *arg);      /* the caller's seeded RNG (election timeouts, backoff, observers) */
    void *rand_arg;
    unsigned test_bugs; /* enum raft_test_bug bits; 0 */
};

/* Fills the Kafka defaults (timeouts above, pre_vote true); the caller sets node_id, voters, rand. */
void raft_config_defaults(struct raft_config *cfg);

/* What the I/O layer recovered from disk at start-up. */
struct raft_persisted {
    /* quorum-state (absent: epoch 0, ids -1). voters: the file's currentVoters, checked against the
     * config (NULL/0: not checked). */
    int32_t epoch;
    int32_t leader_id;
    int32_t voted_id;
    const int32_t *voters;
    size_t nvoters;
    /* the log after recovery */
    int64_t log_start_offset;        /* == snapshot.end_offset when a snapshot exists, else 0 */
    struct raft_snapshot_id snapshot; /* latest snapshot; {0,0} if none */
    int64_t log_end_offset;
    const struct raft_epoch_entry *epochs; /* leader-epoch cache, ascending; entries wholly below the log
                                            * start may be omitted */
    size_t nepochs;
};

struct raft;

/* Creates the core (state as in KRaft's start-up rules: a leader restarts Resigned in its epoch, a
 * self-vote restarts Candidate, another vote Voted, a known leader Follower, else Unattached; a file epoch
 * below the log's last epoch becomes Unattached at that epoch). The first actions (e.g. a persist, the
 * single voter's election) are produced by the first raft_tick. Returns 0, FERRY_EINVAL (bad config, the
 * file's voters differ from the config, inconsistent log description) or FERRY_ENOMEM. */
int raft_new(const struct raft_config *cfg, const struct raft_persisted *p, int64_t now_ms, struct raft **out);
void raft_free(struct raft *r);

int raft_tick(struct raft *r, int64_t now_ms);
/* A message for this node (msg->to must be this node). Malformed fields get the Kafka error the protocol
 * defines (INVALID_REQUEST) in the response. Returns 0, FERRY_EINVAL (not for this node, unknown type) or
 * FERRY_ENOMEM. */
int raft_step(struct raft *r, int64_t now_ms, const struct raft_msg *msg);
/* Leader only: appends one batch of `count` records in the current epoch; *base_offset gets its offset.
 * data/len are borrowed for the append action. The batch is committed once RAFT_ACT_COMMIT passes
 * base_offset + count. FERRY_EINVAL when not the leader (the caller answers NOT_CONTROLLER), count < 1,
 * or more than 64 proposals since the last raft_actions_clear. */
int raft_propose(struct raft *r, int64_t now_ms, int32_t count, const void *data, size_t len, int64_t *base_offset);
int raft_state_persisted(struct raft *r, int64_t now_ms, uint64_t seq);
int raft_log_persisted(struct raft *r, int64_t now_ms, uint64_t seq);
/* The application wrote snapshot `id` (end_offset <= the commit offset, at a batch boundary whose last
 * batch has epoch id.epoch). The core serves it to replicas behind the new log start and emits
 * RAFT_ACT_LOG_START. FERRY_EINVAL if id is beyond the commit or not newer than the latest. */
int raft_snapshot_done(struct raft *r, int64_t now_ms, struct raft_snapshot_id id);
/* Graceful shutdown: a leader becomes Resigned and sends EndQuorumEpoch (others: nothing to do). */
int raft_resign(struct raft *r, int64_t now_ms);
/* The I/O layer's connection to peer `id` was closed by the peer or a new one refused (RST, EOF,
 * ECONNREFUSED: its process died or restarted), not merely slow (timeouts are not reported). A follower
 * whose leader that is treats the leader as gone until it answers again (a Ferry deviation from Kafka 3.7,
 * which waits for controller.quorum.fetch.timeout.ms): a voter stands for election at once (the first of
 * the other voters by id at once, the next ones after a staggered delay of election_backoff_max_ms / 10
 * each, plus jitter), with a pre-vote when pre_vote is on, so a spurious report costs no epoch while the
 * other voters still hear from the leader; an observer forgets the leader and asks the voters. A gone
 * leader is also what EndQuorumEpoch means. Voters grant pre-votes once their own leader is gone (or silent
 * for the fetch timeout), and name no leader in their answers meanwhile. An outstanding fetch to the peer
 * is resent at the next tick. Any id is accepted (unknown ids change nothing); FERRY_EINVAL for this
 * node's own id. */
int raft_peer_lost(struct raft *r, int64_t now_ms, int32_t id);

const struct raft_action *raft_actions(const struct raft *r, size_t *n);
void raft_actions_clear(struct raft *r);
/* The earliest time a timer fires; raft_tick at or after it. */
int64_t raft_next_deadline(const struct raft *r);

/* Read-only state. */
enum raft_role raft_role(const struct raft *r);
int32_t raft_epoch(const struct raft *r);
int32_t raft_leader(const struct raft *r);
int32_t raft_voted_for(const struct raft *r);
int64_t raft_log_end(const struct raft *r);
int64_t raft_log_durable_end(const struct raft *r);
int32_t raft_last_epoch(const struct raft *r);
int64_t raft_commit(const struct raft *r);
int64_t raft_high_watermark(const struct raft *r); /* -1 if unknown */
bool raft_is_voter(const struct raft *r, int32_t id);
bool raft_fatal(const struct raft *r);

/* DescribeQuorum (55), answered by the leader only (others: FERRY_EINVAL, the caller answers
 * NOT_LEADER_OR_FOLLOWER). Replicas never heard from have log_end -1 and times -1. */
struct raft_replica_info {
    int32_t id;
    int64_t log_end_offset;
    int64_t last_fetch_ms;
    int64_t last_caught_up_ms;
};
struct raft_describe {
    int32_t leader_id;
    int32_t epoch;
    int64_t high_watermark;
    struct raft_replica_info voters[RAFT_MAX_VOTERS];
    size_t nvoters;
    struct raft_replica_info observers[RAFT_MAX_OBSERVERS];
    size_t nobservers;
};
int raft_describe(const struct raft *r, struct raft_describe *out);

#endif
