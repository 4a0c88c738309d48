/* find_coordinator: FindCoordinator v0-v2. A group's coordinator is the leader of its __consumer_offsets
 * partition in the metadata image (groups follow partition leadership), answered with that broker's
 * endpoint on the request's listener (COORDINATOR_NOT_AVAILABLE while the partition has no live leader); the first lookup
 * creates __consumer_offsets and answers COORDINATOR_NOT_AVAILABLE until it exists, as Kafka does. Transaction
 * coordinators (key type 1) do not exist yet: COORDINATOR_NOT_AVAILABLE. Advertising this API also
 * matters on its own: librdkafka enables LZ4 only when FindCoordinator v0 is advertised. */
#include "broker.h"
#include "broker/common/ferry_err.h"
#include "broker/group/group_service.h"
#include "cluster.h"

#define KEY_TYPE_GROUP 0
#define KEY_TYPE_TRANSACTION 1

void api_handle_find_coordinator(struct broker *b, struct net_request *req)
{
    struct FindCoordinatorRequest body;
    if (!api_decode(req, &proto_msg_FindCoordinatorRequest, &body))
        return;
    struct FindCoordinatorResponse *resp = api_new_response(req, &proto_msg_FindCoordinatorResponse);
    if (!resp) {
        net_close_for(req, "out of memory");
        return;
    }
    resp->NodeId = -1;
    resp->Host = proto_str_from("");
    resp->Port = -1;
    const struct md_image *img = broker_image(b);
    const struct md_topic *offsets = md_image_topic(img, "__consumer_offsets");
    const struct md_partition *mp =
        offsets ? md_topic_partition(offsets, group_service_partition(b->groups, body.Key)) : NULL;
    const struct md_broker *coord = mp && mp->leader >= 0 ? md_image_broker(img, mp->leader) : NULL;
    const struct md_endpoint *ep = coord ? cluster_endpoint(coord, net_request_listener(req)) : NULL;
    if (body.KeyType == KEY_TYPE_TRANSACTION) {
        resp->ErrorCode = KERR_COORDINATOR_NOT_AVAILABLE;
        resp->ErrorMessage = proto_str_from("Ferry has no transaction coordinator yet.");
    } else if (body.KeyType != KEY_TYPE_GROUP) {
        resp->ErrorCode = KERR_INVALID_REQUEST;
        resp->ErrorMessage = proto_str_from("Unknown coordinator key type.");
    } else if (!api_group_offsets_topic(b) || !ep || coord->fenced) {
        /* __consumer_offsets is created on the first lookup, as Kafka does: retry */
        resp->ErrorCode = KERR_COORDINATOR_NOT_AVAILABLE;
        resp->ErrorMessage = proto_str_from("The coordinator is not available.");
    } else {
        resp->NodeId = coord->id;
        resp->Host = proto_str_from(ep->host);
        resp->Port = ep->port;
    }
    net_respond(req, &proto_msg_FindCoordinatorResponse, resp);
}
