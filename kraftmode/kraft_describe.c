/* kraft_describe: see kraft_describe.h. */
#include "kraftmode/kraft_describe.h"

#include <string.h>

#include "broker/common/ferry_err.h"
#include "kraftmode/kraft_node_internal.h"
#include "kraftmode/raft_wire.h"

/* Today the node is the single voter of its quorum and has no Raft core: it leads its epoch, its high
 * watermark is the end of what it committed (every append is fsynced, then applied), and it is caught up
 * with itself now. There are no observers (the local broker shares the node's log).
 *
 * For the multi-node quorum (raftnode): once kraft_node holds a Raft core, this body becomes
 * `raft_describe(node->raft, out)` (which returns FERRY_EINVAL on a non-leader), with the core's times
 * converted to wall-clock milliseconds if the core runs on another clock. */
int kraft_node_describe_quorum(const struct kraft_node *node, struct raft_describe *out)
{
    memset(out, 0, sizeof *out);
    int64_t now = kraft_wall_ms();
    out->leader_id = kraft_node_id(node);
    out->epoch = kraft_node_epoch(node);
    out->high_watermark = kraft_node_committed_offset(node) + 1;
    out->voters[0] = (struct raft_replica_info){kraft_node_id(node), kraft_node_end_offset(node), now, now};
    out->nvoters = 1;
    return 0;
}

int kraft_describe_quorum_response(const struct kraft_node *node, const struct DescribeQuorumRequest *req,
                                   struct proto_arena *a, struct DescribeQuorumResponse *resp)
{
    int16_t error = raft_wire_describe_check(req);
    if (error)
        return raft_wire_describe_error(req, error, a, resp);
    struct raft_describe d;
    if (kraft_node_describe_quorum(node, &d) != 0)
        return raft_wire_describe_error(req, KERR_NOT_LEADER_OR_FOLLOWER, a, resp);
    return raft_wire_describe_ok(&d, 0, a, resp);
}
