/* ctrl_channel: see ctrl_channel.h. Calls live in the caller's arena (valid until done runs); the wire
 * queue is FIFO, sent over up to CH_CONNS connections to one controller with up to CH_PIPELINE requests
 * pipelined on each (answered in order; those sent in one loop turn share a write); a timer runs
 * completions that must not happen inside the call and reconnects after controller.quorum.retry.backoff.ms. */
#include "ctrl_channel.h"

#include <stdbool.h>
#include <string.h>

#include "api_support.h"
#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/config/config.h"
#include "broker/net/net_client.h"
#include "kraftmode/kraft_ctrl_rpc.h"
#include "kraftmode/kraft_node.h"
#include "proto_codec.h"
#include "proto_header.h"

/* Requests in flight to the controller at once: CH_PIPELINE on a connection, a next connection opened only
 * when the calls waiting need it. The controller decides many operations at a time, so forwarded writes
 * must not wait for each other's commits (16 in flight capped a broker's forwarded writes at 16 per commit
 * round: with 8 clients of 16 writes each spread over 3 nodes, the forwarding nodes queued); and they are
 * pipelined rather than one per connection because 16 connections cost 16 reads and 16 writes on both
 * nodes per round, which took a forwarded write from 0.6 to 1.6 ms (tests/bench/quorum_bench.py). */
#define CH_CONNS 16
#define CH_PIPELINE CTRL_CHANNEL_PIPELINE

struct ch_conn {
    struct ctrl_channel *ch;
    struct net_client *client;
    bool connected;
    struct ch_call *inflight, *inflight_tail; /* oldest first, linked by next */
    size_t n_inflight;
};

struct ch_call {
    struct ch_call *next; /* in the wire queue, the failed list or its connection's calls in flight */
    struct ctrl_channel *ch;
    struct ch_conn *conn; /* the connection carrying it */
    int16_t key, version;
    const void *req;
    const char *client_id; /* copy in the caller's arena, or NULL */
    proto_bytes principal; /* serialized (principal.h), in the caller's arena */
    proto_bytes address;   /* the client's IP address (4 or 16 bytes), in the caller's arena; len 0: none */
    struct proto_arena *a;
    void *resp;
    void (*done)(void *arg, int rc);
    void *arg;
    int rc; /* for the failed list */
};

struct ctrl_channel {
    uv_loop_t *loop;
    const struct ferry_config *cfg;
    struct kraft_node *node;
    struct kraft_ctrl *local;
    struct ch_call *head, *tail; /* waiting to be sent */
    struct ch_call *failed;      /* to be completed from the timer */
    struct ch_conn conns[CH_CONNS]; /* all to controller `target`; client NULL: unused */
    bool backing_off;
    size_t target;
    uv_timer_t timer;
    bool stopped;
};

static void on_timer(uv_timer_t *t);

/* In-process to this node's controller while it is the active one. */
static bool use_local(const struct ctrl_channel *ch)
{
    return ch->local && kraft_node_is_active_controller(ch->node);
}

bool ctrl_channel_is_local(const struct ctrl_channel *ch) { return use_local(ch); }

static void kick(struct ctrl_channel *ch, int64_t ms)
{
    if (!ch->stopped)
        uv_timer_start(&ch->timer, on_timer, (uint64_t)ms, 0);
}

static void fail_later(struct ctrl_channel *ch, struct ch_call *c, int rc)
{
    c->rc = rc;
    c->next = ch->failed;
    ch->failed = c;
    kick(ch, 0);
}

static bool forwarded_in_envelope(int16_t key)
{
    return key == API_CREATE_TOPICS || key == API_DELETE_TOPICS || key == API_CREATE_PARTITIONS ||
           key == API_ALTER_CONFIGS || key == API_INCREMENTAL_ALTER_CONFIGS || key == API_ELECT_LEADERS ||
           key == API_ALTER_PARTITION_REASSIGNMENTS || key == API_LIST_PARTITION_REASSIGNMENTS ||
           key == API_DESCRIBE_QUORUM;
}

static const struct config_voter *target(const struct ctrl_channel *ch)
{
    return ch->cfg->n_voters ? &ch->cfg->voters[ch->target % ch->cfg->n_voters] : NULL;
}

/* The quorum leader this node knows, -1 if none (a channel without a node: tests). */
static int32_t known_leader(const struct ctrl_channel *ch) { return ch->node ? kraft_node_leader_id(ch->node) : -1; }

/* Before connecting: the leader this node knows, if any (else the voter in turn). */
static void aim_at_leader(struct ctrl_channel *ch)
{
    int32_t leader = known_leader(ch);
    for (size_t i = 0; leader >= 0 && i < ch->cfg->n_voters; i++)
        if (ch->cfg->voters[i].id == leader)
            ch->target = i;
}

static bool any_inflight(const struct ctrl_channel *ch)
{
    for (size_t i = 0; i < CH_CONNS; i++)
        if (ch->conns[i].inflight)
            return true;
    return false;
}

static bool any_client(const struct ctrl_channel *ch)
{
    for (size_t i = 0; i < CH_CONNS; i++)
        if (ch->conns[i].client)
            return true;
    return false;
}

/* Closes one connection; its calls in flight fail (from the timer). */
static void drop_conn(struct ctrl_channel *ch, struct ch_conn *k)
{
    if (k->client)
        net_client_close(k->client);
    k->client = NULL;
    k->connected = false;
    while (k->inflight) {
        struct ch_call *c = k->inflight;
        k->inflight = c->next;
        fail_later(ch, c, FERRY_EIO);
    }
    k->inflight_tail = NULL;
    k->n_inflight = 0;
}

static void add_inflight(struct ch_conn *k, struct ch_call *c)
{
    c->next = NULL;
    c->conn = k;
    if (k->inflight_tail)
        k->inflight_tail->next = c;
    else
        k->inflight = c;
    k->inflight_tail = c;
    k->n_inflight++;
}

/* c, answered: out of its connection's calls in flight (the oldest: answers come in order). */
static void remove_inflight(struct ch_conn *k, struct ch_call *c)
{
    struct ch_call **pp = &k->inflight, *prev = NULL;
    while (*pp && *pp != c) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = c->next;
    if (k->inflight_tail == c)
        k->inflight_tail = prev;
    k->n_inflight--;
}

/* Closes every connection; their calls in flight fail (from the timer). */
static void drop_clients(struct ctrl_channel *ch)
{
    for (size_t i = 0; i < CH_CONNS; i++)
        drop_conn(ch, &ch->conns[i]);
}

static void next_target(struct ctrl_channel *ch)
{
    if (ch->cfg->n_voters)
        ch->target = (ch->target + 1) % ch->cfg->n_voters;
}

static void move_on(struct ctrl_channel *ch)
{
    drop_clients(ch);
    next_target(ch);
}

/* Connection k failed (its answer did not come or did not decode, a send or a connect failed): it alone
 * is closed, the calls on the other connections stay in flight; the next connection goes to the next
 * controller once none is left to this one (each fails on its own if this controller is gone). */
static void conn_failed(struct ctrl_channel *ch, struct ch_conn *k)
{
    drop_conn(ch, k);
    if (!any_client(ch))
        next_target(ch);
}

/* bytes (a response body after its header, or a whole body) decoded into the call's response, in its arena */
static int decode_into(struct ch_call *c, const uint8_t *bytes, size_t len, bool with_header)
{
    uint8_t *copy = proto_arena_alloc(c->a, len ? len : 1);
    if (!copy)
        return FERRY_ENOMEM;
    memcpy(copy, bytes, len);
    struct proto_reader r;
    proto_reader_init(&r, copy, len);
    if (with_header) {
        proto_read_i32(&r); /* the correlation id we chose */
        if (proto_response_header_version(c->key, c->version) >= 1)
            proto_skip_tags(&r);
        if (r.err)
            return FERRY_EPARSE;
    }
    const struct proto_message *m = proto_find(PROTO_KIND_RESPONSE, c->key);
    return m ? proto_decode(m, c->version, &r, c->a, c->resp) : FERRY_EINVAL;
}

static void send_next(struct ctrl_channel *ch);

static void wire_done(void *arg, int rc, void *resp)
{
    struct ch_call *c = arg;
    struct ctrl_channel *ch = c->ch;
    remove_inflight(c->conn, c);
    if (rc) {
        /* this connection failed or timed out: it alone is dropped */
        LOG_WARN("ctrl_channel", "request (api key %d) to the controller at %s:%u failed: %s", c->key,
                 target(ch)->host, target(ch)->port, ferry_strerror(rc));
        conn_failed(ch, c->conn);
        c->done(c->arg, rc == FERRY_ENOMEM ? rc : FERRY_EIO);
        if (!ch->stopped)
            send_next(ch);
        return;
    }
    if (forwarded_in_envelope(c->key)) {
        const struct EnvelopeResponse *e = resp;
        if (e->ErrorCode) {
            LOG_WARN("ctrl_channel", "the controller refused a forwarded request (api key %d): Envelope error %s",
                     c->key, kafka_error_name(e->ErrorCode));
            rc = FERRY_EPARSE;
        } else {
            rc = decode_into(c, (const uint8_t *)e->ResponseData.p,
                             e->ResponseData.len > 0 ? (size_t)e->ResponseData.len : 0, true);
        }
    } else {
        /* the client's decoded struct lives only during this callback: through bytes into the caller's arena */
        struct proto_writer w;
        proto_writer_init(&w);
        rc = proto_encode(proto_find(PROTO_KIND_RESPONSE, c->key), c->version, &w, resp);
        if (!rc)
            rc = decode_into(c, w.buf, w.len, false);
        proto_writer_free(&w);
    }
    if (rc) {
        LOG_WARN("ctrl_channel", "the answer to a request (api key %d) from the controller at %s:%u is unusable: %s",
                 c->key, target(ch)->host, target(ch)->port, ferry_strerror(rc));
        rc = rc == FERRY_ENOMEM ? rc : FERRY_EPARSE;
    }
    c->done(c->arg, rc);
    if (!ch->stopped)
        send_next(ch);
}

static int wire_send(struct ch_call *c)
{
    struct net_client *client = c->conn->client;
    if (!forwarded_in_envelope(c->key))
        return net_client_send(client, c->key, c->version, c->req, wire_done, c);
    const struct proto_message *m = proto_find(PROTO_KIND_REQUEST, c->key);
    if (!m)
        return FERRY_EINVAL;
    struct proto_writer w;
    proto_writer_init(&w);
    struct proto_request_header h = {c->key, c->version, 1, proto_str_from(c->client_id ? c->client_id : "")};
    proto_write_request_header(&w, &h);
    int rc = proto_encode(m, c->version, &w, c->req);
    if (!rc && w.err)
        rc = w.err;
    static const uint8_t loopback[4] = {127, 0, 0, 1}; /* the broker's own requests */
    struct EnvelopeRequest env;
    proto_struct_init(proto_msg_EnvelopeRequest.body, &env);
    env.RequestData = (proto_bytes){w.buf, (int32_t)w.len};
    env.RequestPrincipal = c->principal;
    env.ClientHostAddress = c->address.len > 0 ? c->address : (proto_bytes){loopback, 4};
    if (!rc)
        rc = net_client_send(client, API_ENVELOPE, 0, &env, wire_done, c);
    proto_writer_free(&w);
    return rc;
}

static void on_connected(void *arg, int rc)
{
    struct ch_conn *k = arg;
    struct ctrl_channel *ch = k->ch;
    if (rc) {
        LOG_WARN("ctrl_channel", "cannot reach the controller at %s:%u: %s", target(ch)->host, target(ch)->port,
                 ferry_strerror(rc));
        conn_failed(ch, k);
        /* none left to this controller: the oldest call fails; the rest wait for the next controller */
        struct ch_call *c = any_client(ch) ? NULL : ch->head;
        if (c) {
            ch->head = c->next;
            if (!ch->head)
                ch->tail = NULL;
            c->done(c->arg, FERRY_EIO);
        }
        if (!ch->stopped && ch->head) {
            ch->backing_off = true;
            kick(ch, ch->cfg->controller_quorum_retry_backoff_ms);
        }
        return;
    }
    k->connected = true;
    net_client_set_pipeline(k->client, CH_PIPELINE);
    send_next(ch);
}

/* The first connected connection with room in its pipeline (so that the calls of one turn share a write),
 * else a free slot to open one in (*open), else NULL (all full or one is still connecting: the next call
 * waits for it). */
static struct ch_conn *pick_conn(struct ctrl_channel *ch, bool *open)
{
    struct ch_conn *free_slot = NULL;
    *open = false;
    for (size_t i = 0; i < CH_CONNS; i++) {
        struct ch_conn *k = &ch->conns[i];
        if (k->client && !k->connected)
            return NULL; /* connecting */
        if (k->client && k->n_inflight < CH_PIPELINE)
            return k;
        if (!k->client && !free_slot)
            free_slot = k;
    }
    *open = free_slot != NULL;
    return free_slot;
}

static void send_next(struct ctrl_channel *ch)
{
    while (!ch->stopped && ch->head && !ch->backing_off) {
        int32_t leader = known_leader(ch);
        if (any_client(ch) && leader >= 0 && target(ch) && target(ch)->id != leader) {
            if (any_inflight(ch))
                return; /* follow the new leader once the answers in flight are in */
            drop_clients(ch); /* the quorum has another leader now: follow it */
        }
        if (!any_client(ch))
            aim_at_leader(ch);
        bool open;
        struct ch_conn *k = pick_conn(ch, &open);
        if (!k)
            return;
        if (open) {
            const struct config_voter *v = target(ch);
            char id[40];
            snprintf(id, sizeof id, "broker-%d-to-controller", (int)ch->cfg->node_id);
            k->ch = ch;
            if (!v || net_client_connect(ch->loop, v->host, v->port, id, ch->cfg->controller_socket_timeout_ms,
                                         on_connected, k, &k->client) != 0) {
                k->client = NULL;
                struct ch_call *c = ch->head;
                ch->head = c->next;
                if (!ch->head)
                    ch->tail = NULL;
                fail_later(ch, c, v ? FERRY_ENOMEM : FERRY_EIO);
            }
            return; /* on_connected sends */
        }
        struct ch_call *c = ch->head;
        ch->head = c->next;
        if (!ch->head)
            ch->tail = NULL;
        c->next = NULL;
        c->conn = k;
        int rc = wire_send(c);
        if (!rc)
            add_inflight(k, c);
        if (rc) {
            conn_failed(ch, k);
            fail_later(ch, c, rc == FERRY_ENOMEM ? rc : FERRY_EIO);
            return;
        }
    }
}

static void on_timer(uv_timer_t *t)
{
    struct ctrl_channel *ch = t->data;
    while (ch->failed && !ch->stopped) {
        struct ch_call *c = ch->failed;
        ch->failed = c->next;
        c->done(c->arg, c->rc);
    }
    ch->backing_off = false;
    send_next(ch);
}

static void local_done(void *arg)
{
    struct ch_call *c = arg;
    c->done(c->arg, 0);
}

/* The IP address of an "ip:port" peer (IPv4 or IPv6) as bytes in the call's arena; none if it does not
 * parse. */
static void copy_address(struct ch_call *c, const char *peer)
{
    const char *colon = peer ? strrchr(peer, ':') : NULL;
    char ip[64];
    if (!colon || (size_t)(colon - peer) >= sizeof ip)
        return;
    memcpy(ip, peer, (size_t)(colon - peer));
    ip[colon - peer] = 0;
    uint8_t bytes[16];
    int len = uv_inet_pton(AF_INET, ip, bytes) == 0 ? 4 : uv_inet_pton(AF_INET6, ip, bytes) == 0 ? 16 : 0;
    uint8_t *copy = len ? proto_arena_alloc(c->a, (size_t)len) : NULL;
    if (copy) {
        memcpy(copy, bytes, (size_t)len);
        c->address = (proto_bytes){copy, len};
    }
}

/* The requester's client id, serialized principal and address, copied into the call's arena. */
static int copy_requester(struct ch_call *c, const struct md_requester *who)
{
    if (who)
        copy_address(c, who->peer);
    struct DefaultPrincipalData principal = who ? who->principal : kafka_principal_anonymous();
    struct proto_writer w;
    proto_writer_init(&w);
    kafka_principal_write(&w, &principal);
    uint8_t *bytes = w.err ? NULL : proto_arena_alloc(c->a, w.len);
    if (bytes)
        memcpy(bytes, w.buf, w.len);
    c->principal = (proto_bytes){bytes, (int32_t)w.len};
    proto_writer_free(&w);
    if (who && who->client_id.len >= 0)
        c->client_id = proto_arena_strdup(c->a, who->client_id);
    return bytes && (!who || who->client_id.len < 0 || c->client_id) ? 0 : FERRY_ENOMEM;
}

void ctrl_channel_call(struct ctrl_channel *ch, int16_t key, int16_t version, const void *req,
                       const struct md_requester *who, struct proto_arena *a, void *resp,
                       void (*done)(void *arg, int rc), void *arg)
{
    struct ch_call *c = proto_arena_alloc(a, sizeof *c);
    if (!c) {
        LOG_ERROR("ctrl_channel", "out of memory: a request (api key %d) to the controller is dropped", key);
        return;
    }
    *c = (struct ch_call){.ch = ch, .key = key, .version = version, .req = req, .a = a, .resp = resp,
                          .done = done, .arg = arg};
    if (forwarded_in_envelope(key) && copy_requester(c, who) != 0) {
        fail_later(ch, c, FERRY_ENOMEM);
        return;
    }
    if (use_local(ch)) {
        int rc = kraft_ctrl_call(ch->local, key, version, req, a, resp, local_done, c);
        if (rc)
            fail_later(ch, c, rc);
        return;
    }
    if (ch->tail)
        ch->tail->next = c;
    else
        ch->head = c;
    ch->tail = c;
    send_next(ch);
}

void ctrl_channel_not_controller(struct ctrl_channel *ch)
{
    if (!use_local(ch) && !any_inflight(ch))
        move_on(ch);
}

int ctrl_channel_new(uv_loop_t *loop, const struct ferry_config *cfg, struct kraft_node *node, struct kraft_ctrl *local,
                     struct ctrl_channel **out)
{
    struct ctrl_channel *ch = ferry_calloc(1, sizeof *ch);
    if (!ch)
        return FERRY_ENOMEM;
    ch->loop = loop;
    ch->cfg = cfg;
    ch->node = node;
    ch->local = local;
    uv_timer_init(loop, &ch->timer);
    ch->timer.data = ch;
    *out = ch;
    return 0;
}

static void on_closed(uv_handle_t *h) { ferry_free(h->data); }

void ctrl_channel_stop(struct ctrl_channel *ch)
{
    if (!ch || ch->stopped)
        return;
    ch->stopped = true;
    for (size_t i = 0; i < CH_CONNS; i++) {
        if (ch->conns[i].client)
            net_client_close(ch->conns[i].client);
        ch->conns[i].client = NULL;
        ch->conns[i].inflight = ch->conns[i].inflight_tail = NULL; /* dropped unanswered, as the queue */
        ch->conns[i].n_inflight = 0;
    }
    uv_timer_stop(&ch->timer);
    uv_close((uv_handle_t *)&ch->timer, on_closed);
}
