/* net: see net.h. Listeners, connection reading and framing, in-order responses, backpressure and idle
 * closing, all on the one libuv loop.
 *
 * Responses leave in batches: a completed request only queues its connection, and once per loop turn (an
 * idle handle, run before the loop next polls) every queued connection writes all the responses ready at
 * its head in one writev. A controller that commits a hundred writes at once answers them with one system
 * call per connection instead of one each. */
#include "net.h"

#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/proto/proto_codec.h"

#define READ_BUF_SIZE (64 * 1024)
#define MIN_FRAME 8       /* api key, version, correlation id */
#define WRITE_MAX_BUFS 64 /* responses per writev */

struct net_listener {
    uv_tcp_t tcp;
    struct net_server *server;
    char name[64];
    net_dispatch_fn dispatch;
    void *ctx;
    struct net_listener *next;
};

struct net_conn {
    uv_tcp_t tcp;
    struct net_server *server;
    struct net_listener *listener;
    char peer[64];
    /* reading */
    uint8_t *rbuf;       /* READ_BUF_SIZE bytes; frames smaller than it are parsed from here */
    size_t rlen;
    uint8_t *big_frame;  /* a frame larger than rbuf, read into directly */
    size_t big_len, big_have;
    bool reading;
    bool parsing; /* inside parse_frames: handlers that answer at once must not re-enter it */
    bool closing;
    bool flush_queued; /* on the server's flush list (responses ready, written at the end of the turn) */
    struct net_conn *flush_next;
    /* in-flight requests in arrival order; responses leave from the head */
    struct net_request *head, *tail;
    uint32_t inflight;
    size_t unsent_bytes; /* response bytes queued or being written */
    uint64_t last_active_ms;
    struct net_conn *prev, *next;
};

struct net_server {
    uv_loop_t *loop;
    struct net_limits limits;
    struct net_listener *listeners;
    struct net_conn *conns;
    uv_timer_t idle_timer;
    uv_idle_t flush_idle;          /* active while flush_list is not empty */
    struct net_conn *flush_list;   /* connections with responses ready to write */
    bool closing;
    int open_handles;
};

struct write_req {
    uv_write_t w;
    struct net_conn *conn;
    struct net_request *reqs; /* the responses of this write, linked by next */
};

static void conn_close(struct net_conn *c, const char *why);
static void conn_flush(struct net_conn *c);
static void conn_update_reading(struct net_conn *c);

static void handle_closed(uv_handle_t *h)
{
    struct net_server *s = h->data;
    if (--s->open_handles == 0 && s->closing)
        ferry_free(s);
}

struct net_owned {
    void *buf;
    struct net_owned *next;
};

bool net_request_adopt(struct net_request *r, void *buf)
{
    struct net_owned *o = proto_arena_alloc(&r->arena, sizeof *o);
    if (!o) {
        ferry_free(buf);
        return false;
    }
    o->buf = buf;
    o->next = r->owned;
    r->owned = o;
    return true;
}

static void request_free(struct net_request *r)
{
    for (struct net_owned *o = r->owned; o; o = o->next)
        ferry_free(o->buf);
    proto_arena_free(&r->arena);
    proto_writer_free(&r->out);
    ferry_free(r->frame);
    ferry_free(r);
}

/* ---- requests ---- */

static void dispatch_frame(struct net_conn *c, uint8_t *frame, size_t len)
{
    struct net_request *r = ferry_calloc(1, sizeof *r);
    if (!r) {
        ferry_free(frame);
        conn_close(c, "out of memory");
        return;
    }
    r->frame = frame;
    r->frame_len = len;
    proto_arena_init(&r->arena);
    proto_writer_init(&r->out);
    proto_reader_init(&r->body, frame, len);
    int rc = proto_read_request_header(&r->body, &r->hdr);
    if (rc == FERRY_EPARSE) {
        request_free(r);
        conn_close(c, "malformed request header");
        return;
    }
    r->conn = c;
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    c->inflight++;
    if (rc == FERRY_EUNSUPPORTED && r->hdr.api_key != 18) {
        /* Kafka closes the connection on an unknown key or an unsupported version; ApiVersions is the
         * exception and is answered by its handler with UNSUPPORTED_VERSION. */
        char why[96];
        snprintf(why, sizeof why, "unsupported request: api key %d version %d", r->hdr.api_key,
                 r->hdr.api_version);
        net_close_for(r, why);
        return;
    }
    c->listener->dispatch(c->listener->ctx, r);
}

static void flush_queued(uv_idle_t *h)
{
    struct net_server *s = h->data;
    while (s->flush_list) {
        struct net_conn *c = s->flush_list;
        s->flush_list = c->flush_next;
        c->flush_next = NULL;
        c->flush_queued = false;
        conn_flush(c);
    }
    uv_idle_stop(h);
}

static void flush_unqueue(struct net_conn *c)
{
    if (!c->flush_queued)
        return;
    struct net_conn **pp = &c->server->flush_list;
    while (*pp != c)
        pp = &(*pp)->flush_next;
    *pp = c->flush_next;
    c->flush_next = NULL;
    c->flush_queued = false;
}

static void request_complete(struct net_request *r)
{
    r->done = true;
    struct net_conn *c = r->conn;
    if (!c) {
        request_free(r);
        return;
    }
    if (c->flush_queued || c->head != r)
        return; /* written with the ones before it */
    struct net_server *s = c->server;
    c->flush_queued = true;
    c->flush_next = s->flush_list;
    s->flush_list = c;
    uv_idle_start(&s->flush_idle, flush_queued);
}

void net_respond(struct net_request *r, const struct proto_message *m, const void *resp)
{
    net_respond_at(r, m, r->hdr.api_version, resp);
}

void net_respond_at(struct net_request *r, const struct proto_message *m, int16_t version, const void *resp)
{
    if (r->conn) {
        size_t start = r->out.len;
        proto_write_i32(&r->out, 0); /* size, patched below */
        proto_write_response_header(&r->out, r->hdr.api_key, r->hdr.api_version, r->hdr.correlation_id);
        int rc = proto_encode(m, version, &r->out, resp);
        if (rc || r->out.err) {
            LOG_ERROR("net", "cannot encode %s v%d for %s: %s", m->name, version, r->conn->peer,
                      ferry_strerror(rc ? rc : r->out.err));
            r->out.len = 0;
            net_close_for(r, "response encoding failed");
            return;
        }
        proto_patch_i32(&r->out, start, (int32_t)(r->out.len - start - 4));
        r->conn->unsent_bytes += r->out.len;
    }
    request_complete(r);
}

void net_respond_none(struct net_request *r)
{
    r->no_response = true;
    request_complete(r);
}

void net_close_for(struct net_request *r, const char *why)
{
    struct net_conn *c = r->conn;
    r->no_response = true;
    r->done = true;
    if (!c) {
        request_free(r);
        return;
    }
    conn_close(c, why);
}

const char *net_request_peer(const struct net_request *r) { return r->conn ? r->conn->peer : "-"; }

const char *net_request_listener(const struct net_request *r)
{
    return r->conn ? r->conn->listener->name : "-";
}

/* ---- writing ---- */

/* The responses of a write are sent (or failed): their requests go. */
static void write_release(struct net_conn *c, struct net_request *r)
{
    while (r) {
        struct net_request *next = r->next;
        if (c) {
            c->inflight--;
            c->unsent_bytes -= r->out.len;
        }
        request_free(r);
        r = next;
    }
}

static void write_done(uv_write_t *w, int status)
{
    struct write_req *wr = (struct write_req *)w;
    struct net_conn *c = wr->conn;
    write_release(c, wr->reqs);
    ferry_free(wr);
    if (c && status < 0 && !c->closing)
        conn_close(c, uv_strerror(status));
    if (c && !c->closing)
        conn_update_reading(c);
}

/* Writes every completed request at the head of the queue, in order, up to WRITE_MAX_BUFS per writev. */
static void conn_flush(struct net_conn *c)
{
    while (c->head && c->head->done && !c->closing) {
        uv_buf_t bufs[WRITE_MAX_BUFS];
        unsigned n = 0;
        struct net_request *first = NULL, *last = NULL;
        while (n < WRITE_MAX_BUFS && c->head && c->head->done) {
            struct net_request *r = c->head;
            c->head = r->next;
            if (!c->head)
                c->tail = NULL;
            r->next = NULL;
            if (r->no_response || r->out.len == 0) {
                c->inflight--;
                request_free(r);
                continue;
            }
            r->conn = NULL;
            bufs[n++] = uv_buf_init((char *)r->out.buf, (unsigned)r->out.len);
            if (last)
                last->next = r;
            else
                first = r;
            last = r;
        }
        if (n == 0)
            break;
        struct write_req *wr = ferry_malloc(sizeof *wr);
        if (!wr) {
            write_release(c, first);
            conn_close(c, "out of memory");
            return;
        }
        wr->conn = c;
        wr->reqs = first;
        int rc = uv_write(&wr->w, (uv_stream_t *)&c->tcp, bufs, n, write_done);
        if (rc < 0) {
            write_release(c, first);
            ferry_free(wr);
            conn_close(c, uv_strerror(rc));
            return;
        }
    }
    if (!c->closing)
        conn_update_reading(c);
}

/* ---- reading ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct net_conn *c = h->data;
    if (c->big_frame) {
        *buf = uv_buf_init((char *)c->big_frame + c->big_have, (unsigned)(c->big_len - c->big_have));
        return;
    }
    *buf = uv_buf_init((char *)c->rbuf + c->rlen, (unsigned)(READ_BUF_SIZE - c->rlen));
}

/* Backpressure: true while the connection may take more requests. */
static bool conn_may_read(const struct net_conn *c)
{
    const struct net_limits *l = &c->server->limits;
    return c->unsent_bytes <= l->max_unsent_bytes && c->inflight < l->max_inflight;
}

/* Splits rbuf into frames and dispatches them while backpressure allows (the rest waits in rbuf);
 * returns false if the connection was closed. */
static bool parse_frames(struct net_conn *c)
{
    size_t pos = 0;
    c->parsing = true;
    while (!c->closing && c->rlen - pos >= 4 && conn_may_read(c)) {
        int32_t size = (int32_t)proto_be32(c->rbuf + pos);
        if (size < MIN_FRAME || (int64_t)size > c->server->limits.max_request_bytes) {
            char why[96];
            snprintf(why, sizeof why, "request size %d outside [%d, %lld] (socket.request.max.bytes)", size,
                     MIN_FRAME, (long long)c->server->limits.max_request_bytes);
            c->parsing = false;
            conn_close(c, why);
            return false;
        }
        size_t have = c->rlen - pos - 4;
        uint8_t *frame = ferry_malloc((size_t)size);
        if (!frame) {
            c->parsing = false;
            conn_close(c, "out of memory");
            return false;
        }
        if (have >= (size_t)size) {
            memcpy(frame, c->rbuf + pos + 4, (size_t)size);
            pos += 4 + (size_t)size;
            dispatch_frame(c, frame, (size_t)size);
            continue;
        }
        if ((size_t)size + 4 <= READ_BUF_SIZE) {
            ferry_free(frame); /* wait for the rest in rbuf */
            break;
        }
        memcpy(frame, c->rbuf + pos + 4, have);
        c->big_frame = frame;
        c->big_len = (size_t)size;
        c->big_have = have;
        pos = c->rlen;
        break;
    }
    if (pos > 0) {
        memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
        c->rlen -= pos;
    }
    c->parsing = false;
    return !c->closing;
}

static void read_cb(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
    struct net_conn *c = stream->data;
    if (n == UV_ENOBUFS) { /* rbuf is full of frames held back by backpressure */
        uv_read_stop(stream);
        c->reading = false;
        return;
    }
    if (n < 0) {
        conn_close(c, n == UV_EOF ? NULL : uv_strerror((int)n));
        return;
    }
    if (n == 0)
        return;
    c->last_active_ms = uv_now(c->server->loop);
    if (c->big_frame) {
        c->big_have += (size_t)n;
        if (c->big_have == c->big_len) {
            uint8_t *frame = c->big_frame;
            c->big_frame = NULL;
            dispatch_frame(c, frame, c->big_len);
        }
        return;
    }
    c->rlen += (size_t)n;
    if (parse_frames(c))
        conn_update_reading(c);
}

static void conn_update_reading(struct net_conn *c)
{
    bool want = conn_may_read(c);
    if (c->parsing)
        return; /* the running parse_frames loop checks the limits itself */
    if (want && c->rlen >= 4 && !c->big_frame) {
        /* frames that arrived while paused may already sit in rbuf */
        if (!parse_frames(c))
            return;
        want = conn_may_read(c);
    }
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
            c->reading = true;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void conn_closed(uv_handle_t *h)
{
    struct net_conn *c = h->data;
    struct net_server *s = c->server;
    ferry_free(c->rbuf);
    ferry_free(c->big_frame);
    ferry_free(c);
    if (--s->open_handles == 0 && s->closing)
        ferry_free(s);
}

static void conn_close(struct net_conn *c, const char *why)
{
    if (c->closing)
        return;
    c->closing = true;
    flush_unqueue(c);
    if (why)
        LOG_INFO("net", "closing connection %s on %s: %s", c->peer, c->listener->name, why);
    /* orphan requests still being handled; free finished ones */
    struct net_request *r = c->head;
    while (r) {
        struct net_request *next = r->next;
        r->next = NULL;
        if (r->done)
            request_free(r);
        else
            r->conn = NULL;
        r = next;
    }
    c->head = c->tail = NULL;
    struct net_server *s = c->server;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void on_connection(uv_stream_t *server_stream, int status)
{
    struct net_listener *l = server_stream->data;
    struct net_server *s = l->server;
    if (status < 0) {
        LOG_WARN("net", "accept on %s failed: %s", l->name, uv_strerror(status));
        return;
    }
    struct net_conn *c = ferry_calloc(1, sizeof *c);
    uint8_t *rbuf = ferry_malloc(READ_BUF_SIZE);
    if (!c || !rbuf) {
        ferry_free(c);
        ferry_free(rbuf);
        LOG_ERROR("net", "out of memory accepting on %s", l->name);
        return;
    }
    c->server = s;
    c->listener = l;
    c->rbuf = rbuf;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    s->open_handles++;
    if (uv_accept(server_stream, (uv_stream_t *)&c->tcp) != 0) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, conn_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage addr;
    int alen = sizeof addr;
    snprintf(c->peer, sizeof c->peer, "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&addr, &alen) == 0) {
        char ip[48] = "";
        int port = 0;
        if (addr.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&addr, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in *)&addr)->sin_port);
        } else if (addr.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&addr, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
        }
        snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
    }
    c->last_active_ms = uv_now(s->loop);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    conn_update_reading(c);
}

static void idle_check(uv_timer_t *t)
{
    struct net_server *s = t->data;
    uint64_t now = uv_now(s->loop);
    struct net_conn *c = s->conns;
    while (c) {
        struct net_conn *next = c->next;
        if (c->inflight == 0 && now - c->last_active_ms > (uint64_t)s->limits.idle_timeout_ms)
            conn_close(c, "idle longer than connections.max.idle.ms");
        c = next;
    }
}

int net_server_new(uv_loop_t *loop, const struct net_limits *limits, struct net_server **out)
{
    struct net_server *s = ferry_calloc(1, sizeof *s);
    if (!s)
        return FERRY_ENOMEM;
    s->loop = loop;
    s->limits = *limits;
    if (!s->limits.max_unsent_bytes)
        s->limits.max_unsent_bytes = NET_DEFAULT_MAX_UNSENT_BYTES;
    if (!s->limits.max_inflight)
        s->limits.max_inflight = NET_DEFAULT_MAX_INFLIGHT;
    uv_timer_init(loop, &s->idle_timer);
    s->idle_timer.data = s;
    uv_idle_init(loop, &s->flush_idle);
    s->flush_idle.data = s;
    s->open_handles = 2;
    if (s->limits.idle_timeout_ms > 0) {
        uint64_t every = (uint64_t)s->limits.idle_timeout_ms / 4;
        if (every < 10)
            every = 10;
        if (every > 1000)
            every = 1000;
        uv_timer_start(&s->idle_timer, idle_check, every, every);
    }
    *out = s;
    return 0;
}

static void listener_closed(uv_handle_t *h)
{
    struct net_listener *l = h->data;
    struct net_server *s = l->server;
    ferry_free(l);
    if (--s->open_handles == 0 && s->closing)
        ferry_free(s);
}

int net_server_listen(struct net_server *s, const char *name, const char *host, int port, net_dispatch_fn dispatch,
                      void *ctx, int *bound_port)
{
    struct sockaddr_storage addr;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr) != 0) {
        LOG_ERROR("net", "listener %s: cannot parse host '%s'", name, host);
        return FERRY_EINVAL;
    }
    struct net_listener *l = ferry_calloc(1, sizeof *l);
    if (!l)
        return FERRY_ENOMEM;
    l->server = s;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->dispatch = dispatch;
    l->ctx = ctx;
    uv_tcp_init(s->loop, &l->tcp);
    l->tcp.data = l;
    s->open_handles++;
    int rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection);
    if (rc != 0) {
        LOG_ERROR("net", "listener %s: cannot listen on %s:%d: %s", name, host, port, uv_strerror(rc));
        uv_close((uv_handle_t *)&l->tcp, listener_closed);
        return FERRY_EIO;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    int actual = port;
    if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&bound, &blen) == 0)
        actual = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    if (bound_port)
        *bound_port = actual;
    l->next = s->listeners;
    s->listeners = l;
    LOG_INFO("net", "listening on %s:%d (%s)", host, actual, name);
    return 0;
}

void net_server_close(struct net_server *s)
{
    s->closing = true;
    while (s->conns)
        conn_close(s->conns, NULL);
    struct net_listener *l = s->listeners;
    while (l) {
        struct net_listener *next = l->next;
        uv_close((uv_handle_t *)&l->tcp, listener_closed);
        l = next;
    }
    s->listeners = NULL;
    uv_timer_stop(&s->idle_timer);
    uv_close((uv_handle_t *)&s->idle_timer, handle_closed);
    uv_idle_stop(&s->flush_idle);
    uv_close((uv_handle_t *)&s->flush_idle, handle_closed);
}
