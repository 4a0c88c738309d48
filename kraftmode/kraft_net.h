/* kraft_net: the network side of a quorum node's Raft I/O (kraft_raft.c): outgoing Raft requests and
 * responses to the other voters (and, on a voter, to the observers that fetch from it), and the incoming
 * Raft RPCs of the controller listener.
 *
 * Outgoing: one net_client per peer (controller.quorum.voters gives host:port), ApiVersions first to pick
 * each RPC's version (raft_wire_version), then the core's requests one at a time in order; a Kafka
 * response goes back to the core (raft_wire_response, raft_step) with the core's corr. A failed connection
 * drops what was queued for the peer (the core resends after its request timeout) and is made again after
 * controller.quorum.retry.backoff.ms.
 * Incoming: kraft_net_request (called by the controller listener's dispatch) decodes the request with
 * raft_wire, answers refused ones itself, hands the rest to raft_step and keeps the request until the core's
 * response comes back (RAFT_ACT_SEND with the request's corr), which kraft_net_send encodes at the
 * request's version: a Fetch response with the log's whole batches in [records_from, records_to) within the
 * request's MaxBytes, a FetchSnapshot response with a chunk read by snapshot_read_chunk.
 *
 * Ownership: everything on the loop thread; kraft_net_stop closes the connections and drops the requests
 * still waiting (they are answered by nothing: their connections are closing with the server). */
#ifndef FERRY_KRAFT_NET_H
#define FERRY_KRAFT_NET_H

#include <stdbool.h>

#include "kraftmode/raft/raft.h"

struct kraft_node;
struct net_request;

int kraft_net_start(struct kraft_node *n, char *err, size_t errlen);
void kraft_net_send(struct kraft_node *n, const struct raft_msg *m);
void kraft_net_stop(struct kraft_node *n);

#endif
