/* net_client: see net_client.h. The requests in flight are a FIFO (Kafka answers a connection's requests in
 * order). A request is encoded into `next` and written at the end of the loop turn (an idle handle) or
 * when the write under way completes, with every other request sent meanwhile in one write: a broker
 * forwarding the 16 requests of one client read sends them together, so that the controller reads and
 * decides them in one turn (written one by one, the first went alone and took a commit round of its own).
 * The timer runs for the oldest request in flight. */
#include "net_client.h"

#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/proto/proto_codec.h"
#include "broker/proto/proto_header.h"

#define MAX_RESPONSE (256 * 1024 * 1024)

struct net_client {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_idle_t flush; /* active while `next` waits for the end of the turn */
    uv_getaddrinfo_t gai;
    uv_connect_t connect_req;
    uv_write_t write_req;
    char host[256];
    char port[8];
    char *client_id;
    int64_t timeout_ms;
    int handles;      /* tcp + timer + flush, closed on close */
    bool resolving;
    bool connected;
    bool writing;
    bool closing;
    bool broken;
    bool closed_by_peer; /* the failure was the peer closing or refusing the connection */
    net_client_connect_fn connected_cb;
    void *connect_arg;
    /* the requests in flight, oldest first: pending[(first + i) % NET_CLIENT_MAX_PIPELINE] */
    struct pending_req {
        int16_t api_key, version;
        int32_t corr;
        uint64_t deadline; /* uv_now */
        net_client_response_fn done;
        void *done_arg;
    } pending[NET_CLIENT_MAX_PIPELINE];
    size_t first, n_pending, max_pending;
    int32_t next_corr;
    struct proto_writer out;  /* being written */
    struct proto_writer next; /* requests sent since: the next write */
    /* bytes received */
    uint8_t *in;
    size_t in_len, in_cap;
};

static void maybe_free(struct net_client *c)
{
    if (!c->closing || c->handles > 0 || c->resolving || c->writing)
        return;
    proto_writer_free(&c->out);
    proto_writer_free(&c->next);
    ferry_free(c->in);
    ferry_free(c->client_id);
    ferry_free(c);
}

static void handle_closed(uv_handle_t *h)
{
    struct net_client *c = h->data;
    c->handles--;
    maybe_free(c);
}

/* Removes the oldest request in flight. */
static struct pending_req pop_pending(struct net_client *c)
{
    struct pending_req p = c->pending[c->first];
    c->first = (c->first + 1) % NET_CLIENT_MAX_PIPELINE;
    c->n_pending--;
    return p;
}

/* Reports a failure once, through whatever is waiting (each request in flight, oldest first, until the
 * owner closes the client). */
static void fail(struct net_client *c, int rc, const char *what)
{
    if (c->broken || c->closing)
        return;
    c->broken = true;
    uv_timer_stop(&c->timer);
    LOG_DEBUG("net", "connection to %s:%s: %s", c->host, c->port, what);
    if (c->connected_cb) {
        net_client_connect_fn cb = c->connected_cb;
        c->connected_cb = NULL;
        cb(c->connect_arg, rc);
    }
    while (c->n_pending && !c->closing) {
        struct pending_req p = pop_pending(c);
        p.done(p.done_arg, rc, NULL);
    }
}

static bool peer_status(ssize_t status)
{
    return status == UV_EOF || status == UV_ECONNRESET || status == UV_EPIPE || status == UV_ECONNREFUSED;
}

/* A failure of the connection itself (libuv status): remembers whether the peer caused it. */
static void fail_status(struct net_client *c, ssize_t status)
{
    if (!c->broken && !c->closing)
        c->closed_by_peer = peer_status(status);
    fail(c, FERRY_EIO, status == UV_EOF ? "closed by the peer" : uv_strerror((int)status));
}

bool net_client_closed_by_peer(const struct net_client *c) { return c->closed_by_peer; }

static void on_timeout(uv_timer_t *t) { fail(t->data, FERRY_EIO, "timed out"); }

static void arm_timer(struct net_client *c) { uv_timer_start(&c->timer, on_timeout, (uint64_t)c->timeout_ms, 0); }

/* The timer for the oldest request in flight, if any. */
static void arm_for_oldest(struct net_client *c)
{
    if (!c->n_pending) {
        uv_timer_stop(&c->timer);
        return;
    }
    uint64_t now = uv_now(c->loop), deadline = c->pending[c->first].deadline;
    uv_timer_start(&c->timer, on_timeout, deadline > now ? deadline - now : 0, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct net_client *c = h->data;
    if (c->in_cap - c->in_len < 65536) {
        size_t cap = c->in_cap ? c->in_cap * 2 : 131072;
        uint8_t *in = ferry_realloc(c->in, cap);
        if (!in) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        c->in = in;
        c->in_cap = cap;
    }
    *buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

/* One whole response frame: decode it for the oldest request in flight. */
static void deliver(struct net_client *c, const uint8_t *frame, size_t len)
{
    if (!c->n_pending) {
        fail(c, FERRY_EPARSE, "a response nobody asked for");
        return;
    }
    const struct pending_req *p = &c->pending[c->first];
    struct proto_reader r;
    proto_reader_init(&r, frame, len);
    int32_t corr = proto_read_i32(&r);
    if (proto_response_header_version(p->api_key, p->version) >= 1)
        proto_skip_tags(&r);
    if (r.err || corr != p->corr) {
        fail(c, FERRY_EPARSE, "bad response header");
        return;
    }
    const struct proto_message *m = proto_find(PROTO_KIND_RESPONSE, p->api_key);
    struct proto_arena a;
    proto_arena_init(&a);
    void *resp = m ? proto_arena_alloc(&a, m->body->size) : NULL;
    int rc = resp ? proto_decode(m, p->version, &r, &a, resp) : FERRY_ENOMEM;
    if (rc) {
        proto_arena_free(&a);
        fail(c, rc, "response does not decode");
        return;
    }
    struct pending_req done = pop_pending(c);
    arm_for_oldest(c);
    done.done(done.done_arg, 0, resp);
    proto_arena_free(&a);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct net_client *c = s->data;
    if (c->closing || c->broken)
        return;
    if (n < 0) {
        fail_status(c, n);
        return;
    }
    if (n == 0 && !buf->base) {
        fail(c, FERRY_ENOMEM, "out of memory");
        return;
    }
    c->in_len += (size_t)n;
    while (c->in_len >= 4 && !c->broken && !c->closing) {
        uint32_t size = proto_be32(c->in);
        if (size < 4 || size > MAX_RESPONSE) {
            fail(c, FERRY_EPARSE, "implausible response size");
            return;
        }
        if (c->in_len < 4 + (size_t)size)
            break;
        /* the callback may send the next request (and read into the buffer only later): copy the rest first */
        uint8_t *frame = ferry_malloc(size);
        if (!frame) {
            fail(c, FERRY_ENOMEM, "out of memory");
            return;
        }
        memcpy(frame, c->in + 4, size);
        memmove(c->in, c->in + 4 + size, c->in_len - 4 - size);
        c->in_len -= 4 + (size_t)size;
        deliver(c, frame, size);
        ferry_free(frame);
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    struct net_client *c = req->data;
    if (c->closing || c->broken)
        return;
    if (status < 0) {
        fail_status(c, status);
        return;
    }
    uv_timer_stop(&c->timer);
    c->connected = true;
    uv_tcp_nodelay(&c->tcp, 1); /* requests are small and answered one by one: never held back by Nagle */
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    net_client_connect_fn cb = c->connected_cb;
    c->connected_cb = NULL;
    cb(c->connect_arg, 0);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct net_client *c = req->data;
    c->resolving = false;
    if (c->closing) {
        uv_freeaddrinfo(res);
        maybe_free(c);
        return;
    }
    if (status < 0 || !res) {
        uv_freeaddrinfo(res);
        fail(c, FERRY_ENOTFOUND, "cannot resolve");
        return;
    }
    c->connect_req.data = c;
    int rc = uv_tcp_connect(&c->connect_req, &c->tcp, res->ai_addr, on_connect);
    uv_freeaddrinfo(res);
    if (rc < 0)
        fail(c, FERRY_EIO, uv_strerror(rc));
}

int net_client_connect(uv_loop_t *loop, const char *host, uint16_t port, const char *client_id, int64_t timeout_ms,
                       net_client_connect_fn connected, void *arg, struct net_client **out)
{
    struct net_client *c = ferry_calloc(1, sizeof *c);
    if (!c || !(c->client_id = ferry_strdup(client_id))) {
        ferry_free(c);
        return FERRY_ENOMEM;
    }
    c->loop = loop;
    snprintf(c->host, sizeof c->host, "%s", host);
    snprintf(c->port, sizeof c->port, "%u", port);
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
    c->connected_cb = connected;
    c->connect_arg = arg;
    c->next_corr = 1;
    c->max_pending = 1;
    proto_writer_init(&c->out);
    proto_writer_init(&c->next);
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    uv_idle_init(loop, &c->flush);
    c->tcp.data = c;
    c->timer.data = c;
    c->flush.data = c;
    c->handles = 3;
    c->gai.data = c;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    arm_timer(c);
    int rc = uv_getaddrinfo(loop, &c->gai, on_resolved, c->host, c->port, &hints);
    if (rc < 0) {
        /* report from the loop, not from inside this call */
        c->timeout_ms = 0;
        uv_timer_start(&c->timer, on_timeout, 0, 0);
    } else {
        c->resolving = true;
    }
    *out = c;
    return 0;
}

static void on_written(uv_write_t *req, int status);

/* The requests in `next`, in one write, unless one is under way (its completion writes them). */
static void write_next(struct net_client *c)
{
    if (c->writing || !c->next.len || c->broken || c->closing)
        return;
    struct proto_writer w = c->out;
    c->out = c->next;
    c->next = w;
    c->next.len = 0;
    uv_buf_t buf = uv_buf_init((char *)c->out.buf, (unsigned)c->out.len);
    c->write_req.data = c;
    int rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, on_written);
    if (rc < 0) {
        fail(c, FERRY_EIO, uv_strerror(rc));
        return;
    }
    c->writing = true;
}

static void on_written(uv_write_t *req, int status)
{
    struct net_client *c = req->data;
    c->writing = false;
    if (c->closing) {
        maybe_free(c);
        return;
    }
    if (status < 0) {
        fail_status(c, status);
        return;
    }
    write_next(c);
}

static void on_flush(uv_idle_t *h)
{
    uv_idle_stop(h);
    write_next(h->data);
}

void net_client_set_pipeline(struct net_client *c, size_t max_in_flight)
{
    c->max_pending = max_in_flight < 1 ? 1 : max_in_flight > NET_CLIENT_MAX_PIPELINE ? NET_CLIENT_MAX_PIPELINE
                                                                                        : max_in_flight;
}

size_t net_client_in_flight(const struct net_client *c) { return c->n_pending; }

int net_client_send(struct net_client *c, int16_t api_key, int16_t version, const void *req,
                    net_client_response_fn done, void *arg)
{
    if (!c->connected || c->broken || c->closing || c->n_pending >= c->max_pending)
        return FERRY_EINVAL;
    const struct proto_message *m = proto_find(PROTO_KIND_REQUEST, api_key);
    if (!m)
        return FERRY_EINVAL;
    struct proto_writer *w = &c->next;
    size_t start = w->len;
    w->err = 0;
    proto_write_i32(w, 0);
    struct proto_request_header h = {
        .api_key = api_key,
        .api_version = version,
        .correlation_id = c->next_corr++,
        .client_id = proto_str_from(c->client_id),
    };
    proto_write_request_header(w, &h);
    int rc = proto_encode(m, version, w, req);
    if (rc == 0 && w->err)
        rc = w->err;
    if (rc) {
        w->len = start; /* the requests before it stay whole */
        w->err = 0;
        return rc;
    }
    proto_patch_i32(w, start, (int32_t)(w->len - start - 4));
    if (!c->writing)
        uv_idle_start(&c->flush, on_flush);
    c->pending[(c->first + c->n_pending) % NET_CLIENT_MAX_PIPELINE] = (struct pending_req){
        api_key, version, h.correlation_id, uv_now(c->loop) + (uint64_t)c->timeout_ms, done, arg};
    if (c->n_pending++ == 0)
        arm_timer(c);
    return 0;
}

void net_client_close(struct net_client *c)
{
    if (!c || c->closing)
        return;
    c->closing = true;
    if (c->resolving)
        uv_cancel((uv_req_t *)&c->gai);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, handle_closed);
    uv_close((uv_handle_t *)&c->flush, handle_closed);
    uv_close((uv_handle_t *)&c->tcp, handle_closed);
}
