/* kraft_describe: see kraft_describe.h. */
#include "kraftmode/kraft_describe.h"

#include <string.h>

#include "broker/common/ferry_err.h"
#include "kraftmode/kraft_node_internal.h"
#include "kraftmode/raft_wire.h"

/* The Raft core's view (raft_describe: the leader only; FERRY_EINVAL elsewhere, answered
 * NOT_LEADER_OR_FOLLOWER). */
int kraft_node_describe_quorum(const struct kraft_node *node, struct raft_describe *out)
{
    const struct raft *r = kraft_node_raft(node);
    if (!r)
        return FERRY_EINVAL;
    return raft_describe(r, out);
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
    return raft_wire_describe_ok(&d, kraft_node_clock_to_wall_ms(), a, resp); /* the core's clock is monotonic */
}
