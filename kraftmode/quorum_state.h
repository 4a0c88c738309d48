/* quorum_state: the Raft election state file `<metadata log dir>/__cluster_metadata-0/quorum-state`,
 * byte-compatible with Kafka 3.7's FileBasedStateStore (QuorumStateData v0 plus "data_version"):
 *
 *   {"clusterId":"","leaderId":1,"leaderEpoch":7,"votedId":-1,"appliedOffset":0,
 *    "currentVoters":[{"voterId":1}],"data_version":0}            (one line, no newline)
 *
 * Writes go to quorum-state.tmp, are fsynced, renamed over quorum-state and the directory is fsynced, all
 * before quorum_state_write returns: a transition takes effect only after it (durable transition). The
 * calls block (small file): the Raft I/O edge runs them at start-up or from a worker thread.
 * A file that cannot be parsed is deleted (with a warning) and reads as absent, so the node starts at
 * epoch 0; an unknown data_version is an error. */
#ifndef FERRY_QUORUM_STATE_H
#define FERRY_QUORUM_STATE_H

#include <stddef.h>
#include <stdint.h>

#define QUORUM_STATE_FILE "quorum-state"
#define QUORUM_STATE_MAX_VOTERS 64

struct quorum_state {
    int32_t leader_id;   /* -1: unknown */
    int32_t leader_epoch;
    int32_t voted_id;    /* -1: not voted */
    int32_t voters[QUORUM_STATE_MAX_VOTERS];
    size_t nvoters;
};

/* Unattached at epoch 0, no voters. */
void quorum_state_init(struct quorum_state *qs);

/* Reads `<partition_dir>/quorum-state`. Returns 0; FERRY_ENOTFOUND if absent (or unparseable: deleted);
 * FERRY_EUNSUPPORTED for an unknown data_version; FERRY_EIO for a read error. */
int quorum_state_read(const char *partition_dir, struct quorum_state *qs);

/* Writes durably (tmp, fsync, rename, fsync dir). 0, FERRY_EINVAL (too many voters) or FERRY_EIO. */
int quorum_state_write(const char *partition_dir, const struct quorum_state *qs);

/* The JSON text Kafka writes for qs (voters sorted ascending), in a ferry_malloc'd string (NULL on OOM). */
char *quorum_state_to_json(const struct quorum_state *qs);

#endif
