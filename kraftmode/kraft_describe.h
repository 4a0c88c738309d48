/* kraft_describe: DescribeQuorum (55) for a quorum-mode node: the leader's view of the quorum
 * (kraft_node_describe_quorum) and the response built from it (kraft_describe_quorum_response, the
 * md_source operation of kraft_source.c). */
#ifndef FERRY_KRAFT_DESCRIBE_H
#define FERRY_KRAFT_DESCRIBE_H

#include "kraftmode/kraft_node.h"
#include "kraftmode/raft/raft.h"
#include "proto_messages.h"

/* The quorum as its leader describes it, times in wall-clock milliseconds. Returns 0, or FERRY_EINVAL
 * when this node is not the leader (DescribeQuorum then answers NOT_LEADER_OR_FOLLOWER). */
int kraft_node_describe_quorum(const struct kraft_node *node, struct raft_describe *out);

/* DescribeQuorum v0-1's response to req, in arena a: UNKNOWN_TOPIC_OR_PARTITION unless the request asks
 * for __cluster_metadata partition 0 alone, NOT_LEADER_OR_FOLLOWER from a non-leader, else the leader's
 * view. Returns 0 or FERRY_ENOMEM. */
int kraft_describe_quorum_response(const struct kraft_node *node, const struct DescribeQuorumRequest *req,
                                   struct proto_arena *a, struct DescribeQuorumResponse *resp);

#endif
