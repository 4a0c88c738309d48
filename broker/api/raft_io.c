/* raft_io: the network side of a quorum node's Raft I/O (kraftmode/kraft_raft.c drives the core; this file
 * carries its messages), in broker/api because it needs the network layer.
 *
 * Outgoing requests: one net_client per other voter (controller.quorum.voters gives host:port), ApiVersions
 * first to pick each RPC's version (raft_wire_version), then the core's requests one at a time, in order
 * (a Fetch long poll delays a Vote to the same peer by at most its MaxWaitMs). The Kafka correlation id is
 * net_client's; the core's corr travels with the request and comes back with the decoded response
 * (raft_wire_response, then kraft_node_raft_step). A failed connection drops what was queued for that peer
 * (the core resends after controller.quorum.request.timeout.ms) and is made again after
 * controller.quorum.retry.backoff.ms.
 * Incoming requests (the controller listener: Vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch v13+,
 * FetchSnapshot): decoded, checked by raft_wire_request (refusals answered here), given to the core with a
 * corr of our own, and kept until the core's response comes back as a SEND with that corr; a Fetch response
 * carries the log's whole batches in [records_from, records_to) within the request's MaxBytes, a
 * FetchSnapshot response a chunk of the snapshot. */
#include "raft_io.h"

#include <stdio.h>
#include <string.h>

#include "api.h"
#include "api_support.h"
#include "broker.h"
#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/net/net_client.h"
#include "kraftmode/kraft_source.h"
#include "kraftmode/raft_wire.h"

#define PEER_QUEUE 16
#define NTYPES (RAFT_MSG_FETCH_SNAPSHOT_RESP + 1)

enum peer_state { PEER_IDLE, PEER_CONNECTING, PEER_VERSIONS, PEER_READY };

struct raft_peer {
    struct raft_io *io;
    int32_t id;
    const char *host;
    uint16_t port;
    struct net_client *client;
    enum peer_state state;
    int16_t version[NTYPES]; /* per request type; -1: the peer does not serve it */
    struct raft_msg queue[PEER_QUEUE];
    size_t qhead, qlen;
    bool inflight;
    struct raft_msg cur;
    int16_t cur_version;
    int64_t retry_at;
    bool lost; /* the last failure was the peer closing or refusing the connection (its process died) */
};

/* An incoming request waiting for the core's response. */
struct raft_pending {
    struct raft_pending *next;
    uint32_t corr;
    enum raft_msg_type type;
    int16_t version;
    int32_t max_bytes;
    struct net_request *req;
};

struct raft_io {
    struct broker *b;
    struct kraft_node *node;
    struct raft_peer *peers;
    size_t npeers;
    struct raft_pending *pending;
    uint32_t next_corr;
};

static const char *cluster_id(const struct raft_io *io) { return kraft_node_cluster_id(io->node); }

/* ---- outgoing ---- */

static void peer_send_next(struct raft_peer *p);

static void peer_fail(struct raft_peer *p, const char *why)
{
    p->lost = p->client && net_client_closed_by_peer(p->client);
    if (p->client)
        net_client_close(p->client);
    p->client = NULL;
    if (p->state != PEER_IDLE)
        LOG_DEBUG("raft", "node %d: connection to voter %d (%s:%u) dropped: %s", p->io->b->node_id, p->id, p->host,
                  p->port, why);
    p->state = PEER_IDLE;
    p->inflight = false;
    p->qlen = 0;
    p->retry_at = (int64_t)uv_now(p->io->b->loop) + p->io->b->cfg->controller_quorum_retry_backoff_ms;
    if (p->lost)
        kraft_node_peer_lost(p->io->node, p->id); /* the core need not wait for its fetch timeout */
}

static void on_response(void *arg, int rc, void *resp)
{
    struct raft_peer *p = arg;
    p->inflight = false;
    if (rc) {
        peer_fail(p, ferry_strerror(rc));
        return;
    }
    struct proto_arena a;
    proto_arena_init(&a);
    struct raft_wire_peer who = {cluster_id(p->io), p->io->b->node_id, p->id, p->cur.corr};
    struct raft_msg msg;
    rc = raft_wire_response(p->cur.type + 1, p->cur_version, resp, &who, &a, &msg);
    if (rc == 0 && p->cur.type == RAFT_MSG_VOTE)
        msg.u.vote_resp.pre_vote = p->cur.u.vote.pre_vote;
    if (rc == 0)
        kraft_node_raft_step(p->io->node, &msg);
    else
        LOG_WARN("raft", "node %d: dropping a %s from voter %d: %s", p->io->b->node_id,
                 raft_msg_name(p->cur.type + 1), p->id, ferry_strerror(rc));
    proto_arena_free(&a);
    peer_send_next(p);
}

/* A pre-vote to a voter below Vote v2 (Kafka 3.7): answered for it with UNSUPPORTED_VERSION (raft.h). */
static void no_pre_vote(struct raft_peer *p)
{
    struct raft_msg m = {.type = RAFT_MSG_VOTE_RESP,
                         .from = p->id,
                         .to = p->io->b->node_id,
                         .corr = p->cur.corr,
                         .epoch = p->cur.epoch - 1, /* a pre-vote asks for the epoch after the candidate's */
                         .leader_id = RAFT_NO_ID,
                         .error = KERR_UNSUPPORTED_VERSION};
    m.u.vote_resp.pre_vote = true;
    kraft_node_raft_step(p->io->node, &m);
}

static void peer_send_next(struct raft_peer *p)
{
    while (p->state == PEER_READY && !p->inflight && p->qlen > 0) {
        p->cur = p->queue[p->qhead];
        p->qhead = (p->qhead + 1) % PEER_QUEUE;
        p->qlen--;
        int16_t v = p->version[p->cur.type];
        if (p->cur.type == RAFT_MSG_VOTE && p->cur.u.vote.pre_vote && v < RAFT_WIRE_PRE_VOTE_VERSION) {
            no_pre_vote(p);
            continue;
        }
        if (v < 0) {
            LOG_WARN("raft", "node %d: voter %d does not serve %s: not sent", p->io->b->node_id, p->id,
                     raft_msg_name(p->cur.type));
            continue;
        }
        struct proto_arena a;
        proto_arena_init(&a);
        void *req = NULL;
        int rc = raft_wire_build(&p->cur, v, cluster_id(p->io), NULL, 0, &a, &req);
        if (rc == 0) {
            p->cur_version = v;
            rc = net_client_send(p->client, raft_wire_message(p->cur.type)->api_key, v, req, on_response, p);
        }
        proto_arena_free(&a);
        if (rc) {
            peer_fail(p, ferry_strerror(rc));
            return;
        }
        p->inflight = true;
    }
}

static void on_versions(void *arg, int rc, void *resp_)
{
    struct raft_peer *p = arg;
    if (rc) {
        peer_fail(p, "ApiVersions failed");
        return;
    }
    const struct ApiVersionsResponse *resp = resp_;
    for (int t = 0; t < NTYPES; t++)
        p->version[t] = -1;
    for (int32_t i = 0; i < resp->ApiKeys_n; i++) {
        const struct ApiVersionsResponse_ApiVersion *v = &resp->ApiKeys[i];
        enum raft_msg_type t;
        if (raft_wire_request_type(v->ApiKey, &t))
            p->version[t] = raft_wire_version(t, v->MinVersion, v->MaxVersion);
    }
    if (resp->ErrorCode != KERR_NONE || p->version[RAFT_MSG_FETCH] < 0 || p->version[RAFT_MSG_VOTE] < 0) {
        /* not a Raft peer (or our own connection looped back to itself while the peer's port is free) */
        peer_fail(p, "the peer's ApiVersions lists no Raft RPCs");
        return;
    }
    p->state = PEER_READY;
    peer_send_next(p);
}

static void on_connected(void *arg, int rc)
{
    struct raft_peer *p = arg;
    if (rc) {
        peer_fail(p, "cannot connect");
        return;
    }
    struct ApiVersionsRequest req;
    proto_struct_init(proto_msg_ApiVersionsRequest.body, &req);
    if (net_client_send(p->client, API_API_VERSIONS, 0, &req, on_versions, p) != 0) {
        peer_fail(p, "cannot send ApiVersions");
        return;
    }
    p->state = PEER_VERSIONS;
}

static void peer_request(struct raft_peer *p, const struct raft_msg *m)
{
    struct broker *b = p->io->b;
    if (p->qlen == PEER_QUEUE) { /* the oldest goes: the core resends what matters */
        p->qhead = (p->qhead + 1) % PEER_QUEUE;
        p->qlen--;
    }
    p->queue[(p->qhead + p->qlen) % PEER_QUEUE] = *m;
    p->qlen++;
    if (p->state == PEER_READY) {
        peer_send_next(p);
        return;
    }
    if (p->state != PEER_IDLE)
        return;
    if ((int64_t)uv_now(b->loop) < p->retry_at) {
        p->qlen = 0; /* down a moment ago: the core resends after its request timeout */
        if (p->lost)
            kraft_node_peer_lost(p->io->node, p->id); /* (queued: we are inside the core's send) */
        return;
    }
    char client_id[64];
    snprintf(client_id, sizeof client_id, "ferry-raft-%d", b->node_id);
    p->state = PEER_CONNECTING;
    if (net_client_connect(b->loop, p->host, p->port, client_id, b->cfg->controller_quorum_request_timeout_ms,
                           on_connected, p, &p->client) != 0) {
        p->client = NULL;
        peer_fail(p, "out of memory");
    }
}

/* ---- responses to incoming requests ---- */

static struct raft_pending *take_pending(struct raft_io *io, uint32_t corr, enum raft_msg_type type)
{
    for (struct raft_pending **pp = &io->pending; *pp; pp = &(*pp)->next) {
        struct raft_pending *q = *pp;
        if (q->corr == corr && q->type + 1 == type) {
            *pp = q->next;
            return q;
        }
    }
    return NULL;
}

static void respond(struct raft_io *io, const struct raft_msg *m)
{
    struct raft_pending *q = take_pending(io, m->corr, m->type);
    if (!q) {
        LOG_DEBUG("raft", "node %d: %s for corr %u has no waiting request", io->b->node_id, raft_msg_name(m->type),
                  m->corr);
        return;
    }
    struct net_request *req = q->req;
    struct raft_msg msg = *m;
    uint8_t *payload = NULL;
    size_t len = 0;
    int rc = 0;
    if (m->type == RAFT_MSG_FETCH_RESP && m->error == 0 && m->u.fetch_resp.records_from >= 0) {
        size_t max = q->max_bytes > 0 ? (size_t)q->max_bytes : RAFT_WIRE_FETCH_MAX_BYTES;
        rc = kraft_node_read_batches(io->node, m->u.fetch_resp.records_from, m->u.fetch_resp.records_to, max,
                                     &payload, &len);
        if (rc) {
            LOG_WARN("raft", "node %d: cannot read the metadata log at offset %lld for a Fetch: %s", io->b->node_id,
                     (long long)m->u.fetch_resp.records_from, ferry_strerror(rc));
            rc = 0;
            msg.error = KERR_UNKNOWN_SERVER_ERROR;
        }
    } else if (m->type == RAFT_MSG_FETCH_SNAPSHOT_RESP && m->error == 0) {
        size_t max = m->u.fetch_snapshot_resp.max_bytes > 0 ? (size_t)m->u.fetch_snapshot_resp.max_bytes : 1;
        payload = ferry_malloc(max);
        int64_t size = 0;
        rc = payload ? kraft_node_read_snapshot(io->node, m->u.fetch_snapshot_resp.snapshot,
                                                m->u.fetch_snapshot_resp.position, payload, max, &len, &size)
                     : FERRY_ENOMEM;
        if (rc == FERRY_ENOTFOUND)
            msg.error = KERR_SNAPSHOT_NOT_FOUND;
        else if (rc == FERRY_ERANGE)
            msg.error = KERR_POSITION_OUT_OF_RANGE;
        else if (rc)
            msg.error = KERR_UNKNOWN_SERVER_ERROR;
        rc = 0;
        msg.u.fetch_snapshot_resp.size = size;
    }
    if (payload && !net_request_adopt(req, payload)) {
        payload = NULL;
        len = 0;
        rc = FERRY_ENOMEM;
    }
    void *resp = NULL;
    if (!rc)
        rc = raft_wire_build(&msg, q->version, cluster_id(io), payload, len, &req->arena, &resp);
    if (rc)
        net_close_for(req, "cannot build the Raft response");
    else
        net_respond(req, raft_wire_message(msg.type), resp);
    ferry_free(q);
}

static void transport_send(void *arg, const struct raft_msg *m)
{
    struct raft_io *io = arg;
    if (m->type & 1) { /* a *_RESP: answers an incoming request */
        respond(io, m);
        return;
    }
    for (size_t i = 0; i < io->npeers; i++)
        if (io->peers[i].id == m->to) {
            peer_request(&io->peers[i], m);
            return;
        }
    LOG_DEBUG("raft", "node %d: %s to %d: not a voter I can reach", io->b->node_id, raft_msg_name(m->type), m->to);
}

/* ---- incoming ---- */

void api_handle_raft(struct broker *b, struct net_request *req)
{
    struct kraft_node *node = broker_kraft_node(b);
    struct raft_io *io = b->raft_io;
    enum raft_msg_type type;
    if (!node || !io || !raft_wire_request_type(req->hdr.api_key, &type)) {
        net_close_for(req, "this node takes no part in a metadata quorum");
        return;
    }
    const struct proto_message *m = raft_wire_message(type);
    void *body = proto_arena_alloc(&req->arena, m->body->size);
    if (!body) {
        net_close_for(req, "out of memory");
        return;
    }
    if (!api_decode(req, m, body))
        return;
    uint32_t corr = ++io->next_corr;
    struct raft_wire_peer who = {cluster_id(io), b->node_id, -1, corr};
    struct raft_msg msg;
    void *refusal = NULL;
    int rc = raft_wire_request(type, req->hdr.api_version, body, &who, &req->arena, &msg, &refusal);
    if (rc == RAFT_WIRE_REFUSED) {
        net_respond(req, raft_wire_message(type + 1), refusal);
        return;
    }
    struct raft_pending *q = rc ? NULL : ferry_calloc(1, sizeof *q);
    if (!q) {
        net_close_for(req, rc ? "malformed Raft request" : "out of memory");
        return;
    }
    q->corr = corr;
    q->type = type;
    q->version = req->hdr.api_version;
    q->req = req;
    if (type == RAFT_MSG_FETCH)
        q->max_bytes = ((const struct FetchRequest *)body)->MaxBytes;
    q->next = io->pending;
    io->pending = q;
    rc = kraft_node_raft_step(node, &msg);
    if (rc && (q = take_pending(io, corr, type + 1)) != NULL) {
        ferry_free(q);
        net_close_for(req, "the Raft core refused the request");
    }
}

/* ---- lifecycle ---- */

int api_raft_io_start(struct broker *b)
{
    struct kraft_node *node = broker_kraft_node(b);
    const struct ferry_config *cfg = b->cfg;
    if (!node || (cfg->n_voters == 1 && cfg->voters[0].id == b->node_id))
        return 0; /* no quorum, or a single voter: nothing to carry */
    struct raft_io *io = ferry_calloc(1, sizeof *io);
    if (!io)
        return FERRY_ENOMEM;
    io->b = b;
    io->node = node;
    io->peers = ferry_calloc(cfg->n_voters, sizeof *io->peers);
    if (!io->peers) {
        ferry_free(io);
        return FERRY_ENOMEM;
    }
    for (size_t i = 0; i < cfg->n_voters; i++) {
        if (cfg->voters[i].id == b->node_id)
            continue;
        struct raft_peer *p = &io->peers[io->npeers++];
        p->io = io;
        p->id = cfg->voters[i].id;
        p->host = cfg->voters[i].host;
        p->port = cfg->voters[i].port;
    }
    b->raft_io = io;
    struct kraft_transport t = {transport_send, io};
    kraft_node_set_transport(node, &t);
    return 0;
}

void api_raft_io_stop(struct broker *b)
{
    struct raft_io *io = b->raft_io;
    if (!io)
        return;
    kraft_node_set_transport(io->node, NULL);
    for (size_t i = 0; i < io->npeers; i++)
        if (io->peers[i].client)
            net_client_close(io->peers[i].client);
    while (io->pending) {
        struct raft_pending *q = io->pending;
        io->pending = q->next;
        net_respond_none(q->req);
        ferry_free(q);
    }
    ferry_free(io->peers);
    ferry_free(io);
    b->raft_io = NULL;
}
