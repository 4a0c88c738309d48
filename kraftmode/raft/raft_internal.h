/* raft_internal: the core's private state, shared by raft_*.c (raft.h is the public contract). Everything
 * here belongs to one struct raft, driven from one thread. */
#ifndef FERRY_RAFT_INTERNAL_H
#define FERRY_RAFT_INTERNAL_H

#include "kraftmode/raft/raft.h"

#define RAFT_NEVER INT64_MAX
#define RAFT_PROPOSALS_PER_INPUT 64 /* raft_propose calls allowed between two raft_actions_clear */
#define RAFT_MAX_PENDING_LOG 256 /* log actions awaiting fsync tracked for durable-end bookkeeping */

/* What the leader knows of one replica. */
struct raft_progress {
    int32_t id;
    int64_t end_offset; /* -1: unknown */
    int64_t last_fetch_ms;
    int64_t last_caught_up_ms;
    bool begin_acked;       /* BeginQuorumEpoch answered, or a Fetch seen */
    int64_t begin_sent_ms;  /* last BeginQuorumEpoch sent */
    bool fetched_in_check;  /* fetched since the last check-quorum round */
    bool parked;            /* a Fetch waits in purgatory */
    struct raft_msg parked_req;
    int64_t parked_until;
};

/* A message held until what it depends on is durable. */
struct raft_deferred {
    struct raft_msg msg;
    uint64_t need_state_seq;
    int64_t need_log_end;
};

struct raft_pending_log {
    uint64_t seq;
    int64_t end_after; /* durable end once this action is fsynced (lowered by later truncations) */
};

struct raft {
    struct raft_config cfg;
    int32_t voters[RAFT_MAX_VOTERS];
    bool is_voter;
    int64_t now;
    bool fatal;

    /* election state (the persisted part: epoch, leader_id, voted_id) */
    enum raft_role role;
    int32_t epoch;
    int32_t leader_id;
    int32_t voted_id;
    int64_t election_deadline; /* election / fetch timeout, per role */
    int64_t leader_contact_ms; /* last answer from (or BeginQuorumEpoch of) the current leader */
    bool leader_gone;          /* the followed leader's connection closed or it sent EndQuorumEpoch, and it has
                                * not answered since (raft_peer_lost) */
    int64_t backoff_until;     /* candidate/prospective backoff: next election attempt (RAFT_NEVER: none) */
    uint32_t election_retries;
    bool votes_granted[RAFT_MAX_VOTERS];
    bool votes_rejected[RAFT_MAX_VOTERS];
    int64_t vote_sent_ms[RAFT_MAX_VOTERS];
    uint32_t vote_corr;        /* requests of the current election round carry it */

    /* leader */
    struct raft_progress progress[RAFT_MAX_VOTERS];
    struct raft_progress observers[RAFT_MAX_OBSERVERS];
    size_t nobservers;
    int64_t epoch_start_offset;
    int64_t hw; /* -1 unknown */
    int64_t check_quorum_deadline;
    int32_t granting[RAFT_MAX_VOTERS];
    size_t ngranting;
    int64_t end_epoch_sent_ms[RAFT_MAX_VOTERS]; /* resigned: EndQuorumEpoch resends */
    bool end_epoch_acked[RAFT_MAX_VOTERS];
    int32_t successors[RAFT_MAX_VOTERS]; /* resigned: PreferredSuccessors */
    size_t nsuccessors;

    /* follower */
    uint32_t fetch_corr;      /* outstanding Fetch/FetchSnapshot correlation id (0: none) */
    int64_t fetch_sent_ms;
    int32_t fetch_target;     /* whom the outstanding fetch went to */
    bool fetch_queued;        /* a Fetch is deferred (waits for durability) */
    bool snap_fetching;
    struct raft_snapshot_id snap_id;
    int64_t snap_position;

    /* log mirror */
    int64_t log_start;
    struct raft_snapshot_id snapshot; /* latest; end_offset 0: none */
    int64_t end;
    int64_t durable_end;
    struct raft_epoch_entry *epochs;
    size_t nepochs, capepochs;
    uint64_t log_seq, log_seq_durable;
    struct raft_pending_log pending[RAFT_MAX_PENDING_LOG];
    size_t npending;
    int64_t commit; /* reported */

    /* quorum-state writes */
    uint64_t state_seq, state_seq_durable;

    uint32_t next_corr;
    struct raft_action *acts;
    size_t nacts, capacts;
    struct raft_deferred *deferred;
    size_t ndeferred, capdeferred;
    struct raft_batch lc_batch; /* the LeaderChange batch an append action points to */
    struct raft_batch prop_batches[RAFT_PROPOSALS_PER_INPUT]; /* proposals since the last actions_clear */
    size_t nprop_batches;
};

/* raft_core.c: actions, deferral, persistence bookkeeping */
int raft_emit(struct raft *r, const struct raft_action *a);
int raft_send(struct raft *r, const struct raft_msg *m, int64_t need_log_end);
int raft_persist_state(struct raft *r);
int raft_set_fatal(struct raft *r, const char *reason);
int raft_release_deferred(struct raft *r);
int raft_update_commit(struct raft *r);
uint64_t raft_rand(struct raft *r, uint64_t bound);
int raft_voter_index(const struct raft *r, int32_t id);
size_t raft_majority(const struct raft *r);
/* The leader named in responses (LeaderId / CurrentLeader): only one this node leads or follows now; a
 * Resigned ex-leader, a Prospective that lost its leader, or a follower whose leader is gone names none. */
int32_t raft_live_leader(const struct raft *r);
uint32_t raft_new_corr(struct raft *r);

/* raft_log.c: the epoch cache and log actions */
int32_t raft_log_last_epoch(const struct raft *r);
/* The largest epoch <= `epoch` and its end offset (Kafka's endOffsetForEpoch). */
void raft_log_end_for_epoch(const struct raft *r, int32_t epoch, int32_t *out_epoch, int64_t *out_end);
int raft_log_append(struct raft *r, const struct raft_batch *b, size_t n);
int raft_log_truncate(struct raft *r, int64_t offset);
int raft_log_install_snapshot(struct raft *r, struct raft_snapshot_id id);
int raft_log_sync(struct raft *r);
void raft_log_on_persisted(struct raft *r, uint64_t seq);
/* Candidate (last_epoch, last_offset) at least as up to date as ours. */
bool raft_log_up_to_date(const struct raft *r, int32_t last_epoch, int64_t last_offset);

/* raft_election.c: roles and elections */
int raft_become_unattached(struct raft *r, int32_t epoch);
int raft_become_voted(struct raft *r, int32_t epoch, int32_t candidate);
int raft_become_follower(struct raft *r, int32_t epoch, int32_t leader);
int raft_become_prospective(struct raft *r);
int raft_become_candidate(struct raft *r);
int raft_become_leader(struct raft *r);
int raft_become_resigned(struct raft *r);
int raft_election_tick(struct raft *r);
int raft_handle_vote(struct raft *r, const struct raft_msg *m);
int raft_handle_vote_resp(struct raft *r, const struct raft_msg *m);
int raft_handle_begin_epoch(struct raft *r, const struct raft_msg *m);
int raft_handle_end_epoch(struct raft *r, const struct raft_msg *m);
int raft_handle_epoch_resp(struct raft *r, const struct raft_msg *m);
int raft_handle_peer_lost(struct raft *r, int32_t id);
/* The followed leader answered: it is not gone. */
void raft_leader_heard(struct raft *r);
void raft_reset_election_timer(struct raft *r);
/* §1.8 common response rules: 1 if the response must not be processed further. */
int raft_common_response(struct raft *r, const struct raft_msg *m, bool *stop);

/* raft_replication.c: Fetch, FetchSnapshot, high watermark, check-quorum */
int raft_handle_fetch(struct raft *r, const struct raft_msg *m);
int raft_handle_fetch_resp(struct raft *r, const struct raft_msg *m);
int raft_handle_fetch_snapshot(struct raft *r, const struct raft_msg *m);
int raft_handle_fetch_snapshot_resp(struct raft *r, const struct raft_msg *m);
int raft_send_fetch(struct raft *r);
int raft_replication_tick(struct raft *r);
int raft_leader_maybe_advance_hw(struct raft *r);
int raft_leader_complete_parked(struct raft *r, bool all);
void raft_leader_reset_progress(struct raft *r);

#endif
