/* kraft_ctrl_rpc: the quorum controller's broker-facing RPCs on the event loop (Kafka 3.7's ControllerApis
 * and QuorumController for BrokerRegistration, BrokerHeartbeat, UnregisterBroker, ControllerRegistration,
 * AllocateProducerIds, AlterPartition, ElectLeaders, AlterPartitionReassignments and
 * ListPartitionReassignments, plus the admin writes a broker forwards), and the controller's heartbeat tracker with its periodic fencing of silent brokers.
 *
 * Each request becomes one operation of the node's write queue (kraft_node.h): when it reaches the head
 * of the queue the decision (ctrl.h) runs against the image as every earlier write left it, with
 * next_offset = the metadata log's end offset (a broker's epoch is the offset of its RegisterBrokerRecord)
 * and the tracker; the records are written, and `done` runs once they are committed and applied
 * (durable before the reply). A node that is not the active controller answers NOT_CONTROLLER (the
 * node's queue refuses the operation; see kraft_node.h).
 *
 * The tracker (struct ctrl_heartbeats, Kafka's BrokerHeartbeatManager) is rebuilt from the image
 * whenever the node's Raft epoch differs from the one it was built in (a new term: Kafka's
 * ClusterControlManager.activate gives every broker a fresh session), and before every decision it is
 * reconciled with the image (a registration or fencing written by the node's own start-up path, not
 * through these decisions, is tracked as the image says). A timer checks the sessions: when the
 * unfenced broker heard from longest ago has been silent for broker.session.timeout.ms, an operation
 * fences it (ctrl_fence_stale_broker: leadership and ISR membership moved off it), then the next.
 *
 * Ownership: the caller (the broker, in quorum mode with the controller role) creates it next to the
 * node and stops it before stopping the node; it frees itself once its timer is closed. Everything runs
 * on the loop thread. Requests, arenas and responses stay the caller's until `done` runs. */
#ifndef FERRY_KRAFT_CTRL_RPC_H
#define FERRY_KRAFT_CTRL_RPC_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "kraftmode/ctrl.h"
#include "proto_buf.h"

struct kraft_node;
struct kraft_ctrl;

int kraft_ctrl_new(uv_loop_t *loop, struct kraft_node *node, int64_t session_timeout_ms, struct kraft_ctrl **out);
/* No callback runs afterwards (operations still queued on the node are dropped by kraft_node_stop). */
void kraft_ctrl_stop(struct kraft_ctrl *c);

/* True when api_key (at version) is a request kraft_ctrl_call serves: the controller listener's table. */
bool kraft_ctrl_serves(int16_t api_key);

/* Runs one controller request: req is the decoded request struct of api_key at version, resp a
 * default-initialised response struct of the same key filled in arena a. done(arg) runs from the loop
 * once the answer is final. Also DescribeQuorum (55), which a broker forwards in an Envelope: answered from
 * this node's Raft core before the call returns (done runs first; FERRY_ENOMEM, no callback, when the answer
 * does not fit). Returns 0, or FERRY_EINVAL for a key kraft_ctrl_serves refuses and not 55 (no callback). */
int kraft_ctrl_call(struct kraft_ctrl *c, int16_t api_key, int16_t version, const void *req, struct proto_arena *a,
                    void *resp, void (*done)(void *arg), void *arg);

/* The tracker, for tests and DescribeCluster-like reports (NULL-safe reads only). */
const struct ctrl_heartbeats *kraft_ctrl_heartbeats(const struct kraft_ctrl *c);

#endif
