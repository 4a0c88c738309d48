/* raft_io: the network side of a quorum node's Raft I/O (see raft_io.c): peers to the other voters over
 * net_client, and the controller listener's Raft RPCs (Vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch v13+,
 * FetchSnapshot) into the node's core. Loop thread only. */
#ifndef FERRY_RAFT_IO_H
#define FERRY_RAFT_IO_H

struct broker;
struct net_request;

/* Connects the quorum node of b's metadata source to the network (nothing for a single voter or another
 * source). 0 or FERRY_ENOMEM. */
int api_raft_io_start(struct broker *b);
/* Drops the peers and the requests still waiting for the core; the node sends nothing afterwards. */
void api_raft_io_stop(struct broker *b);
/* A Raft RPC from the controller listener. */
void api_handle_raft(struct broker *b, struct net_request *req);

#endif
