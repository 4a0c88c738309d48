/* controller_rpc: the quorum controller's broker-facing requests on the controller listener (Kafka's
 * ControllerApis): BrokerRegistration, BrokerHeartbeat, UnregisterBroker, ControllerRegistration,
 * AllocateProducerIds, AlterPartition, the admin writes, and Envelope (58), in which a broker forwards a
 * client's admin request (Kafka's ForwardingManager): RequestData is the client's whole request (header
 * and body), ResponseData the whole response (response header and body) with the client's correlation
 * id, RequestPrincipal the client's principal (principal.h; logged with the client id; one that does not
 * decode gets PRINCIPAL_DESERIALIZATION_FAILURE as from Kafka, a null one, from Ferry brokers before
 * 2026-11-22, is taken as User:ANONYMOUS). The decisions and the writes are kraftmode/kraft_ctrl_rpc's; this file only decodes and encodes.
 * A node without the controller role has no kraft_ctrl: its controller listener closes these requests. */
#include <stdio.h>
#include <string.h>

#include "api_support.h"
#include "broker.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "kraftmode/kraft_ctrl_rpc.h"
#include "principal.h"
#include "proto_header.h"

struct ctrl_call {
    struct broker *b;
    struct ctrl_call *prev, *next; /* broker.ctrl_calls, while the quorum node has the call */
    struct net_request *req;
    const struct proto_message *resp_msg;
    void *resp;
    /* Envelope: the inner request's header; the Envelope response to fill */
    struct proto_request_header inner;
    struct EnvelopeResponse *env;
};

static void unlink_call(struct ctrl_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        c->b->ctrl_calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

void api_controller_rpc_drop_waiting(struct broker *b)
{
    while (b->ctrl_calls) {
        struct ctrl_call *c = b->ctrl_calls;
        unlink_call(c);
        net_respond_none(c->req); /* frees the request, c with it */
    }
}

static void call_done(void *arg)
{
    struct ctrl_call *c = arg;
    unlink_call(c);
    if (!c->env) {
        net_respond(c->req, c->resp_msg, c->resp);
        return;
    }
    struct proto_writer w;
    proto_writer_init(&w);
    proto_write_response_header(&w, c->inner.api_key, c->inner.api_version, c->inner.correlation_id);
    int rc = proto_encode(c->resp_msg, c->inner.api_version, &w, c->resp);
    uint8_t *copy = rc ? NULL : proto_arena_alloc(&c->req->arena, w.len ? w.len : 1);
    if (copy) {
        memcpy(copy, w.buf, w.len);
        c->env->ResponseData = (proto_bytes){copy, (int32_t)w.len};
    } else {
        c->env->ErrorCode = KERR_UNKNOWN_SERVER_ERROR;
    }
    proto_writer_free(&w);
    net_respond(c->req, &proto_msg_EnvelopeResponse, c->env);
}

/* Decodes body (at key/version) and starts the call; false when the request was answered or closed. */
static bool start_call(struct broker *b, struct ctrl_call *c, int16_t key, int16_t version, struct proto_reader *body)
{
    struct net_request *req = c->req;
    const struct proto_message *qm = proto_find(PROTO_KIND_REQUEST, key);
    const struct proto_message *rm = proto_find(PROTO_KIND_RESPONSE, key);
    void *q = qm ? proto_arena_alloc(&req->arena, qm->body->size) : NULL;
    void *r = rm ? proto_arena_alloc(&req->arena, rm->body->size) : NULL;
    if (!q || !r)
        return false;
    int rc = proto_decode(qm, version, body, &req->arena, q);
    if (rc)
        return false;
    proto_struct_init(rm->body, r);
    c->resp_msg = rm;
    c->resp = r;
    c->b = b;
    c->prev = NULL;
    c->next = b->ctrl_calls;
    if (c->next)
        c->next->prev = c;
    b->ctrl_calls = c;
    if (kraft_ctrl_call(b->ctrl, key, version, q, &req->arena, r, call_done, c) == 0)
        return true;
    unlink_call(c);
    return false;
}

/* Envelope: the inner request must be one this listener serves, at a version it advertises. */
static void handle_envelope(struct broker *b, struct net_request *req, struct ctrl_call *c)
{
    struct EnvelopeRequest *e = proto_arena_alloc(&req->arena, sizeof *e);
    c->env = api_new_response(req, &proto_msg_EnvelopeResponse);
    if (!e || !c->env) {
        net_close_for(req, "out of memory");
        return;
    }
    if (!api_decode(req, &proto_msg_EnvelopeRequest, e))
        return;
    struct DefaultPrincipalData who = kafka_principal_anonymous();
    if (e->RequestPrincipal.len >= 0 && kafka_principal_read(e->RequestPrincipal, &req->arena, &who) != 0) {
        LOG_WARN("api", "Envelope with a RequestPrincipal that does not decode (%d bytes)", e->RequestPrincipal.len);
        c->env->ErrorCode = KERR_PRINCIPAL_DESERIALIZATION_FAILURE;
        net_respond(req, &proto_msg_EnvelopeResponse, c->env);
        return;
    }
    struct proto_reader in;
    proto_reader_init(&in, (const uint8_t *)e->RequestData.p, e->RequestData.len > 0 ? (size_t)e->RequestData.len : 0);
    int rc = proto_read_request_header(&in, &c->inner);
    const struct proto_api_range *range = rc ? NULL : proto_controller_api_lookup(c->inner.api_key);
    bool ok = range && c->inner.api_key != API_ENVELOPE && c->inner.api_key != API_API_VERSIONS &&
              c->inner.api_version >= range->min_version && c->inner.api_version <= range->max_version;
    if (ok && ferry_log_enabled(FERRY_LOG_DEBUG)) { /* the address is formatted only for this line */
        char host[64] = "?";
        if (e->ClientHostAddress.len == 4 || e->ClientHostAddress.len == 16)
            uv_inet_ntop(e->ClientHostAddress.len == 4 ? AF_INET : AF_INET6, e->ClientHostAddress.p, host, sizeof host);
        LOG_DEBUG("api", "forwarded request (api key %d version %d) of client '%.*s' at %s, principal %.*s:%.*s",
                 c->inner.api_key, c->inner.api_version, c->inner.client_id.len > 0 ? (int)c->inner.client_id.len : 0,
                 c->inner.client_id.p ? c->inner.client_id.p : "", host, (int)who.Type.len, who.Type.p,
                 (int)who.Name.len, who.Name.p);
    }
    if (!ok || !start_call(b, c, c->inner.api_key, c->inner.api_version, &in)) {
        LOG_WARN("api", "Envelope with an inner request that cannot be served (api key %d version %d)",
                 c->inner.api_key, c->inner.api_version);
        c->env->ErrorCode = KERR_INVALID_REQUEST;
        net_respond(req, &proto_msg_EnvelopeResponse, c->env);
    }
}

void api_handle_quorum_controller_rpc(struct broker *b, struct net_request *req)
{
    struct ctrl_call *c = proto_arena_alloc(&req->arena, sizeof *c);
    if (!c) {
        net_close_for(req, "out of memory");
        return;
    }
    memset(c, 0, sizeof *c);
    c->req = req;
    if (!b->ctrl) {
        net_close_for(req, "this node is not a quorum controller");
        return;
    }
    if (req->hdr.api_key == API_ENVELOPE) {
        handle_envelope(b, req, c);
        return;
    }
    if (!start_call(b, c, req->hdr.api_key, req->hdr.api_version, &req->body)) {
        char why[96];
        snprintf(why, sizeof why, "malformed api key %d version %d", req->hdr.api_key, req->hdr.api_version);
        net_close_for(req, why);
    }
}
