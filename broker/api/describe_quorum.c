/* describe_quorum: DescribeQuorum (55) v0-1, served on the controller listener and, in quorum mode, on the
 * broker listeners. The controller listener answers from this node's Raft core (md_source describe_quorum:
 * the leader's view, or NOT_LEADER_OR_FOLLOWER). A broker listener forwards it to the active controller
 * (md_source forward_admin, in an Envelope over the ctrl_channel, or in-process when this node's controller
 * is the active one), as Kafka 3.7's brokers do (KafkaApis: forwardToControllerOrFail), so that any broker
 * answers with the leader's view; REQUEST_TIMED_OUT when no controller answered (forward_source). */
#include "api.h"
#include "api_support.h"
#include "broker.h"

struct forwarded {
    struct net_request *req;
    struct DescribeQuorumResponse *resp;
};

static void forwarded_done(void *arg)
{
    struct forwarded *f = arg;
    net_respond(f->req, &proto_msg_DescribeQuorumResponse, f->resp);
}

static void handle(struct broker *b, struct net_request *req, bool forward)
{
    if (!b->meta.ops->describe_quorum) {
        net_close_for(req, "DescribeQuorum: this node's metadata source has no quorum");
        return;
    }
    struct DescribeQuorumRequest *body = proto_arena_alloc(&req->arena, sizeof *body);
    if (!body) {
        net_close_for(req, "out of memory");
        return;
    }
    if (!api_decode(req, &proto_msg_DescribeQuorumRequest, body))
        return;
    struct DescribeQuorumResponse *resp = api_new_response(req, &proto_msg_DescribeQuorumResponse);
    if (resp && forward && b->meta.ops->forward_admin) {
        struct forwarded *f = proto_arena_alloc(&req->arena, sizeof *f);
        if (!f) {
            net_close_for(req, "out of memory");
            return;
        }
        *f = (struct forwarded){req, resp};
        struct md_requester who = {req->hdr.client_id, kafka_principal_anonymous(), net_request_peer(req)};
        b->meta.ops->forward_admin(b->meta.impl, API_DESCRIBE_QUORUM, body, req->hdr.api_version, &who, &req->arena,
                                   resp, forwarded_done, f);
        return;
    }
    if (!resp || b->meta.ops->describe_quorum(b->meta.impl, body, &req->arena, resp) != 0) {
        net_close_for(req, "out of memory");
        return;
    }
    net_respond(req, &proto_msg_DescribeQuorumResponse, resp);
}

void api_handle_describe_quorum(struct broker *b, struct net_request *req) { handle(b, req, false); }

void api_handle_describe_quorum_forwarded(struct broker *b, struct net_request *req) { handle(b, req, true); }
