/* cluster: the broker list shared by Metadata and DescribeCluster (unfenced brokers with an endpoint on
 * the listener the request came in on, as Kafka answers) and DescribeCluster v0 itself. */
#include <string.h>
#include <strings.h>

#include "broker.h"
#include "broker/common/ferry_err.h"
#include "cluster.h"

const struct md_endpoint *cluster_endpoint(const struct md_broker *mb, const char *listener)
{
    for (int32_t e = 0; e < mb->nendpoints; e++)
        if (strcasecmp(mb->endpoints[e].name, listener) == 0)
            return &mb->endpoints[e];
    return NULL;
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
