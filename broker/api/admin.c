/* admin: the admin write APIs (CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs,
 * IncrementalAlterConfigs, and in quorum mode ElectLeaders, AlterPartitionReassignments and
 * ListPartitionReassignments). The quorum controller decides and writes the records; the response is sent
 * once they are committed (durable) and applied to the image. The handler only decodes and encodes. */
#include "api_support.h"
#include "broker.h"

struct admin_call {
    struct net_request *req;
    const struct proto_message *resp_msg;
    void *resp;
};

static void admin_done(void *arg)
{
    struct admin_call *c = arg;
    net_respond(c->req, c->resp_msg, c->resp);
}

/* Decodes the request and prepares the response and the completion; NULL if the request was closed. */
static struct admin_call *admin_begin(struct net_request *req, const struct proto_message *req_msg,
                                      const struct proto_message *resp_msg, void *body)
{
    if (!api_decode(req, req_msg, body))
        return NULL;
    struct admin_call *c = proto_arena_alloc(&req->arena, sizeof *c);
    void *resp = api_new_response(req, resp_msg);
    if (!c || !resp) {
        net_close_for(req, "out of memory");
        return NULL;
    }
    c->req = req;
    c->resp_msg = resp_msg;
    c->resp = resp;
    return c;
}

/* A source that forwards (a quorum-mode broker) gets the client's client id and principal too. */
static bool forwarded(struct broker *b, struct net_request *req, int16_t key, const void *body, struct admin_call *c)
{
    if (!b->meta.ops->forward_admin)
        return false;
    struct md_requester who = {req->hdr.client_id, kafka_principal_anonymous(), /* PLAINTEXT listeners only */
                               net_request_peer(req)};
    b->meta.ops->forward_admin(b->meta.impl, key, body, req->hdr.api_version, &who, &req->arena, c->resp, admin_done,
                               c);
    return true;
}

#define ADMIN_HANDLER(fn, key, Req, Resp, source_op)                                                            \
    void fn(struct broker *b, struct net_request *req)                                                        \
    {                                                                                                          \
        struct Req *body = proto_arena_alloc(&req->arena, sizeof *body);                                       \
        if (!body) {                                                                                           \
            net_close_for(req, "out of memory");                                                               \
            return;                                                                                            \
        }                                                                                                      \
        struct admin_call *c = admin_begin(req, &proto_msg_##Req, &proto_msg_##Resp, body);                    \
        if (c && !forwarded(b, req, key, body, c))                                                             \
            b->meta.ops->source_op(b->meta.impl, body, req->hdr.api_version, &req->arena, c->resp, admin_done, c); \
    }

ADMIN_HANDLER(api_handle_create_topics, API_CREATE_TOPICS, CreateTopicsRequest, CreateTopicsResponse, create_topics)
ADMIN_HANDLER(api_handle_delete_topics, API_DELETE_TOPICS, DeleteTopicsRequest, DeleteTopicsResponse, delete_topics)
ADMIN_HANDLER(api_handle_create_partitions, API_CREATE_PARTITIONS, CreatePartitionsRequest, CreatePartitionsResponse,
              create_partitions)
ADMIN_HANDLER(api_handle_alter_configs, API_ALTER_CONFIGS, AlterConfigsRequest, AlterConfigsResponse, alter_configs)
ADMIN_HANDLER(api_handle_incremental_alter_configs, API_INCREMENTAL_ALTER_CONFIGS, IncrementalAlterConfigsRequest,
              IncrementalAlterConfigsResponse, incremental_alter_configs)
/* dispatched only on a quorum-mode broker listener, whose source (forward_source) has these */
ADMIN_HANDLER(api_handle_elect_leaders, API_ELECT_LEADERS, ElectLeadersRequest, ElectLeadersResponse, elect_leaders)
ADMIN_HANDLER(api_handle_alter_partition_reassignments, API_ALTER_PARTITION_REASSIGNMENTS,
              AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, alter_partition_reassignments)
ADMIN_HANDLER(api_handle_list_partition_reassignments, API_LIST_PARTITION_REASSIGNMENTS,
              ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, list_partition_reassignments)
