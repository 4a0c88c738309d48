/* legacy: the APIs a broker serves only in legacy (ZooKeeper) mode (api_support.h, proto_legacy_apis): the
 * requests of a ZooKeeper-mode controller (LeaderAndIsr, StopReplica, UpdateMetadata) are decoded here and
 * handed to the metadata source (md_source controller_request), which checks, applies and answers them (the
 * replica fetching it switches off or on goes to the replication: api_repl_set_fetching); the
 * requests of brokers to the controller (ControlledShutdown, AlterPartition) and a client's ElectLeaders and
 * Alter/ListPartitionReassignments go to md_source controller_rpc, which answers later (the active
 * controller decides; other brokers answer NOT_CONTROLLER, as Kafka 3.7's ZooKeeper-mode brokers do).
 * A request that does not decode closes the connection with a log line, as for every API. */
#include <stdio.h>

#include "api.h"
#include "broker.h"
#include "broker/common/ferry_err.h"
#include "replication.h"

/* The decoded request body in req's arena, or NULL (the connection is then closed). */
static void *decode_body(struct net_request *req, const struct proto_message **mp)
{
    const struct proto_message *m = proto_find(PROTO_KIND_REQUEST, req->hdr.api_key);
    void *body = m ? proto_arena_alloc(&req->arena, m->body->size) : NULL;
    if (!body) {
        net_close_for(req, m ? "out of memory" : "no codec for this api key");
        return NULL;
    }
    *mp = m;
    return api_decode(req, m, body) ? body : NULL;
}

void api_handle_controller_request(struct broker *b, struct net_request *req)
{
    const struct proto_message *m;
    void *body = decode_body(req, &m);
    if (!body)
        return;
    if (!b->meta.ops->controller_request) {
        net_close_for(req, "controller requests are served in legacy mode only");
        return;
    }
    struct md_response resp;
    int rc = b->meta.ops->controller_request(b->meta.impl, req->hdr.api_key, req->hdr.api_version, body, &resp);
    if (rc) {
        char why[128];
        snprintf(why, sizeof why, "%s v%d could not be applied: %s", m->name, req->hdr.api_version,
                 ferry_strerror(rc));
        net_close_for(req, why);
        return;
    }
    api_repl_set_fetching(b, resp.switches, resp.nswitches);
    net_respond(req, resp.m, resp.body);
    proto_arena_free(&resp.arena);
}

static void controller_rpc_done(void *arg, int16_t api_key, const void *resp)
{
    struct net_request *req = arg;
    net_respond(req, proto_find(PROTO_KIND_RESPONSE, api_key), resp);
}

void api_handle_controller_rpc(struct broker *b, struct net_request *req)
{
    const struct proto_message *m;
    void *body = decode_body(req, &m);
    if (!body)
        return;
    if (!b->meta.ops->controller_rpc) {
        net_close_for(req, "requests to a ZooKeeper-mode controller are served in legacy mode only");
        return;
    }
    int rc = b->meta.ops->controller_rpc(b->meta.impl, req->hdr.api_key, req->hdr.api_version, body,
                                         controller_rpc_done, req);
    if (rc) {
        char why[128];
        snprintf(why, sizeof why, "%s v%d refused: %s", m->name, req->hdr.api_version, ferry_strerror(rc));
        net_close_for(req, why);
    }
}
