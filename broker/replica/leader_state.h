/* leader_state: the leader's view of one partition's replication, as a pure state machine (no I/O, time
 * passed in): each follower's fetch state (log end offset, last caught-up time), the high watermark, and
 * the ISR shrink / expand decisions, after Kafka 3.7's Partition.scala (updateFollowerFetchState,
 * maybeExpandIsr, maybeShrinkIsr, maybeIncrementLeaderHW, checkEnoughReplicasReachOffset).
 *
 * Rules kept from Kafka:
 *  - A follower's fetch at offset F when the leader's log ends at E: F >= E makes it caught up now; F at
 *    least the leader's log end at its previous fetch makes it caught up as of that previous fetch.
 *  - A follower is out of sync when its log end is below the leader's and it was last caught up more
 *    than replica.lag.time.max.ms ago (isCaughtUp).
 *  - A replica joins the ISR when its log end reaches the high watermark and the start offset of the
 *    leader's current epoch (so that it holds every record of earlier epochs the leader kept).
 *  - The high watermark is the smallest log end among the leader and the "maximal" ISR (the committed ISR
 *    plus any replica a pending expansion adds), and also waits for any caught-up replica that could join;
 *    it only moves forward.
 *  - An ISR change is proposed (AlterPartition: leader epoch, new ISR, partition epoch) and takes effect
 *    only when it comes back through the metadata image (rp_leader_sync); while one is pending no other is
 *    proposed, unless the image moves past it.
 *
 * Ownership: the caller owns the struct (embedded in its partition) and calls rp_leader_free. */
#ifndef FERRY_RP_LEADER_STATE_H
#define FERRY_RP_LEADER_STATE_H

#include <stdbool.h>
#include <stdint.h>

struct rp_follower {
    int32_t id;
    int64_t log_end;               /* -1 until it fetched in this leader epoch */
    int64_t last_caught_up_ms;     /* 0: never */
    int64_t last_fetch_ms;
    int64_t last_fetch_leader_end; /* the leader's log end at its previous fetch */
};

struct rp_leader {
    int32_t self;
    int32_t leader_epoch;
    int32_t partition_epoch;  /* of the committed state (from the image) */
    int64_t epoch_start;      /* the leader's log end when it became leader in this epoch */
    int64_t high_watermark;
    int32_t *isr;             /* committed ISR, from the image */
    int32_t nisr;
    struct rp_follower *followers; /* every replica but self */
    int32_t nfollowers;
    /* an AlterPartition in flight: the proposed ISR, for the partition epoch it was based on */
    bool pending;
    int32_t pending_epoch;
    int32_t *pending_isr;
    int32_t npending;
};

void rp_leader_init(struct rp_leader *l);
void rp_leader_free(struct rp_leader *l);

/* Takes the image's view of the partition (replicas, ISR, leader epoch, partition epoch). When the leader
 * epoch differs from the current one (this broker just became leader), the follower states are reset as
 * Kafka's makeLeader does: ISR members caught up as of now, the others never; epoch_start = leader_end and
 * the high watermark starts at `high_watermark` (what the log kept), capped at leader_end. Otherwise the
 * follower states of remaining replicas are kept. A pending proposal is dropped once the image's
 * partition epoch moves past the one it was based on. Returns 0 or FERRY_ENOMEM (state unchanged). */
int rp_leader_sync(struct rp_leader *l, int32_t self, int32_t leader_epoch, int32_t partition_epoch,
                   const int32_t *replicas, int32_t nreplicas, const int32_t *isr, int32_t nisr, int64_t leader_end,
                   int64_t high_watermark, int64_t now_ms);

/* A follower fetched at fetch_offset while the leader's log ended at leader_end. Returns false when
 * replica_id is not a replica of the partition (the caller answers NOT_LEADER_OR_FOLLOWER /
 * UNKNOWN_LEADER_EPOCH as Kafka does). */
bool rp_leader_follower_fetch(struct rp_leader *l, int32_t replica_id, int64_t fetch_offset, int64_t leader_end,
                              int64_t now_ms);

/* Recomputes the high watermark; returns true when it moved forward (the caller then wakes waiters). */
bool rp_leader_update_hw(struct rp_leader *l, int64_t leader_end, int64_t now_ms, int64_t lag_ms);

/* The ISR change to propose now, if any: shrink out-of-sync followers first (as Kafka's periodic
 * maybeShrinkIsr), else expand with one in-sync follower that is not in the ISR (eligible(id) says whether
 * the broker may join: registered, unfenced, not shutting down; NULL = all may). On true, out[0..*nout) is
 * the proposed ISR (out has room for the replicas + 1) and the proposal is recorded as pending; the
 * caller sends it (AlterPartition with l->leader_epoch and l->partition_epoch) and calls
 * rp_leader_alter_failed if it could not be sent or was refused. Never proposes an ISR without the
 * leader, nor while a proposal is pending. */
bool rp_leader_isr_change(struct rp_leader *l, int64_t leader_end, int64_t now_ms, int64_t lag_ms,
                          bool (*eligible)(void *arg, int32_t id), void *arg, int32_t *out, int32_t *nout);
/* The proposal was not accepted: a new one may be made. */
void rp_leader_alter_failed(struct rp_leader *l);

/* acks=all: true when every member of the committed ISR has the records below `offset`, i.e. the high
 * watermark reached it. */
static inline bool rp_leader_reached(const struct rp_leader *l, int64_t offset) { return l->high_watermark >= offset; }

#endif
