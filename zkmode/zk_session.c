/* zk_session: see zk_session.h. */
#include "zk_session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"

enum req_type { REQ_CREATE = 1, REQ_SET, REQ_DELETE, REQ_GET, REQ_EXISTS, REQ_CHILDREN, REQ_MULTI };

struct zk_req {
    struct zk_req *next;      /* pending queue or in-flight list */
    struct zk_req *prev;      /* in-flight list (O(1) removal with hundreds in flight) */
    bool in_flight;
    bool bulk;                /* made in bulk mode: may be in flight up to ZK_BULK_IN_FLIGHT */
    struct zk_session *s;
    enum req_type type;
    char *path;
    char *data;
    int len;
    int version;
    int flags;
    bool watch;
    bool silent;              /* zk_create_path's ancestors: no completion */
    int refused_rc;           /* the client's synchronous refusal (on the refused list) */
    /* multi */
    struct zk_op *ops;        /* owned copies of paths and data */
    int nops;
    zoo_op_t *zops;
    zoo_op_result_t *zres;
    struct Stat *stats;
    char **bufs;              /* created paths */
    zk_done_fn done;
    void *arg;
};

struct zk_watch {
    struct zk_watch *next;
    char *path;
    zk_watch_fn fn;
    void *arg;
    bool dead;
};

struct zk_session {
    uv_loop_t *loop;
    zhandle_t *zh;
    char *connect;
    char *digest;
    int32_t timeout_ms;
    int32_t max_in_flight;
    bool bulk_mode;           /* zk_session_bulk */
    bool secure;
    zk_state_fn on_state;
    void *state_arg;
    /* pumping */
    uv_timer_t *timer;
    uv_poll_t *poll;
    int poll_fd;              /* our dup of the client's socket, -1 when none */
    ino_t poll_ino;
    int in_process;
    bool close_requested;
    bool closed;
    bool reinit;              /* the session expired: build a new handle */
    bool was_expired;
    bool connected;
    int64_t session_id;
    int ending_rc;            /* the rc given to requests ended by zookeeper_close */
    int pending_handles;      /* uv handles not yet closed */
    /* requests */
    struct zk_req *pend_head, *pend_tail; /* not sent yet, in order */
    struct zk_req *inflight;               /* sent, unanswered */
    struct zk_req *refused;                /* refused by the client at once: ended from the timer */
    int ninflight;
    struct zk_watch *watches;
};

static void pump(struct zk_session *s);
static void flush_pending(struct zk_session *s);
static void end_refused(struct zk_session *s);

/* ---- names, ACLs, connect strings ---- */

const char *zk_rc_name(int rc)
{
    switch (rc) {
    case ZOK: return "OK";
    case ZNONODE: return "NONODE";
    case ZNODEEXISTS: return "NODEEXISTS";
    case ZBADVERSION: return "BADVERSION";
    case ZNOTEMPTY: return "NOTEMPTY";
    case ZNOAUTH: return "NOAUTH";
    case ZCONNECTIONLOSS: return "CONNECTIONLOSS";
    case ZOPERATIONTIMEOUT: return "OPERATIONTIMEOUT";
    case ZSESSIONEXPIRED: return "SESSIONEXPIRED";
    case ZCLOSING: return "CLOSING";
    case ZINVALIDSTATE: return "INVALIDSTATE";
    case ZAUTHFAILED: return "AUTHFAILED";
    case ZBADARGUMENTS: return "BADARGUMENTS";
    case ZINVALIDACL: return "INVALIDACL";
    case ZNOCHILDRENFOREPHEMERALS: return "NOCHILDRENFOREPHEMERALS";
    default: return zerror(rc);
    }
}

static bool under(const char *path, const char *root)
{
    return strncmp(path, root, strlen(root)) == 0; /* Kafka's path.startsWith */
}

const struct ACL_vector *zk_acl_for(bool secure, const char *path)
{
    static struct ACL creator_read[2];
    static struct ACL creator_only[1];
    static struct ACL_vector v_creator_read = {2, creator_read};
    static struct ACL_vector v_creator_only = {1, creator_only};
    if (!secure || strcmp(path, "/consumers") == 0)
        return &ZOO_OPEN_ACL_UNSAFE;
    creator_read[0] = (struct ACL){ZOO_PERM_ALL, {"auth", ""}};
    creator_read[1] = (struct ACL){ZOO_PERM_READ, {"world", "anyone"}};
    creator_only[0] = creator_read[0];
    if (under(path, "/config/users") || under(path, "/config/brokers") || under(path, "/delegation_token/tokens"))
        return &v_creator_only;
    return &v_creator_read;
}

int zk_connect_split(const char *connect, char **hosts, char **chroot, char *err, size_t errlen)
{
    *hosts = *chroot = NULL;
    const char *slash = strchr(connect, '/');
    size_t hlen = slash ? (size_t)(slash - connect) : strlen(connect);
    if (hlen == 0 || connect[hlen - 1] == ',') {
        snprintf(err, errlen, "zookeeper.connect '%s': no host:port%s", connect, hlen ? " after the last comma" : "");
        return FERRY_EINVAL;
    }
    /* every comma-separated host needs a port */
    const char *p = connect;
    while (p < connect + hlen) {
        const char *comma = memchr(p, ',', (size_t)(connect + hlen - p));
        const char *end = comma ? comma : connect + hlen;
        const char *colon = NULL;
        for (const char *q = p; q < end; q++)
            if (*q == ':')
                colon = q;
        if (end == p || !colon || colon == p || colon + 1 == end) {
            snprintf(err, errlen, "zookeeper.connect '%s': '%.*s' is not host:port", connect, (int)(end - p), p);
            return FERRY_EINVAL;
        }
        for (const char *q = colon + 1; q < end; q++)
            if (*q < '0' || *q > '9') {
                snprintf(err, errlen, "zookeeper.connect '%s': bad port in '%.*s'", connect, (int)(end - p), p);
                return FERRY_EINVAL;
            }
        p = end + 1;
    }
    if (slash) {
        const char *c = slash;
        if (strcmp(c, "/") != 0) {
            size_t n = strlen(c);
            if (c[n - 1] == '/' || strstr(c, "//") || strstr(c, "/./") || strstr(c, "/../") ||
                (n >= 2 && strcmp(c + n - 2, "/.") == 0) || (n >= 3 && strcmp(c + n - 3, "/..") == 0)) {
                snprintf(err, errlen, "zookeeper.connect '%s': chroot '%s' is not a valid ZooKeeper path", connect,
                         c);
                return FERRY_EINVAL;
            }
        }
    }
    *hosts = ferry_malloc(hlen + 1);
    const char *root = slash && strcmp(slash, "/") != 0 ? slash : "";
    *chroot = ferry_strdup(root);
    if (!*hosts || !*chroot) {
        ferry_free(*hosts);
        ferry_free(*chroot);
        *hosts = *chroot = NULL;
        snprintf(err, errlen, "out of memory");
        return FERRY_ENOMEM;
    }
    memcpy(*hosts, connect, hlen);
    (*hosts)[hlen] = 0;
    return 0;
}

const struct ACL_vector *zk_session_acl(const struct zk_session *s, const char *path)
{
    return zk_acl_for(s->secure, path);
}

/* ---- requests ---- */

static void req_free(struct zk_req *r)
{
    if (!r)
        return;
    ferry_free(r->path);
    ferry_free(r->data);
    for (int i = 0; r->ops && i < r->nops; i++) {
        ferry_free((char *)r->ops[i].path);
        ferry_free((char *)r->ops[i].data);
        if (r->bufs)
            ferry_free(r->bufs[i]);
    }
    ferry_free(r->ops);
    ferry_free(r->zops);
    ferry_free(r->zres);
    ferry_free(r->stats);
    ferry_free(r->bufs);
    ferry_free(r);
}

static char *dup_bytes(const char *p, int len, bool *oom)
{
    if (!p || len < 0)
        return NULL;
    char *d = ferry_malloc((size_t)len + 1);
    if (!d) {
        *oom = true;
        return NULL;
    }
    memcpy(d, p, (size_t)len);
    d[len] = 0;
    return d;
}

static void finish(struct zk_req *r, const struct zk_result *res)
{
    if (!r->silent && r->done)
        r->done(r->arg, res);
    req_free(r);
}

static void fail(struct zk_req *r, int rc)
{
    struct zk_result res = {.rc = rc, .len = -1};
    if (r->type == REQ_MULTI) {
        for (int i = 0; r->zres && i < r->nops; i++)
            r->zres[i].err = rc;
        res.results = r->zres;
        res.nresults = r->zres ? r->nops : 0;
    }
    finish(r, &res);
}

static void link_inflight(struct zk_session *s, struct zk_req *r)
{
    r->prev = NULL;
    r->next = s->inflight;
    if (s->inflight)
        s->inflight->prev = r;
    s->inflight = r;
    r->in_flight = true;
    s->ninflight++;
}

static void unlink_inflight(struct zk_req *r)
{
    struct zk_session *s = r->s;
    if (r->in_flight) {
        if (r->prev)
            r->prev->next = r->next;
        else
            s->inflight = r->next;
        if (r->next)
            r->next->prev = r->prev;
        r->in_flight = false;
        s->ninflight--;
    }
    r->next = r->prev = NULL;
}

static void enqueue(struct zk_session *s, struct zk_req *r)
{
    r->next = NULL;
    if (s->pend_tail)
        s->pend_tail->next = r;
    else
        s->pend_head = r;
    s->pend_tail = r;
}

/* Called first by every completion: true when the request was requeued or ended here. */
static bool retry_or_end(struct zk_req *r, int rc)
{
    struct zk_session *s = r->s;
    unlink_inflight(r);
    if (s->ending_rc && (rc == ZCLOSING || rc == ZCONNECTIONLOSS || rc == ZSESSIONEXPIRED)) {
        fail(r, s->ending_rc);
        return true;
    }
    if ((rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT) && !s->closed && !s->close_requested) {
        LOG_DEBUG("zk", "request on %s: %s, retried after reconnecting", r->path ? r->path : "(multi)",
                  zk_rc_name(rc));
        enqueue(s, r);
        return true;
    }
    return false;
}

static void on_stat(int rc, const struct Stat *stat, const void *data)
{
    struct zk_req *r = (struct zk_req *)data;
    struct zk_session *s = r->s;
    if (retry_or_end(r, rc))
        return;
    struct zk_result res = {.rc = rc, .stat = rc == ZOK ? stat : NULL, .len = -1};
    finish(r, &res);
    flush_pending(s);
}

static void on_void(int rc, const void *data)
{
    struct zk_req *r = (struct zk_req *)data;
    struct zk_session *s = r->s;
    if (retry_or_end(r, rc))
        return;
    struct zk_result res = {.rc = rc, .len = -1};
    finish(r, &res);
    flush_pending(s);
}

static void on_data(int rc, const char *value, int len, const struct Stat *stat, const void *data)
{
    struct zk_req *r = (struct zk_req *)data;
    struct zk_session *s = r->s;
    if (retry_or_end(r, rc))
        return;
    struct zk_result res = {.rc = rc, .stat = rc == ZOK ? stat : NULL, .data = rc == ZOK ? value : NULL,
                            .len = rc == ZOK ? len : -1};
    finish(r, &res);
    flush_pending(s);
}

static void on_create(int rc, const char *value, const struct Stat *stat, const void *data)
{
    (void)value;
    on_stat(rc, stat, data);
}

static void on_children(int rc, const struct String_vector *strings, const struct Stat *stat, const void *data)
{
    struct zk_req *r = (struct zk_req *)data;
    struct zk_session *s = r->s;
    if (retry_or_end(r, rc))
        return;
    struct zk_result res = {.rc = rc, .stat = rc == ZOK ? stat : NULL, .children = rc == ZOK ? strings : NULL,
                            .len = -1};
    finish(r, &res);
    flush_pending(s);
}

static void on_multi(int rc, const void *data)
{
    struct zk_req *r = (struct zk_req *)data;
    struct zk_session *s = r->s;
    if (retry_or_end(r, rc))
        return;
    struct zk_result res = {.rc = rc, .results = r->zres, .nresults = r->nops, .len = -1};
    finish(r, &res);
    flush_pending(s);
}

static int send_req(struct zk_session *s, struct zk_req *r)
{
    const struct ACL_vector *acl = zk_acl_for(s->secure, r->path ? r->path : "/");
    switch (r->type) {
    case REQ_CREATE:
        return zoo_acreate2(s->zh, r->path, r->data, r->data ? r->len : -1, acl, r->flags, on_create, r);
    case REQ_SET:
        return zoo_aset(s->zh, r->path, r->data, r->data ? r->len : -1, r->version, on_stat, r);
    case REQ_DELETE:
        return zoo_adelete(s->zh, r->path, r->version, on_void, r);
    case REQ_GET:
        return zoo_aget(s->zh, r->path, r->watch, on_data, r);
    case REQ_EXISTS:
        return zoo_aexists(s->zh, r->path, r->watch, on_stat, r);
    case REQ_CHILDREN:
        return zoo_aget_children2(s->zh, r->path, r->watch, on_children, r);
    case REQ_MULTI:
        for (int i = 0; i < r->nops; i++) {
            const struct zk_op *o = &r->ops[i];
            memset(&r->zres[i], 0, sizeof r->zres[i]);
            switch (o->type) {
            case ZK_OP_CREATE:
                zoo_create_op_init(&r->zops[i], o->path, o->data, o->data ? o->len : -1,
                                   zk_acl_for(s->secure, o->path), o->flags, r->bufs[i], 1024);
                break;
            case ZK_OP_SET:
                zoo_set_op_init(&r->zops[i], o->path, o->data, o->data ? o->len : -1, o->version, &r->stats[i]);
                break;
            case ZK_OP_DELETE:
                zoo_delete_op_init(&r->zops[i], o->path, o->version);
                break;
            case ZK_OP_CHECK:
                zoo_check_op_init(&r->zops[i], o->path, o->version);
                break;
            }
        }
        return zoo_amulti(s->zh, r->nops, r->zops, r->zres, on_multi, r);
    }
    return ZBADARGUMENTS;
}

/* The in-flight bound of the request at the head of the queue (requests still go out in order). */
static int32_t bound_of(const struct zk_session *s, const struct zk_req *r)
{
    return r->bulk && s->max_in_flight < ZK_BULK_IN_FLIGHT ? ZK_BULK_IN_FLIGHT : s->max_in_flight;
}

static void flush_pending(struct zk_session *s)
{
    while (s->pend_head && s->zh && s->connected && !s->reinit && s->ninflight < bound_of(s, s->pend_head)) {
        struct zk_req *r = s->pend_head;
        s->pend_head = r->next;
        if (!s->pend_head)
            s->pend_tail = NULL;
        link_inflight(s, r);
        int rc = send_req(s, r);
        if (rc != ZOK) {
            /* the client refused it synchronously (e.g. the connection just dropped, or a bad path): retried,
             * or ended from the timer, never inside the call that made the request */
            if (!retry_or_end(r, rc)) {
                r->refused_rc = rc;
                r->next = s->refused;
                s->refused = r;
            }
            if (rc == ZCONNECTIONLOSS || rc == ZINVALIDSTATE)
                break;
        }
    }
    if (!s->in_process)
        pump(s);
}

static struct zk_req *req_new(struct zk_session *s, enum req_type type, const char *path, const char *data, int len,
                              zk_done_fn done, void *arg)
{
    if (s->closed || s->close_requested)
        return NULL;
    struct zk_req *r = ferry_calloc(1, sizeof *r);
    if (!r)
        return NULL;
    bool oom = false;
    r->s = s;
    r->type = type;
    r->bulk = s->bulk_mode;
    r->done = done;
    r->arg = arg;
    r->len = len;
    r->version = -1;
    if (path && !(r->path = ferry_strdup(path)))
        oom = true;
    r->data = dup_bytes(data, len, &oom);
    if (oom) {
        req_free(r);
        return NULL;
    }
    return r;
}

static int submit(struct zk_session *s, struct zk_req *r)
{
    if (!r)
        return s->closed || s->close_requested ? FERRY_EINVAL : FERRY_ENOMEM;
    enqueue(s, r);
    flush_pending(s);
    return 0;
}

int zk_create(struct zk_session *s, const char *path, const char *data, int len, int flags, zk_done_fn done,
              void *arg)
{
    struct zk_req *r = req_new(s, REQ_CREATE, path, data, len, done, arg);
    if (r)
        r->flags = flags;
    return submit(s, r);
}

int zk_create_path(struct zk_session *s, const char *path, const char *data, int len, int flags, zk_done_fn done,
                   void *arg)
{
    size_t n = strlen(path);
    char *prefix = ferry_malloc(n + 1);
    if (!prefix)
        return FERRY_ENOMEM;
    for (size_t i = 1; i < n; i++) {
        if (path[i] != '/')
            continue;
        memcpy(prefix, path, i);
        prefix[i] = 0;
        struct zk_req *r = req_new(s, REQ_CREATE, prefix, NULL, -1, NULL, NULL);
        if (!r) {
            ferry_free(prefix);
            return FERRY_ENOMEM;
        }
        r->flags = ZOO_PERSISTENT;
        r->silent = true;
        enqueue(s, r);
    }
    ferry_free(prefix);
    return zk_create(s, path, data, len, flags, done, arg);
}

int zk_set(struct zk_session *s, const char *path, const char *data, int len, int version, zk_done_fn done,
           void *arg)
{
    struct zk_req *r = req_new(s, REQ_SET, path, data, len, done, arg);
    if (r)
        r->version = version;
    return submit(s, r);
}

int zk_delete(struct zk_session *s, const char *path, int version, zk_done_fn done, void *arg)
{
    struct zk_req *r = req_new(s, REQ_DELETE, path, NULL, -1, done, arg);
    if (r)
        r->version = version;
    return submit(s, r);
}

static int read_req(struct zk_session *s, enum req_type t, const char *path, bool watch, zk_done_fn done, void *arg)
{
    struct zk_req *r = req_new(s, t, path, NULL, -1, done, arg);
    if (r)
        r->watch = watch;
    return submit(s, r);
}

int zk_get(struct zk_session *s, const char *path, bool watch, zk_done_fn done, void *arg)
{
    return read_req(s, REQ_GET, path, watch, done, arg);
}

int zk_exists(struct zk_session *s, const char *path, bool watch, zk_done_fn done, void *arg)
{
    return read_req(s, REQ_EXISTS, path, watch, done, arg);
}

int zk_children(struct zk_session *s, const char *path, bool watch, zk_done_fn done, void *arg)
{
    return read_req(s, REQ_CHILDREN, path, watch, done, arg);
}

int zk_multi(struct zk_session *s, const struct zk_op *ops, int n, zk_done_fn done, void *arg)
{
    if (n <= 0)
        return FERRY_EINVAL;
    struct zk_req *r = req_new(s, REQ_MULTI, NULL, NULL, -1, done, arg);
    if (!r)
        return submit(s, r);
    bool oom = false;
    r->nops = n;
    r->ops = ferry_calloc((size_t)n, sizeof *r->ops);
    r->zops = ferry_calloc((size_t)n, sizeof *r->zops);
    r->zres = ferry_calloc((size_t)n, sizeof *r->zres);
    r->stats = ferry_calloc((size_t)n, sizeof *r->stats);
    r->bufs = ferry_calloc((size_t)n, sizeof *r->bufs);
    if (!r->ops || !r->zops || !r->zres || !r->stats || !r->bufs)
        oom = true;
    for (int i = 0; !oom && i < n; i++) {
        r->ops[i] = ops[i];
        r->ops[i].path = ferry_strdup(ops[i].path);
        r->ops[i].data = dup_bytes(ops[i].data, ops[i].len, &oom);
        if (ops[i].type == ZK_OP_CREATE && !(r->bufs[i] = ferry_malloc(1024)))
            oom = true; /* the created path (only creates have one) */
        if (!r->ops[i].path)
            oom = true;
    }
    if (oom) {
        req_free(r);
        return FERRY_ENOMEM;
    }
    return submit(s, r);
}

/* ---- watches ---- */

int zk_watch_add(struct zk_session *s, const char *path, zk_watch_fn fn, void *arg)
{
    struct zk_watch *w = ferry_calloc(1, sizeof *w);
    if (!w || !(w->path = ferry_strdup(path))) {
        ferry_free(w);
        return FERRY_ENOMEM;
    }
    w->fn = fn;
    w->arg = arg;
    w->next = s->watches;
    s->watches = w;
    return 0;
}

void zk_watch_remove(struct zk_session *s, const char *path, zk_watch_fn fn, void *arg)
{
    for (struct zk_watch *w = s->watches; w; w = w->next)
        if (!w->dead && w->fn == fn && w->arg == arg && strcmp(w->path, path) == 0)
            w->dead = true;
}

static void dispatch_watch(struct zk_session *s, int type, const char *path)
{
    for (struct zk_watch *w = s->watches; w; w = w->next)
        if (!w->dead && strcmp(w->path, path) == 0)
            w->fn(w->arg, type, path);
}

/* ---- the handle and its pump ---- */

static void notify(struct zk_session *s, enum zk_session_event ev)
{
    if (s->on_state && !s->closed && !s->close_requested)
        s->on_state(s->state_arg, ev);
}

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    struct zk_session *s = ctx;
    if (!s || s->closed)
        return;
    if (type != ZOO_SESSION_EVENT) {
        dispatch_watch(s, type, path);
        return;
    }
    if (state == ZOO_CONNECTED_STATE) {
        const clientid_t *id = zoo_client_id(s->zh);
        bool fresh = s->was_expired;
        s->connected = true;
        s->was_expired = false;
        s->session_id = id ? id->client_id : 0;
        LOG_INFO("zk", "session 0x%llx connected (timeout %d ms)%s", (unsigned long long)s->session_id,
                 zoo_recv_timeout(s->zh), fresh ? ": a new session after expiry" : "");
        notify(s, fresh ? ZK_EV_NEW_SESSION : ZK_EV_CONNECTED);
        flush_pending(s);
    } else if (state == ZOO_EXPIRED_SESSION_STATE) {
        LOG_WARN("zk", "session 0x%llx expired: building a new one", (unsigned long long)s->session_id);
        s->connected = false;
        s->reinit = true;
        s->was_expired = true;
        notify(s, ZK_EV_EXPIRED);
    } else if (state == ZOO_AUTH_FAILED_STATE) {
        LOG_ERROR("zk", "ZooKeeper refused the digest credentials (zookeeper.auth.digest.file)");
        s->connected = false;
        notify(s, ZK_EV_AUTH_FAILED);
    } else if (state == ZOO_CONNECTING_STATE || state == ZOO_ASSOCIATING_STATE) {
        if (s->connected) {
            LOG_WARN("zk", "session 0x%llx disconnected: reconnecting", (unsigned long long)s->session_id);
            s->connected = false;
            notify(s, ZK_EV_DISCONNECTED);
        }
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    struct zk_session *s = h->data;
    ferry_free(h);
    if (--s->pending_handles == 0 && s->closed) {
        for (struct zk_watch *w = s->watches, *n; w; w = n) {
            n = w->next;
            ferry_free(w->path);
            ferry_free(w);
        }
        ferry_free(s->connect);
        ferry_free(s->digest);
        ferry_free(s);
    }
}

static void drop_poll(struct zk_session *s)
{
    if (s->poll) {
        uv_poll_stop(s->poll);
        uv_close((uv_handle_t *)s->poll, on_handle_closed);
        s->poll = NULL;
    }
    if (s->poll_fd >= 0)
        close(s->poll_fd);
    s->poll_fd = -1;
}

static void process(struct zk_session *s, int events);

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct zk_session *s = h->data;
    int ev = 0;
    if (status < 0 || (events & UV_READABLE))
        ev |= ZOOKEEPER_READ;
    if (status < 0 || (events & UV_WRITABLE))
        ev |= ZOOKEEPER_WRITE;
    process(s, ev);
}

static void update_poll(struct zk_session *s, int fd, int interest)
{
    if (fd < 0) {
        drop_poll(s);
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        drop_poll(s);
        return;
    }
    if (!s->poll || st.st_ino != s->poll_ino) {
        drop_poll(s);
        int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (d < 0)
            return;
        uv_poll_t *p = ferry_calloc(1, sizeof *p);
        if (!p || uv_poll_init_socket(s->loop, p, d) != 0) {
            ferry_free(p);
            close(d);
            return;
        }
        p->data = s;
        s->pending_handles++;
        s->poll = p;
        s->poll_fd = d;
        s->poll_ino = st.st_ino;
    }
    int ev = ((interest & ZOOKEEPER_READ) ? UV_READABLE : 0) | ((interest & ZOOKEEPER_WRITE) ? UV_WRITABLE : 0);
    if (ev)
        uv_poll_start(s->poll, ev, on_poll);
    else
        uv_poll_stop(s->poll);
}

static int new_handle(struct zk_session *s)
{
    s->zh = zookeeper_init(s->connect, watcher, s->timeout_ms, NULL, s, 0);
    if (!s->zh) {
        LOG_ERROR("zk", "cannot create a ZooKeeper client for '%s': %s", s->connect, strerror(errno));
        return FERRY_EINVAL;
    }
    /* The client resolves zookeeper.connect's hosts at every zookeeper_interest by default (getaddrinfo, a
     * netlink dump each time: most of the CPU of a session with hundreds of requests in flight); Kafka's
     * client resolves them when it connects, which -1 keeps (resolution on connection loss only). */
    zoo_set_servers_resolution_delay(s->zh, -1);
    if (s->digest && zoo_add_auth(s->zh, "digest", s->digest, (int)strlen(s->digest), NULL, NULL) != ZOK)
        LOG_ERROR("zk", "cannot queue the digest credentials");
    return 0;
}

/* Closes the current handle: every request it holds ends with ending_rc (or is failed here). */
static void end_handle(struct zk_session *s, int ending_rc)
{
    s->ending_rc = ending_rc;
    if (s->zh) {
        zhandle_t *zh = s->zh;
        s->zh = NULL;
        zookeeper_close(zh);
    }
    drop_poll(s);
    while (s->inflight) {
        struct zk_req *r = s->inflight;
        unlink_inflight(r);
        fail(r, ending_rc);
    }
    s->ending_rc = 0;
    s->connected = false;
}

static void finalize_close(struct zk_session *s)
{
    s->closed = true;
    end_refused(s);
    end_handle(s, ZCLOSING);
    while (s->pend_head) {
        struct zk_req *r = s->pend_head;
        s->pend_head = r->next;
        fail(r, ZCLOSING);
    }
    s->pend_tail = NULL;
    if (s->timer) {
        uv_timer_stop(s->timer);
        uv_close((uv_handle_t *)s->timer, on_handle_closed);
        s->timer = NULL;
    }
}

static void end_refused(struct zk_session *s)
{
    while (s->refused) {
        struct zk_req *r = s->refused;
        s->refused = r->next;
        LOG_DEBUG("zk", "request on %s refused by the client: %s", r->path ? r->path : "(multi)",
                  zk_rc_name(r->refused_rc));
        fail(r, r->refused_rc);
    }
}

static void on_timer(uv_timer_t *t)
{
    struct zk_session *s = t->data;
    end_refused(s);
    if (s->reinit) {
        end_handle(s, ZSESSIONEXPIRED);
        if (s->close_requested) {
            finalize_close(s);
            return;
        }
        if (new_handle(s) != 0) {
            uv_timer_start(s->timer, on_timer, 1000, 0);
            return;
        }
        s->reinit = false;
        pump(s);
        return;
    }
    process(s, 0);
}

/* Bytes the server sent that the client has not read yet (0 when unknown). */
static int unread_bytes(const struct zk_session *s)
{
    int n = 0;
    if (s->poll_fd < 0 || ioctl(s->poll_fd, FIONREAD, &n) != 0)
        return 0;
    return n;
}

/* Responses handled per readable event at most before the loop runs its other work. */
#define RESPONSES_PER_EVENT 256

static void process(struct zk_session *s, int events)
{
    /* zookeeper_process reads one response per call: with hundreds in flight (bulk mode), a loop iteration
     * per response would leave them waiting behind the rest of the broker's loop work */
    for (int i = 0; i < RESPONSES_PER_EVENT && s->zh && !s->reinit && !s->close_requested; i++) {
        s->in_process++;
        zookeeper_process(s->zh, i == 0 ? events : ZOOKEEPER_READ);
        s->in_process--;
        if (!(events & ZOOKEEPER_READ) || unread_bytes(s) <= 0)
            break;
    }
    if (s->close_requested && !s->in_process) {
        finalize_close(s);
        return;
    }
    flush_pending(s);
}

static void pump(struct zk_session *s)
{
    if (s->closed || !s->timer)
        return;
    if (s->reinit || !s->zh) {
        drop_poll(s);
        uv_timer_start(s->timer, on_timer, 0, 0);
        return;
    }
    int fd = -1, interest = 0;
    struct timeval tv = {0, 0};
    int rc = zookeeper_interest(s->zh, &fd, &interest, &tv);
    update_poll(s, fd, interest);
    uint64_t ms = (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
    /* never 0: pump runs from the timer's own callback (process), and a timer restarted at 0 ms there runs
     * again in the same loop turn (libuv before 1.45), starving I/O while requests keep being refused */
    if (s->refused || ms == 0)
        ms = 1;
    if (rc != ZOK && ms < 10)
        ms = 10;
    uv_timer_start(s->timer, on_timer, ms, 0);
}

static int start_timer(struct zk_session *s)
{
    s->timer = ferry_calloc(1, sizeof *s->timer);
    if (!s->timer)
        return FERRY_ENOMEM;
    uv_timer_init(s->loop, s->timer);
    s->timer->data = s;
    s->pending_handles++;
    return 0;
}

int zk_session_new(uv_loop_t *loop, const struct zk_session_conf *conf, zk_state_fn on_state, void *arg,
                   struct zk_session **out)
{
    *out = NULL;
    static bool log_level_set;
    if (!log_level_set) {
        zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
        log_level_set = true;
    }
    struct zk_session *s = ferry_calloc(1, sizeof *s);
    if (!s)
        return FERRY_ENOMEM;
    s->loop = loop;
    s->poll_fd = -1;
    s->timeout_ms = conf->session_timeout_ms;
    s->max_in_flight = conf->max_in_flight > 0 ? conf->max_in_flight : 10;
    s->secure = conf->secure_acls;
    s->on_state = on_state;
    s->state_arg = arg;
    s->connect = ferry_strdup(conf->connect);
    s->digest = conf->digest ? ferry_strdup(conf->digest) : NULL;
    int rc = FERRY_ENOMEM;
    if (s->connect && (!conf->digest || s->digest) && (rc = start_timer(s)) == 0 && (rc = new_handle(s)) == 0) {
        pump(s);
        *out = s;
        return 0;
    }
    if (!s->timer) {
        ferry_free(s->connect);
        ferry_free(s->digest);
        ferry_free(s);
        return rc;
    }
    s->closed = true; /* freed by the timer's close callback */
    uv_close((uv_handle_t *)s->timer, on_handle_closed);
    s->timer = NULL;
    return rc;
}

void zk_session_close(struct zk_session *s)
{
    if (!s || s->closed || s->close_requested)
        return;
    s->close_requested = true;
    if (s->in_process)
        return; /* finished when zookeeper_process returns */
    finalize_close(s);
}

int zk_session_move(struct zk_session *s, uv_loop_t *loop)
{
    drop_poll(s);
    if (s->timer) {
        uv_timer_stop(s->timer);
        uv_close((uv_handle_t *)s->timer, on_handle_closed);
        s->timer = NULL;
    }
    s->loop = loop;
    int rc = start_timer(s);
    if (rc)
        return rc;
    pump(s);
    return 0;
}

bool zk_session_connected(const struct zk_session *s) { return s->connected; }

int zk_session_in_flight(const struct zk_session *s) { return s->ninflight; }

bool zk_session_bulk(struct zk_session *s, bool on)
{
    bool was = s->bulk_mode;
    s->bulk_mode = on;
    return was;
}

size_t zk_session_drop_bulk(struct zk_session *s)
{
    size_t n = 0;
    struct zk_req *dropped = NULL, **dropped_tail = &dropped;
    struct zk_req **pp = &s->pend_head;
    s->pend_tail = NULL;
    while (*pp) {
        struct zk_req *r = *pp;
        if (!r->bulk) {
            s->pend_tail = r;
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        r->next = NULL;
        r->refused_rc = ZCLOSING; /* ended from the timer (end_refused), in queue order */
        *dropped_tail = r;
        dropped_tail = &r->next;
        n++;
    }
    if (!n)
        return 0;
    *dropped_tail = s->refused;
    s->refused = dropped;
    LOG_DEBUG("zk", "%zu queued bulk request(s) dropped", n);
    if (!s->in_process)
        pump(s);
    return n;
}

int64_t zk_session_id(const struct zk_session *s) { return s->session_id; }
