/* kclient: see kclient.h. Blocking sockets with poll()-based deadlines; one request in flight. */
#include "kclient.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api_support.h"
#include "proto_codec.h"
#include "proto_header.h"

enum {
    KCLIENT_DEFAULT_TIMEOUT_MS = 30000,
    KCLIENT_MAX_RESPONSE = 256 * 1024 * 1024, /* a larger size prefix means garbage, not a response */
    KCLIENT_CONTROLLER_RETRY_MS = 200,
};

static const char KCLIENT_SOFTWARE_NAME[] = "ferry-cli";
static const char KCLIENT_SOFTWARE_VERSION[] = "0.1";

static int fail(struct kclient *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct kclient *c, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
    return err;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ms_left(int64_t deadline)
{
    int64_t left = deadline - now_ms();
    return left < 0 ? 0 : (int)left;
}

/* "CreateTopics" for key 19 (the generated message name without "Request"). */
static const char *api_name(int16_t api_key, char *buf, size_t cap)
{
    const struct proto_message *m = proto_find(PROTO_KIND_REQUEST, api_key);
    if (!m) {
        snprintf(buf, cap, "api %d", api_key);
        return buf;
    }
    size_t n = strlen(m->name);
    if (n > 7 && strcmp(m->name + n - 7, "Request") == 0)
        n -= 7;
    snprintf(buf, cap, "%.*s", (int)n, m->name);
    return buf;
}

void kclient_init(struct kclient *c)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->node_id = -1;
    c->timeout_ms = KCLIENT_DEFAULT_TIMEOUT_MS;
    c->client_id = "ferry-cli";
    c->next_correlation_id = 1;
    c->api_versions_version = -1;
}

const char *kclient_errmsg(const struct kclient *c) { return c->errmsg; }

int kclient_parse_hostport(const char *s, char *host, size_t hostcap, int *port)
{
    if (!s || !*s)
        return FERRY_EINVAL;
    size_t total = strcspn(s, ","); /* first entry of a bootstrap list */
    const char *hs = s, *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', total);
        if (!close || close + 1 >= s + total || close[1] != ':')
            return FERRY_EINVAL;
        hs = s + 1;
        hlen = (size_t)(close - hs);
        colon = close + 1;
    } else {
        colon = NULL;
        for (const char *p = s; p < s + total; p++)
            if (*p == ':')
                colon = p;
        if (!colon)
            return FERRY_EINVAL;
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen + 1 > hostcap)
        return FERRY_EINVAL;
    const char *ps = colon + 1, *pe = s + total;
    if (ps == pe || pe - ps > 5)
        return FERRY_EINVAL;
    long p = 0;
    for (const char *q = ps; q < pe; q++) {
        if (*q < '0' || *q > '9')
            return FERRY_EINVAL;
        p = p * 10 + (*q - '0');
    }
    if (p < 1 || p > 65535)
        return FERRY_EINVAL;
    memcpy(host, hs, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}

/* ---- socket I/O ------------------------------------------------------------------------------------ */

static int wait_fd(struct kclient *c, short events, int64_t deadline, const char *what)
{
    for (;;) {
        struct pollfd pfd = {.fd = c->fd, .events = events};
        int n = poll(&pfd, 1, ms_left(deadline));
        if (n > 0)
            return 0;
        if (n == 0)
            return fail(c, KCLIENT_ETIMEDOUT, "%s:%d: timed out after %d ms while %s", c->host, c->port,
                        c->timeout_ms, what);
        if (errno != EINTR)
            return fail(c, KCLIENT_ENET, "%s:%d: poll: %s", c->host, c->port, strerror(errno));
    }
}

static int connect_addr(struct kclient *c, const struct addrinfo *ai, int64_t deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0)
        return fail(c, KCLIENT_ENET, "socket: %s", strerror(errno));
    c->fd = fd;
    int rc = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS) {
            rc = errno;
            goto close_fd;
        }
        int w = wait_fd(c, POLLOUT, deadline, "connecting");
        if (w < 0) {
            close(fd);
            c->fd = -1;
            return w;
        }
        socklen_t len = sizeof rc;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &rc, &len) < 0)
            rc = errno;
        if (rc)
            goto close_fd;
    }
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK); /* blocking from here on; poll() bounds every wait */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;

close_fd:
    close(fd);
    c->fd = -1;
    if (rc == ECONNREFUSED)
        return fail(c, KCLIENT_ECONNREFUSED, "%s:%d: connection refused (is a broker listening there?)", c->host,
                    c->port);
    return fail(c, KCLIENT_ENET, "%s:%d: connect: %s", c->host, c->port, strerror(rc));
}

static int open_socket(struct kclient *c)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", c->port);
    int gai = getaddrinfo(c->host, portstr, &hints, &res);
    if (gai != 0)
        return fail(c, KCLIENT_ERESOLVE, "%s: cannot resolve host: %s", c->host, gai_strerror(gai));
    int64_t deadline = now_ms() + c->timeout_ms;
    int rc = KCLIENT_ENET;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        rc = connect_addr(c, ai, deadline);
        if (rc == 0 || rc == KCLIENT_ETIMEDOUT)
            break;
    }
    freeaddrinfo(res);
    return rc;
}

static int send_all(struct kclient *c, const uint8_t *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        int rc = wait_fd(c, POLLOUT, deadline, "sending a request");
        if (rc < 0)
            return rc;
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            if (errno == EPIPE || errno == ECONNRESET)
                return fail(c, KCLIENT_ECLOSED, "%s:%d: connection closed by the broker while sending", c->host,
                            c->port);
            return fail(c, KCLIENT_ENET, "%s:%d: send: %s", c->host, c->port, strerror(errno));
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads exactly n bytes; *got says how many arrived before a failure. */
static int recv_exact(struct kclient *c, uint8_t *p, size_t n, int64_t deadline, size_t *got)
{
    *got = 0;
    while (*got < n) {
        int rc = wait_fd(c, POLLIN, deadline, "waiting for a response");
        if (rc < 0)
            return rc;
        ssize_t k = recv(c->fd, p + *got, n - *got, 0);
        if (k == 0)
            return KCLIENT_ECLOSED;
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            if (errno == ECONNRESET)
                return KCLIENT_ECLOSED;
            return fail(c, KCLIENT_ENET, "%s:%d: recv: %s", c->host, c->port, strerror(errno));
        }
        *got += (size_t)k;
    }
    return 0;
}

/* ---- framing --------------------------------------------------------------------------------------- */

static int send_request(struct kclient *c, int16_t api_key, int16_t version, const void *req, int32_t *corr,
                        int64_t deadline)
{
    char name[64];
    const struct proto_message *m = proto_find(PROTO_KIND_REQUEST, api_key);
    if (!m)
        return fail(c, KCLIENT_EUNSUPPORTED, "api key %d is unknown to this client", api_key);
    struct proto_writer w;
    proto_writer_init(&w);
    proto_write_i32(&w, 0); /* size, patched below */
    struct proto_request_header h = {
        .api_key = api_key,
        .api_version = version,
        .correlation_id = c->next_correlation_id++,
        .client_id = proto_str_from(c->client_id),
    };
    proto_write_request_header(&w, &h);
    int rc = proto_encode(m, version, &w, req);
    if (rc == 0 && w.err)
        rc = w.err;
    if (rc < 0) {
        rc = fail(c, rc, "cannot encode %s v%d: %s", api_name(api_key, name, sizeof name), version,
                  ferry_strerror(rc));
        goto free_writer;
    }
    proto_patch_i32(&w, 0, (int32_t)(w.len - 4));
    rc = send_all(c, w.buf, w.len, deadline);
    *corr = h.correlation_id;
free_writer:
    proto_writer_free(&w);
    return rc;
}

/* Reads one response frame into the arena and positions `body` after its header. */
static int recv_response(struct kclient *c, int16_t api_key, int16_t version, int32_t corr, int64_t deadline,
                         struct proto_arena *a, struct proto_reader *body)
{
    char name[64];
    api_name(api_key, name, sizeof name);
    uint8_t sizebuf[4];
    size_t got;
    int rc = recv_exact(c, sizebuf, 4, deadline, &got);
    if (rc == KCLIENT_ECLOSED)
        return got == 0 ? fail(c, rc,
                               "%s:%d: connection closed by the broker before answering %s v%d (a broker closes "
                               "the connection on a request version it does not support)",
                               c->host, c->port, name, version)
                        : fail(c, rc, "%s:%d: truncated %s response: %zu of 4 size bytes", c->host, c->port,
                               name, got);
    if (rc < 0)
        return rc;
    int32_t size = (int32_t)proto_be32(sizebuf);
    if (size < 4 || size > KCLIENT_MAX_RESPONSE)
        return fail(c, FERRY_EPARSE, "%s:%d: implausible %s response size %d", c->host, c->port, name, size);
    uint8_t *buf = proto_arena_alloc(a, (size_t)size);
    if (!buf)
        return fail(c, FERRY_ENOMEM, "out of memory for a %d-byte response", size);
    rc = recv_exact(c, buf, (size_t)size, deadline, &got);
    if (rc == KCLIENT_ECLOSED)
        return fail(c, rc, "%s:%d: truncated %s response: connection closed after %zu of %d bytes", c->host,
                    c->port, name, got, size);
    if (rc < 0)
        return rc;
    proto_reader_init(body, buf, (size_t)size);
    int32_t got_corr = proto_read_i32(body);
    if (got_corr != corr)
        return fail(c, FERRY_EPARSE, "%s:%d: %s response has correlation id %d, expected %d", c->host, c->port,
                    name, got_corr, corr);
    if (proto_response_header_version(api_key, version) >= 1)
        proto_skip_tags(body);
    if (body->err)
        return fail(c, FERRY_EPARSE, "%s:%d: malformed %s response header", c->host, c->port, name);
    return 0;
}

static int decode_body(struct kclient *c, int16_t api_key, int16_t version, struct proto_reader *body,
                       struct proto_arena *a, void *resp)
{
    char name[64];
    const struct proto_message *m = proto_find(PROTO_KIND_RESPONSE, api_key);
    if (!m)
        return fail(c, KCLIENT_EUNSUPPORTED, "no response description for api key %d", api_key);
    int rc = proto_decode(m, version, body, a, resp);
    if (rc < 0)
        return fail(c, rc, "%s:%d: cannot decode %s v%d response (%zu bytes): %s", c->host, c->port,
                    api_name(api_key, name, sizeof name), version, body->len, ferry_strerror(rc));
    return 0;
}

int kclient_call(struct kclient *c, int16_t api_key, int16_t version, const void *req, struct proto_arena *a,
                 void *resp)
{
    if (c->fd < 0)
        return fail(c, KCLIENT_ENET, "not connected");
    int64_t deadline = now_ms() + c->timeout_ms;
    int32_t corr = 0;
    struct proto_reader body;
    int rc = send_request(c, api_key, version, req, &corr, deadline);
    if (rc == 0)
        rc = recv_response(c, api_key, version, corr, deadline, a, &body);
    if (rc == 0)
        rc = decode_body(c, api_key, version, &body, a, resp);
    if (rc < 0 && rc != FERRY_EPARSE && rc != KCLIENT_EUNSUPPORTED)
        kclient_close(c); /* the stream position is unknown after a transport failure */
    return rc;
}

/* ---- ApiVersions handshake ------------------------------------------------------------------------- */

/* One ApiVersions attempt at `version`. On a Kafka error, *kerr is set and *retry_version says which
 * version to try next (-1: none), following librdkafka's fallback. */
static int api_versions_once(struct kclient *c, int16_t version, int16_t *kerr, int16_t *retry_version)
{
    *kerr = 0;
    *retry_version = -1;
    struct ApiVersionsRequest req;
    proto_struct_init(proto_msg_ApiVersionsRequest.body, &req);
    req.ClientSoftwareName = proto_str_from(KCLIENT_SOFTWARE_NAME);
    req.ClientSoftwareVersion = proto_str_from(KCLIENT_SOFTWARE_VERSION);
    struct proto_arena a;
    proto_arena_init(&a);
    int64_t deadline = now_ms() + c->timeout_ms;
    int32_t corr = 0;
    struct proto_reader body;
    int rc = send_request(c, API_API_VERSIONS, version, &req, &corr, deadline);
    if (rc == 0)
        rc = recv_response(c, API_API_VERSIONS, version, corr, deadline, &a, &body);
    if (rc < 0)
        goto free_arena;
    /* The error code comes first in every version; an error answer may be v0-shaped whatever we sent. */
    struct proto_reader peek = body;
    int16_t err = proto_read_i16(&peek);
    if (peek.err) {
        rc = fail(c, FERRY_EPARSE, "%s:%d: empty ApiVersions response", c->host, c->port);
        goto free_arena;
    }
    struct ApiVersionsResponse resp;
    if (err == KERR_UNSUPPORTED_VERSION) {
        *kerr = err;
        *retry_version = 0;
        struct proto_reader v0 = body;
        if (version > 0 && proto_decode(&proto_msg_ApiVersionsResponse, 0, &v0, &a, &resp) == 0)
            for (int32_t i = 0; i < resp.ApiKeys_n; i++)
                if (resp.ApiKeys[i].ApiKey == API_API_VERSIONS) {
                    int16_t max = resp.ApiKeys[i].MaxVersion;
                    *retry_version = (int16_t)(version - 1 < max ? version - 1 : max);
                }
        if (version == 0)
            *retry_version = -1;
        goto free_arena;
    }
    if (err != 0) {
        *kerr = err;
        *retry_version = (err == KERR_INVALID_REQUEST && version > 0) ? 0 : -1;
        goto free_arena;
    }
    rc = decode_body(c, API_API_VERSIONS, version, &body, &a, &resp);
    if (rc < 0)
        goto free_arena;
    c->napis = 0;
    for (int32_t i = 0; i < resp.ApiKeys_n && c->napis < KCLIENT_MAX_APIS; i++) {
        struct kclient_api *api = &c->apis[c->napis++];
        api->api_key = resp.ApiKeys[i].ApiKey;
        api->min_version = resp.ApiKeys[i].MinVersion;
        api->max_version = resp.ApiKeys[i].MaxVersion;
    }
    c->api_versions_version = version;
free_arena:
    proto_arena_free(&a);
    return rc;
}

static int handshake(struct kclient *c)
{
    const struct proto_message *m = proto_find(PROTO_KIND_REQUEST, API_API_VERSIONS);
    int16_t version = m->max_version > 3 ? 3 : m->max_version;
    bool reconnected = false;
    for (int attempt = 0; attempt < 4; attempt++) {
        int16_t kerr, next;
        int rc = api_versions_once(c, version, &kerr, &next);
        if (rc == KCLIENT_ECLOSED && version > 0 && !reconnected) {
            /* A broker that predates ApiVersions v3 may just hang up: try v0 on a fresh connection. */
            kclient_close(c);
            reconnected = true;
            version = 0;
            if ((rc = open_socket(c)) < 0)
                return rc;
            continue;
        }
        if (rc < 0)
            return rc;
        if (kerr == 0)
            return 0;
        if (next < 0 || next >= version)
            return fail(c, KCLIENT_EUNSUPPORTED, "%s:%d: ApiVersions v%d failed: %s (%d)", c->host, c->port,
                        version, kafka_error_name(kerr), kerr);
        version = next;
    }
    return fail(c, KCLIENT_EUNSUPPORTED, "%s:%d: ApiVersions handshake did not converge", c->host, c->port);
}

int kclient_connect(struct kclient *c, const char *host, int port)
{
    kclient_close(c);
    c->errmsg[0] = '\0';
    c->napis = 0;
    c->api_versions_version = -1;
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    int rc = open_socket(c);
    if (rc < 0)
        return rc;
    rc = handshake(c);
    if (rc < 0)
        kclient_close(c);
    return rc;
}

int kclient_connect_bootstrap(struct kclient *c, const char *bootstrap)
{
    char host[256];
    int port;
    if (kclient_parse_hostport(bootstrap, host, sizeof host, &port) < 0)
        return fail(c, FERRY_EINVAL, "invalid bootstrap server '%s' (expected HOST:PORT)", bootstrap ? bootstrap : "");
    return kclient_connect(c, host, port);
}

void kclient_close(struct kclient *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* ---- versions ---------------------------------------------------------------------------------------- */

const struct kclient_api *kclient_broker_api(const struct kclient *c, int16_t api_key)
{
    for (int i = 0; i < c->napis; i++)
        if (c->apis[i].api_key == api_key)
            return &c->apis[i];
    return NULL;
}

int kclient_pick_version(struct kclient *c, int16_t api_key, int16_t need_min)
{
    char name[64];
    api_name(api_key, name, sizeof name);
    const struct proto_message *req = proto_find(PROTO_KIND_REQUEST, api_key);
    const struct proto_message *resp = proto_find(PROTO_KIND_RESPONSE, api_key);
    if (!req || !resp)
        return fail(c, KCLIENT_EUNSUPPORTED, "%s is unknown to this client", name);
    const struct kclient_api *b = kclient_broker_api(c, api_key);
    if (!b)
        return fail(c, KCLIENT_EUNSUPPORTED, "%s:%d: the broker does not support %s (UNSUPPORTED_VERSION: not in "
                    "its ApiVersions answer)", c->host, c->port, name);
    int ours_max = req->max_version < resp->max_version ? req->max_version : resp->max_version;
    int ours_min = req->min_version > resp->min_version ? req->min_version : resp->min_version;
    int hi = ours_max < b->max_version ? ours_max : b->max_version;
    int lo = ours_min > b->min_version ? ours_min : b->min_version;
    if (need_min > lo)
        lo = need_min;
    if (hi < lo)
        return fail(c, KCLIENT_EUNSUPPORTED, "%s:%d: UNSUPPORTED_VERSION: the broker serves %s v%d-%d, this client "
                    "needs v%d-%d", c->host, c->port, name, b->min_version, b->max_version, lo, ours_max);
    return hi;
}

/* ---- controller -------------------------------------------------------------------------------------- */

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* One Metadata round trip: the controller's id and address. KCLIENT_ENOCONTROLLER when none is known. */
static int find_controller(struct kclient *c, int32_t *ctrl, char *host, size_t hostcap, int *port)
{
    int version = kclient_pick_version(c, API_METADATA, 1);
    if (version < 0)
        return version;
    struct MetadataRequest req;
    proto_struct_init(proto_msg_MetadataRequest.body, &req);
    req.Topics_n = 0; /* v1+: an empty list asks for brokers only */
    req.AllowAutoTopicCreation = false;
    struct proto_arena a;
    proto_arena_init(&a);
    struct MetadataResponse resp;
    int rc = kclient_call(c, API_METADATA, (int16_t)version, &req, &a, &resp);
    if (rc < 0)
        goto free_arena;
    *ctrl = resp.ControllerId;
    rc = fail(c, KCLIENT_ENOCONTROLLER, "%s:%d: no controller available (Metadata controller_id %d%s)", c->host,
              c->port, *ctrl, *ctrl >= 0 ? " is not among the brokers" : "");
    for (int32_t i = 0; *ctrl >= 0 && i < resp.Brokers_n; i++) {
        const struct MetadataResponse_MetadataResponseBroker *b = &resp.Brokers[i];
        if (b->NodeId != *ctrl || b->Host.len <= 0)
            continue;
        snprintf(host, hostcap, "%.*s", (int)b->Host.len, b->Host.p);
        *port = b->Port;
        c->errmsg[0] = '\0';
        rc = 0;
        break;
    }
free_arena:
    proto_arena_free(&a);
    return rc;
}

int kclient_connect_controller(struct kclient *c)
{
    int64_t deadline = now_ms() + c->timeout_ms;
    int32_t ctrl = -1;
    char host[256];
    int port = 0;
    int rc;
    while ((rc = find_controller(c, &ctrl, host, sizeof host, &port)) == KCLIENT_ENOCONTROLLER &&
           ms_left(deadline) >= KCLIENT_CONTROLLER_RETRY_MS)
        sleep_ms(KCLIENT_CONTROLLER_RETRY_MS); /* a broker that just started may not know its controller yet */
    if (rc < 0)
        return rc;
    if (strcmp(host, c->host) != 0 || port != c->port) {
        rc = kclient_connect(c, host, port);
        if (rc < 0) {
            char why[sizeof c->errmsg];
            snprintf(why, sizeof why, "%s", c->errmsg);
            return fail(c, rc, "controller %d: %s", ctrl, why);
        }
    }
    c->node_id = ctrl;
    return 0;
}

/* ---- formatting -------------------------------------------------------------------------------------- */

const char *kclient_strerror(int err)
{
    switch (err) {
    case KCLIENT_ECONNREFUSED: return "connection refused";
    case KCLIENT_ETIMEDOUT: return "timed out";
    case KCLIENT_ECLOSED: return "connection closed";
    case KCLIENT_ERESOLVE: return "cannot resolve host";
    case KCLIENT_EUNSUPPORTED: return "unsupported version";
    case KCLIENT_ENOCONTROLLER: return "no controller";
    case KCLIENT_ENET: return "network error";
    default: return ferry_strerror(err);
    }
}

const char *kclient_kafka_message(int16_t code)
{
    switch (code) {
    case KERR_NONE: return "";
    case KERR_UNKNOWN_SERVER_ERROR:
        return "The server experienced an unexpected error when processing the request.";
    case KERR_UNKNOWN_TOPIC_OR_PARTITION: return "This server does not host this topic-partition.";
    case KERR_LEADER_NOT_AVAILABLE:
        return "There is no leader for this topic-partition as we are in the middle of a leadership election.";
    case KERR_NOT_LEADER_OR_FOLLOWER: return "For requests intended only for the leader, this error indicates "
                                             "that the broker is not the current leader.";
    case KERR_REQUEST_TIMED_OUT: return "The request timed out.";
    case KERR_INVALID_TOPIC_EXCEPTION:
        return "The request attempted to perform an operation on an invalid topic.";
    case KERR_TOPIC_AUTHORIZATION_FAILED: return "Topic authorization failed.";
    case KERR_CLUSTER_AUTHORIZATION_FAILED: return "Cluster authorization failed.";
    case KERR_UNSUPPORTED_VERSION: return "The version of API is not supported.";
    case KERR_TOPIC_ALREADY_EXISTS: return "Topic with this name already exists.";
    case KERR_INVALID_PARTITIONS: return "Number of partitions is below 1.";
    case KERR_INVALID_REPLICATION_FACTOR:
        return "Replication factor is below 1 or larger than the number of available brokers.";
    case KERR_INVALID_REPLICA_ASSIGNMENT: return "Replica assignment is invalid.";
    case KERR_INVALID_CONFIG: return "Configuration is invalid.";
    case KERR_NOT_CONTROLLER: return "This is not the correct controller for this cluster.";
    case KERR_INVALID_REQUEST:
        return "This most likely occurs because of a request being malformed by the client library or the "
               "message was sent to an incompatible broker. See the broker logs for more details.";
    case KERR_POLICY_VIOLATION: return "Request parameters do not satisfy the configured policy.";
    case KERR_TOPIC_DELETION_DISABLED: return "Topic deletion is disabled.";
    case KERR_THROTTLING_QUOTA_EXCEEDED: return "The throttling quota has been exceeded.";
    case KERR_UNKNOWN_TOPIC_ID: return "This server does not host this topic ID.";
    case KERR_RESOURCE_NOT_FOUND: return "A request illegally referred to a resource that does not exist.";
    default: return "";
    }
}

