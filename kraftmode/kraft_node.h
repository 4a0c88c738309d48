/* kraft_node: a quorum-mode node's metadata side on the event loop (the I/O edge around the pure cores):
 * the metadata log as a Raft log (the core kraftmode/raft, driven by kraft_raft.c, peers by kraft_net.c),
 * the metadata image, and the quorum controller, which runs only on the leader.
 *
 * Roles: a voter of controller.quorum.voters (process.roles contains controller) takes part in elections;
 * any other node (process.roles=broker) follows the log as an observer. Every node applies the committed
 * records to its image and publishes deltas once caught up to the high watermark.
 *
 * Start (blocking, before the loop runs): checks the storage (kraft_storage_ensure), opens and recovers
 * the metadata log, loads the newest valid snapshot (snapshot.h; bad ones are set aside) and starts the
 * Raft core from quorum-state and the log; the batches after the snapshot are applied as they commit. A
 * single voter elects itself at once, before this returns (the election, its LeaderChange batch and the
 * commit of the log are fsynced in the calling thread); other nodes elect or find a leader on the loop.
 * A leader activates as the controller once its LeaderChange batch commits: bootstrap records on an empty
 * log (BeginTransaction, bootstrap.checkpoint's FeatureLevelRecord, ZkMigrationStateRecord NONE,
 * EndTransaction), an AbortTransactionRecord for a transaction left open by a crash, its
 * RegisterControllerRecord and, once per process, the local broker's registration (RegisterBrokerRecord
 * with BrokerEpoch = the offset of that record, then BrokerRegistrationChangeRecord to unfence it,
 * electing it leader of leaderless partitions whose ISR holds it), each proposed and applied once
 * committed.
 *
 * Writes: operations are queued and run one at a time on the active controller. For each, the controller
 * decides against the image as it stands after every earlier write (ctrl.h), the records are proposed as
 * one batch (more than 10000 records: several batches inside Begin/EndTransaction), and the caller's
 * completion runs once the quorum commits them and they are applied to the image (the publisher is told
 * the delta first). On a node that is not the active controller, admin operations answer NOT_CONTROLLER
 * (and kraft_node_submit's done gets FERRY_EUNSUPPORTED); an op in flight when the node loses the lead
 * gets the same (its records commit only if the next leader keeps them). The image is only ever built
 * from the committed log, so a restart reproduces it exactly.
 *
 * Ownership: the node belongs to the loop thread. Requests, arenas and responses handed to the admin
 * entry points stay the caller's and must live until `done` runs; responses are filled in the caller's
 * arena. Completions and the publisher are called from the loop, never from inside the call that
 * queued the operation. After kraft_node_stop no callback runs again: queued operations are dropped
 * (one already being written may still become durable) and the node frees itself once the loop has
 * run its last callbacks. An I/O error on the metadata log stops all writes (Kafka's controller would
 * exit): later operations complete with UNKNOWN_SERVER_ERROR. */
#ifndef FERRY_KRAFT_NODE_H
#define FERRY_KRAFT_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "broker/metadata/md_delta.h"
#include "broker/metadata/md_image.h"
#include "kraftmode/metalog_record.h"
#include "kraftmode/raft/raft.h"
#include "kraftmode/snapshot.h"
#include "proto_messages.h"

struct ferry_config;
struct kraft_node;

/* Whether cfg can run a metadata quorum node (quorum mode, 1 to RAFT_MAX_VOTERS voters): 0, or a negative
 * FERRY_E* with a one-line reason in err. kraft_node_start checks it first; the broker checks it before it
 * touches any log directory. */
int kraft_node_check_config(const struct ferry_config *cfg, char *err, size_t errlen);

/* Starts the node (see above). `cfg` must outlive the node. format_if_missing: format unformatted
 * directories instead of refusing to start (the no-config default node). On failure returns a negative
 * FERRY_E* with a one-line reason in err, and *out is NULL. */
int kraft_node_start(uv_loop_t *loop, const struct ferry_config *cfg, bool format_if_missing, struct kraft_node **out,
                     char *err, size_t errlen);

/* Begins a clean shutdown: no more callbacks; the metadata log is flushed and closed and the node freed
 * as the loop runs (uv_run until it returns). */
void kraft_node_stop(struct kraft_node *node);

/* Quorum state for the broker side (qbroker) and DescribeQuorum. is_active_controller: this node leads the
 * quorum and has activated as its controller in the current epoch (admin writes are decided here).
 * leader_id: the leader this node knows in its current epoch, -1 while there is none.
 * leader_endpoint: the leader's controller endpoint from controller.quorum.voters (host valid while the
 * node runs); false when no leader is known. */
bool kraft_node_is_active_controller(const struct kraft_node *node);
int32_t kraft_node_leader_id(const struct kraft_node *node);
bool kraft_node_leader_endpoint(const struct kraft_node *node, const char **host, uint16_t *port);
/* The Raft core (read-only use: raft_describe and the accessors of raft.h); NULL once stopped. */
const struct raft *kraft_node_raft(const struct kraft_node *node);

/* ---- the Raft transport: the network side lives in broker/api/raft_io.c (it has the network layer) ----
 * kraft_node_set_transport: where the core's outgoing messages go: requests to voters, and responses to
 * the requests kraft_node_raft_step delivered (matched by corr). Copied; NULL or a NULL send: messages are
 * dropped (a single voter). send is called from inside the node's calls and must not call back into it,
 * except for kraft_node_peer_lost and kraft_node_raft_step with a message that borrows no bytes (a Vote
 * response the transport makes itself): those are queued and given to the core once the actions being
 * performed are done.
 * kraft_node_raft_step: a message decoded by raft_wire for the core, which acts on it at once (the response
 * to a request may be sent from inside this call). 0, FERRY_EINVAL (not for this node, or the node stopped)
 * or FERRY_ENOMEM.
 * kraft_node_peer_lost: the connection to voter `id` was closed by it or refused (raft_peer_lost; not for
 * timeouts).
 * kraft_node_read_batches: a Fetch response's records: the log's whole batches from the one holding `from`,
 * each ending before `to`, at most max_bytes (but at least one batch) in *buf (ferry_malloc'd, NULL/0 when
 * none). kraft_node_read_snapshot: a FetchSnapshot chunk (snapshot_read_chunk, snapshot.h).
 * kraft_node_clock_to_wall_ms: add to the core's times (DescribeQuorum) to get wall-clock milliseconds. */
struct kraft_transport {
    void (*send)(void *arg, const struct raft_msg *m);
    void *arg;
};
void kraft_node_set_transport(struct kraft_node *node, const struct kraft_transport *t);
int kraft_node_raft_step(struct kraft_node *node, const struct raft_msg *m);
void kraft_node_peer_lost(struct kraft_node *node, int32_t id);
/* Graceful shutdown (SIGTERM), before kraft_node_stop: a leader resigns (raft_resign: EndQuorumEpoch to the
 * other voters, PreferredSuccessors most caught up first, so that one stands at once instead of after the
 * fetch timeout) and done(arg) runs once a newer epoch is known (the successor's BeginQuorumEpoch) or
 * controller.quorum.election.timeout.ms has passed; a node that is not the leader calls done at once. */
void kraft_node_resign(struct kraft_node *node, void (*done)(void *arg), void *arg);
int kraft_node_read_batches(struct kraft_node *node, int64_t from, int64_t to, size_t max_bytes, uint8_t **buf,
                            size_t *len);
int kraft_node_read_snapshot(struct kraft_node *node, struct raft_snapshot_id id, int64_t position, uint8_t *buf,
                             size_t max, size_t *got, int64_t *size);
int64_t kraft_node_clock_to_wall_ms(void);

/* The image: valid until the next loop iteration that commits a write. */
const struct md_image *kraft_node_image(const struct kraft_node *node);
int32_t kraft_node_id(const struct kraft_node *node);
int32_t kraft_node_epoch(const struct kraft_node *node);           /* the node's current Raft epoch */
int64_t kraft_node_end_offset(const struct kraft_node *node);      /* metadata log end offset */
int64_t kraft_node_committed_offset(const struct kraft_node *node); /* last offset applied to the image */
int64_t kraft_node_high_watermark(const struct kraft_node *node);  /* the quorum's commit as known here; -1 */
const char *kraft_node_cluster_id(const struct kraft_node *node);

/* The newest valid snapshot of the metadata log (snapshot.h): its id and the directory holding it (the
 * partition directory, valid while the node runs), for FetchSnapshot (snapshot_read_chunk). false when
 * there is none yet. Snapshots are taken after commits (metadata.log.max.record.bytes.between.snapshots,
 * metadata.log.max.snapshot.interval.ms) and loaded at start-up: see docs/architecture.md. */
bool kraft_node_latest_snapshot(const struct kraft_node *node, struct snapshot_id *id, const char **dir);

/* The publisher: called once (from inside this call) with a delta describing everything applied so far
 * (delta->initial set: the whole image after replay and start-up), then after every committed write
 * with that write's delta. One publisher; setting another replaces it, NULL removes it. */
void kraft_node_set_publisher(struct kraft_node *node,
                              void (*publish)(void *arg, const struct md_image *img, const struct md_delta *delta),
                              void *arg);

/* Proposes raw metadata records (one batch, or several inside Begin/EndTransaction past 10000 records) and
 * applies them once committed. recs and what they point to must stay valid until done(arg, rc) runs;
 * rc is 0 (committed and applied), FERRY_EUNSUPPORTED when this node is not (or stopped being) the active
 * controller (the records commit only if the next leader keeps them), or another FERRY_E* when the write
 * failed. Returns 0, or FERRY_EINVAL (n == 0,
 * a record that is not metadata) / FERRY_ENOMEM, in which case done is not called. */
int kraft_node_submit(struct kraft_node *node, const struct metalog_rec *recs, size_t n,
                      void (*done)(void *arg, int rc), void *arg);

/* Admin operations (see ctrl.h for the decisions). The response is filled in arena `a`; done(arg) runs
 * once the records are durable and applied (or at once, from the loop, when there are none). */
void kraft_create_topics(struct kraft_node *node, const struct CreateTopicsRequest *req, int16_t version,
                         struct proto_arena *a, struct CreateTopicsResponse *resp, void (*done)(void *arg), void *arg);
void kraft_delete_topics(struct kraft_node *node, const struct DeleteTopicsRequest *req, int16_t version,
                         struct proto_arena *a, struct DeleteTopicsResponse *resp, void (*done)(void *arg), void *arg);
void kraft_create_partitions(struct kraft_node *node, const struct CreatePartitionsRequest *req, int16_t version,
                             struct proto_arena *a, struct CreatePartitionsResponse *resp, void (*done)(void *arg),
                             void *arg);
void kraft_alter_configs(struct kraft_node *node, const struct AlterConfigsRequest *req, int16_t version,
                         struct proto_arena *a, struct AlterConfigsResponse *resp, void (*done)(void *arg), void *arg);
void kraft_incremental_alter_configs(struct kraft_node *node, const struct IncrementalAlterConfigsRequest *req,
                                     int16_t version, struct proto_arena *a,
                                     struct IncrementalAlterConfigsResponse *resp, void (*done)(void *arg), void *arg);

/* AllocateProducerIds (KIP-730's RPC shape, so that a broker of a later multi-node cluster calls the same
 * thing over the wire): the next block of producer ids for broker_id at broker_epoch (ctrl.h,
 * ctrl_allocate_producer_ids). done(arg, first, len, error) runs from the loop once the ProducerIdsRecord
 * is durable and applied; error is a Kafka error code (then first = -1, len = 0): STALE_BROKER_EPOCH, or
 * UNKNOWN_SERVER_ERROR when the write failed or memory ran out. Never called after kraft_node_stop. */
void kraft_allocate_producer_ids(struct kraft_node *node, int32_t broker_id, int64_t broker_epoch,
                                 void (*done)(void *arg, int64_t first, int32_t len, int16_t error), void *arg);

/* Tells the node the ports its listeners are bound to (names[i] -> ports[i], copied). An advertised
 * endpoint configured with port 0 is registered at start-up with port 0; once the broker's sockets are
 * open it calls this, and the broker is registered again with the real ports (a new RegisterBrokerRecord,
 * so a new broker epoch, and its unfencing). Nothing is written when the registration already matches. */
void kraft_node_listeners_bound(struct kraft_node *node, const char *const *names, const uint16_t *ports, size_t n);

/* Auto-creation for Metadata requests (num.partitions, default.replication.factor; the internal topics
 * with their own settings). The names are copied. done(arg) runs once the topics exist (or creation
 * failed: the reason is logged); done may be NULL. */
void kraft_auto_create_topics(struct kraft_node *node, const char *const *names, size_t n, void (*done)(void *arg),
                              void *arg);

#endif
