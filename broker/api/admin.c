/* admin: the admin write APIs (CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs,
 * IncrementalAlterConfigs, and in quorum mode ElectLeaders). The quorum controller decides and writes the records; the response is sent
 * once they are committed (durable) and applied to the image. The handler only decodes and encodes. */
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

#define ADMIN_HANDLER(fn, Req, Resp, source_op)                                                                 \
    void fn(struct broker *b, struct net_request *req)                                                        \
    {                                                                                                          \
        struct Req *body = proto_arena_alloc(&req->arena, sizeof *body);                                       \
        if (!body) {                                                                                           \
            net_close_for(req, "out of memory");                                                               \
            return;                                                                                            \
        }                                                                                                      \
        struct admin_call *c = admin_begin(req, &proto_msg_##Req, &proto_msg_##Resp, body);                    \
        if (c)                                                                                                 \
            b->meta.ops->source_op(b->meta.impl, body, req->hdr.api_version, &req->arena, c->resp, admin_done, c); \
    }

ADMIN_HANDLER(api_handle_create_topics, CreateTopicsRequest, CreateTopicsResponse, create_topics)
ADMIN_HANDLER(api_handle_delete_topics, DeleteTopicsRequest, DeleteTopicsResponse, delete_topics)
ADMIN_HANDLER(api_handle_create_partitions, CreatePartitionsRequest, CreatePartitionsResponse,
              create_partitions)
ADMIN_HANDLER(api_handle_alter_configs, AlterConfigsRequest, AlterConfigsResponse, alter_configs)
ADMIN_HANDLER(api_handle_incremental_alter_configs, IncrementalAlterConfigsRequest,
              IncrementalAlterConfigsResponse, incremental_alter_configs)
/* dispatched only on a quorum-mode broker listener, whose source (forward_source) has elect_leaders */
ADMIN_HANDLER(api_handle_elect_leaders, ElectLeadersRequest, ElectLeadersResponse, elect_leaders)
