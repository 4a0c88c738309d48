/* describe_quorum: DescribeQuorum (55) v0-1, served on the controller listener and, in quorum mode, on the
 * broker listeners. Kafka 3.7's brokers forward it to the active controller (KafkaApis:
 * forwardToControllerOrFail); a Ferry broker asks its metadata source, which is the quorum node itself
 * (md_source describe_quorum), so the answer is the same: the leader's view, or NOT_LEADER_OR_FOLLOWER. */
#include "api.h"
#include "broker.h"

void api_handle_describe_quorum(struct broker *b, struct net_request *req)
{
    if (!b->meta.ops->describe_quorum) {
        net_close_for(req, "DescribeQuorum: this node's metadata source has no quorum");
        return;
    }
    struct DescribeQuorumRequest body;
    if (!api_decode(req, &proto_msg_DescribeQuorumRequest, &body))
        return;
    struct DescribeQuorumResponse *resp = api_new_response(req, &proto_msg_DescribeQuorumResponse);
    if (!resp || b->meta.ops->describe_quorum(b->meta.impl, &body, &req->arena, resp) != 0) {
        net_close_for(req, "out of memory");
        return;
    }
    net_respond(req, &proto_msg_DescribeQuorumResponse, resp);
}
