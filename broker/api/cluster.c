/* cluster: the broker list shared by Metadata and DescribeCluster (unfenced brokers with an endpoint on
 * the listener the request came in on, as Kafka answers), DescribeCluster v0 itself on the broker
 * listeners, and DescribeCluster on the controller listener (KIP-919: the controllers). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "broker.h"
#include "broker/common/ferry_err.h"
#include "cluster.h"
#include "kraftmode/kraft_node.h"

static const struct md_endpoint *endpoint_named(const struct md_endpoint *eps, int32_t n, const char *listener)
{
    for (int32_t e = 0; e < n; e++)
        if (strcasecmp(eps[e].name, listener) == 0)
            return &eps[e];
    return NULL;
}

const struct md_endpoint *cluster_endpoint(const struct md_broker *mb, const char *listener)
{
    return endpoint_named(mb->endpoints, mb->nendpoints, listener);
}

int32_t cluster_live_brokers(const struct broker *b, const char *listener, const struct md_broker **out,
                             int32_t max)
{
    const struct md_image *img = broker_image(b);
    int32_t n = 0;
    for (int32_t i = 0; i < img->nbrokers && n < max; i++) {
        const struct md_broker *mb = img->brokers[i];
        if (!mb->fenced && cluster_endpoint(mb, listener))
            out[n++] = mb;
    }
    return n;
}

void api_handle_describe_cluster(struct broker *b, struct net_request *req)
{
    struct DescribeClusterRequest body;
    if (!api_decode(req, &proto_msg_DescribeClusterRequest, &body))
        return;
    const struct md_image *img = broker_image(b);
    struct DescribeClusterResponse *resp = api_new_response(req, &proto_msg_DescribeClusterResponse);
    const struct md_broker **live = proto_arena_alloc(&req->arena, sizeof *live * (size_t)(img->nbrokers + 1));
    if (!resp || !live)
        goto oom;
    const char *listener = net_request_listener(req);
    int32_t n = cluster_live_brokers(b, listener, live, img->nbrokers);
    resp->ClusterId = proto_str_from(img->cluster_id);
    resp->ControllerId = broker_controller_id(b);
    resp->Brokers = proto_array_new(&req->arena, &desc_DescribeClusterResponse_DescribeClusterBroker, n);
    if (!resp->Brokers)
        goto oom;
    resp->Brokers_n = n;
    for (int32_t i = 0; i < n; i++) {
        const struct md_endpoint *ep = cluster_endpoint(live[i], listener);
        resp->Brokers[i].BrokerId = live[i]->id;
        resp->Brokers[i].Host = proto_str_from(ep->host);
        resp->Brokers[i].Port = ep->port;
        resp->Brokers[i].Rack = proto_str_from(live[i]->rack);
    }
    net_respond(req, &proto_msg_DescribeClusterResponse, resp);
    return;
oom:
    net_close_for(req, "out of memory");
}

enum { ENDPOINT_BROKER = 1, ENDPOINT_CONTROLLER = 2 };

static const char *endpoint_type_name(int8_t type)
{
    return type == ENDPOINT_BROKER ? "BROKER" : type == ENDPOINT_CONTROLLER ? "CONTROLLER" : "UNKNOWN";
}

/* Kafka 3.7's ControllerApis (AuthHelper.computeDescribeClusterResponse with EndpointType CONTROLLER): the
 * registered controllers (RegisterControllerRecord) with an endpoint on this listener; ControllerId the
 * quorum's leader as this node knows it (raftManager.leaderAndEpoch) when it is among them, else -1. A request for another endpoint type is answered with
 * MISMATCHED_ENDPOINT_TYPE (an unknown type UNSUPPORTED_ENDPOINT_TYPE; INVALID_REQUEST for both at v0,
 * whose requests cannot name a type and so always ask for brokers). */
void api_handle_describe_cluster_controllers(struct broker *b, struct net_request *req)
{
    struct DescribeClusterRequest body;
    if (!api_decode(req, &proto_msg_DescribeClusterRequest, &body))
        return;
    struct DescribeClusterResponse *resp = api_new_response(req, &proto_msg_DescribeClusterResponse);
    if (!resp)
        goto oom;
    int8_t type = body.EndpointType;
    if (type != ENDPOINT_CONTROLLER) {
        char msg[160];
        if (type == ENDPOINT_BROKER) {
            resp->ErrorCode = req->hdr.api_version == 0 ? KERR_INVALID_REQUEST : KERR_MISMATCHED_ENDPOINT_TYPE;
            snprintf(msg, sizeof msg, "The request was sent to an endpoint of type %s, but we wanted an endpoint "
                     "of type %s", endpoint_type_name(ENDPOINT_CONTROLLER), endpoint_type_name(type));
        } else {
            resp->ErrorCode = req->hdr.api_version == 0 ? KERR_INVALID_REQUEST : KERR_UNSUPPORTED_ENDPOINT_TYPE;
            snprintf(msg, sizeof msg, "Unsupported endpoint type %d", type);
        }
        resp->ErrorMessage.p = proto_arena_strdup(&req->arena, proto_str_from(msg));
        if (!resp->ErrorMessage.p)
            goto oom;
        resp->ErrorMessage.len = (int32_t)strlen(msg);
        net_respond(req, &proto_msg_DescribeClusterResponse, resp);
        return;
    }
    const struct md_image *img = broker_image(b);
    const char *listener = net_request_listener(req);
    resp->EndpointType = ENDPOINT_CONTROLLER;
    resp->ClusterId = proto_str_from(img->cluster_id);
    resp->Brokers = proto_array_new(&req->arena, &desc_DescribeClusterResponse_DescribeClusterBroker,
                                    img->ncontrollers);
    if (!resp->Brokers)
        goto oom;
    int32_t n = 0, controller = b->kraft ? kraft_node_leader_id(b->kraft) : broker_controller_id(b);
    resp->ControllerId = -1;
    for (int32_t i = 0; i < img->ncontrollers; i++) {
        const struct md_controller *mc = img->controllers[i];
        const struct md_endpoint *ep = endpoint_named(mc->endpoints, mc->nendpoints, listener);
        if (!ep)
            continue;
        resp->Brokers[n].BrokerId = mc->id;
        resp->Brokers[n].Host = proto_str_from(ep->host);
        resp->Brokers[n].Port = ep->port;
        n++;
        if (mc->id == controller)
            resp->ControllerId = controller;
    }
    resp->Brokers_n = n;
    net_respond(req, &proto_msg_DescribeClusterResponse, resp);
    return;
oom:
    net_close_for(req, "out of memory");
}
