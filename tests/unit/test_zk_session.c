/* test_zk_session: the ZooKeeper session on a libuv loop, the registration and the controller election
 * against a real ZooKeeper. The server is started by tests/it/test_zk_session.py, which runs this program
 * with FERRY_ZK_CONNECT=127.0.0.1:PORT; without it the tests that need a server are skipped (the pure
 * ones always run). Every test works under its own chroot (/zks-<pid>-<n>), created the way Kafka does it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <uv.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "zkmode/zk_elect.h"
#include "zkmode/zk_register.h"
#include "zkmode/zk_session.h"

static uv_loop_t loop;
static uv_timer_t tick;
static char connect_str[512];
static int test_no;

/* ---- helpers ---- */

static void on_tick(uv_timer_t *t) { (void)t; }

static bool run_until(const bool *flag, int timeout_ms)
{
    uint64_t deadline = uv_now(&loop) + (uint64_t)timeout_ms;
    while (!*flag && uv_now(&loop) < deadline)
        uv_run(&loop, UV_RUN_ONCE);
    return *flag;
}

struct res {
    bool done;
    int rc;
    int64_t czxid;
    int32_t version;
    int64_t owner;
    char data[256];
    int len;
    int nchildren;
    int errs[8];
    int nres;
};

static void cb(void *arg, const struct zk_result *r)
{
    struct res *x = arg;
    x->done = true;
    x->rc = r->rc;
    if (r->stat) {
        x->czxid = r->stat->czxid;
        x->version = r->stat->version;
        x->owner = r->stat->ephemeralOwner;
    }
    x->len = r->len;
    if (r->data && r->len >= 0 && r->len < (int)sizeof x->data) {
        memcpy(x->data, r->data, (size_t)r->len);
        x->data[r->len] = 0;
    }
    if (r->children)
        x->nchildren = r->children->count;
    x->nres = r->nresults;
    for (int i = 0; i < r->nresults && i < 8; i++)
        x->errs[i] = r->results[i].err;
}

static int wait_res(struct res *x)
{
    assert_true(run_until(&x->done, 30000));
    return x->rc;
}

struct conn_state {
    bool connected;
    int events[16];
    int n;
};

static void on_state(void *arg, enum zk_session_event ev)
{
    struct conn_state *c = arg;
    if (ev == ZK_EV_CONNECTED || ev == ZK_EV_NEW_SESSION)
        c->connected = true;
    if (c->n < 16)
        c->events[c->n++] = ev;
}

static struct zk_session *open_at(const char *connect, struct conn_state *st)
{
    struct zk_session_conf conf = {.connect = connect, .session_timeout_ms = 6000, .max_in_flight = 10};
    struct zk_session *s = NULL;
    memset(st, 0, sizeof *st);
    assert_int_equal(zk_session_new(&loop, &conf, on_state, st, &s), 0);
    assert_true(run_until(&st->connected, 30000));
    return s;
}

/* A fresh chroot for one test, created through a session without it; returns the session inside it. */
static struct zk_session *open_chrooted(struct conn_state *st, char *root, size_t rootlen)
{
    snprintf(root, rootlen, "/zks-%d-%d", (int)getpid(), ++test_no);
    struct conn_state st0;
    struct zk_session *s0 = open_at(connect_str, &st0);
    struct res r = {0};
    assert_int_equal(zk_create_path(s0, root, NULL, -1, ZOO_PERSISTENT, cb, &r), 0);
    assert_int_equal(wait_res(&r), ZOK);
    zk_session_close(s0);
    char full[700];
    snprintf(full, sizeof full, "%s%s", connect_str, root);
    return open_at(full, st);
}

static void close_all(struct zk_session **ss, int n)
{
    for (int i = 0; i < n; i++)
        if (ss[i])
            zk_session_close(ss[i]);
    for (int i = 0; i < 20; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
}

static bool have_zk(void)
{
    const char *c = getenv("FERRY_ZK_CONNECT");
    if (!c || !*c)
        return false;
    snprintf(connect_str, sizeof connect_str, "%s", c);
    return true;
}

static int setup(void **state)
{
    (void)state;
    uv_loop_init(&loop);
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 50, 50);
    return 0;
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static int teardown(void **state)
{
    (void)state;
    uv_timer_stop(&tick);
    uv_close((uv_handle_t *)&tick, NULL);
    /* bounded: a test that failed half-way leaves sessions open; close their handles rather than hang */
    for (int i = 0; i < 200 && uv_loop_alive(&loop); i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    if (uv_loop_alive(&loop)) {
        uv_walk(&loop, close_any, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    assert_int_equal(uv_loop_close(&loop), 0);
    return 0;
}

#define NEED_ZK()                                                                                                     \
    do {                                                                                                              \
        if (!have_zk())                                                                                               \
            skip();                                                                                                   \
    } while (0)

/* ---- pure helpers ---- */

static void test_connect_split(void **state)
{
    (void)state;
    char *h, *c, err[256];
    assert_int_equal(zk_connect_split("a:1,b:2/kafka/prod", &h, &c, err, sizeof err), 0);
    assert_string_equal(h, "a:1,b:2");
    assert_string_equal(c, "/kafka/prod");
    ferry_free(h);
    ferry_free(c);
    assert_int_equal(zk_connect_split("127.0.0.1:2181", &h, &c, err, sizeof err), 0);
    assert_string_equal(c, "");
    ferry_free(h);
    ferry_free(c);
    assert_int_equal(zk_connect_split("h:1/", &h, &c, err, sizeof err), 0); /* "/" is no chroot */
    assert_string_equal(c, "");
    ferry_free(h);
    ferry_free(c);
    const char *bad[] = {"", "/x", "h", "h:", ":1", "h:1,", "h:x1", "h:1/a/", "h:1/a//b", "h:1/a/../b", NULL};
    for (int i = 0; bad[i]; i++) {
        err[0] = 0;
        assert_int_equal(zk_connect_split(bad[i], &h, &c, err, sizeof err), FERRY_EINVAL);
        assert_non_null(strstr(err, "zookeeper.connect"));
        assert_null(h);
        assert_null(c);
    }
}

static void test_acls(void **state)
{
    (void)state;
    assert_ptr_equal(zk_acl_for(false, "/brokers/ids/1"), &ZOO_OPEN_ACL_UNSAFE);
    assert_ptr_equal(zk_acl_for(true, "/consumers"), &ZOO_OPEN_ACL_UNSAFE);
    const struct ACL_vector *v = zk_acl_for(true, "/brokers/ids/1");
    assert_int_equal(v->count, 2);
    assert_string_equal(v->data[0].id.scheme, "auth");
    assert_int_equal(v->data[0].perms, ZOO_PERM_ALL);
    assert_string_equal(v->data[1].id.scheme, "world");
    assert_int_equal(v->data[1].perms, ZOO_PERM_READ);
    assert_int_equal(zk_acl_for(true, "/consumers/g")->count, 2); /* only /consumers itself stays open */
    const char *sensitive[] = {"/config/users", "/config/users/alice", "/config/brokers/1", "/delegation_token/tokens/x"};
    for (int i = 0; i < 4; i++) {
        v = zk_acl_for(true, sensitive[i]);
        assert_int_equal(v->count, 1);
        assert_string_equal(v->data[0].id.scheme, "auth");
    }
}

/* ---- against ZooKeeper ---- */

static void test_requests(void **state)
{
    (void)state;
    NEED_ZK();
    struct conn_state st;
    char root[64];
    struct zk_session *s = open_chrooted(&st, root, sizeof root);
    assert_true(zk_session_id(s) != 0);
    struct res r = {0};
    assert_int_equal(zk_create_path(s, "/a/b/c", "hello", 5, ZOO_PERSISTENT, cb, &r), 0);
    assert_int_equal(wait_res(&r), ZOK);
    struct res g = {0};
    zk_get(s, "/a/b/c", false, cb, &g);
    assert_int_equal(wait_res(&g), ZOK);
    assert_string_equal(g.data, "hello");
    assert_int_equal(g.version, 0);
    struct res bad = {0};
    zk_set(s, "/a/b/c", "x", 1, 5, cb, &bad);
    assert_int_equal(wait_res(&bad), ZBADVERSION);
    /* a path the client refuses at once: still answered from the loop, not inside the call */
    struct res refused = {0};
    assert_int_equal(zk_get(s, "/bad//path", false, cb, &refused), 0);
    assert_false(refused.done);
    assert_int_equal(wait_res(&refused), ZBADARGUMENTS);
    struct res null_get = {0};
    zk_get(s, "/a/b", false, cb, &null_get);
    assert_int_equal(wait_res(&null_get), ZOK);
    assert_true(null_get.len <= 0);
    /* pipelined: 300 creates with at most 10 in flight, answered in order */
    static struct res many[300];
    memset(many, 0, sizeof many);
    for (int i = 0; i < 300; i++) {
        char p[64];
        snprintf(p, sizeof p, "/a/n%03d", i);
        assert_int_equal(zk_create(s, p, NULL, -1, ZOO_PERSISTENT, cb, &many[i]), 0);
    }
    assert_true(run_until(&many[299].done, 60000));
    for (int i = 0; i < 300; i++) {
        assert_true(many[i].done);
        assert_int_equal(many[i].rc, ZOK);
    }
    struct res ch = {0};
    zk_children(s, "/a", false, cb, &ch);
    assert_int_equal(wait_res(&ch), ZOK);
    assert_int_equal(ch.nchildren, 301);
    /* multi: all or nothing */
    struct zk_op ops[2] = {{.type = ZK_OP_CREATE, .path = "/m1", .data = "1", .len = 1, .flags = ZOO_PERSISTENT},
                           {.type = ZK_OP_CHECK, .path = "/a/b/c", .version = 7}};
    struct res m = {0};
    zk_multi(s, ops, 2, cb, &m);
    assert_int_equal(wait_res(&m), ZBADVERSION);
    assert_int_equal(m.nres, 2);
    assert_int_equal(m.errs[1], ZBADVERSION);
    struct res ex = {0};
    zk_exists(s, "/m1", false, cb, &ex);
    assert_int_equal(wait_res(&ex), ZNONODE);
    ops[1].version = 0;
    struct res m2 = {0};
    zk_multi(s, ops, 2, cb, &m2);
    assert_int_equal(wait_res(&m2), ZOK);
    struct res del = {0};
    zk_delete(s, "/m1", 0, cb, &del);
    assert_int_equal(wait_res(&del), ZOK);
    /* after close: refused, and requests still queued end with CLOSING */
    struct res late = {0};
    zk_get(s, "/a", false, cb, &late);
    zk_session_close(s);
    assert_true(late.done);
    assert_int_equal(late.rc, ZCLOSING);
    for (int i = 0; i < 20; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
}

struct watch_seen {
    bool fired;
    int type;
    char path[64];
};

static void on_watch(void *arg, int type, const char *path)
{
    struct watch_seen *w = arg;
    w->fired = true;
    w->type = type;
    snprintf(w->path, sizeof w->path, "%s", path);
}

/* Bulk mode: requests made in it go past max_in_flight (10 here), later normal ones wait behind them, and
 * every request is answered in the order it was made. */
struct ordered {
    int at; /* answers so far */
    bool ok;
};
static struct ordered order_log;

static void in_order(void *arg, const struct zk_result *r)
{
    int want = (int)(intptr_t)arg;
    order_log.ok &= r->rc == ZNONODE && order_log.at == want;
    order_log.at++;
}

static void test_bulk_in_flight(void **state)
{
    (void)state;
    NEED_ZK();
    struct conn_state st;
    char root[64];
    struct zk_session *s = open_chrooted(&st, root, sizeof root);
    order_log = (struct ordered){.ok = true};
    assert_false(zk_session_bulk(s, true));
    for (int i = 0; i < 60; i++)
        assert_int_equal(zk_get(s, "/none", false, in_order, (void *)(intptr_t)i), 0);
    assert_true(zk_session_bulk(s, false));
    assert_int_equal(zk_session_in_flight(s), 60);
    for (int i = 60; i < 90; i++)
        assert_int_equal(zk_get(s, "/none", false, in_order, (void *)(intptr_t)i), 0);
    assert_int_equal(zk_session_in_flight(s), 60); /* the normal ones queue behind the bulk ones */
    bool all = false;
    for (uint64_t deadline = uv_now(&loop) + 30000; !all && uv_now(&loop) < deadline;) {
        uv_run(&loop, UV_RUN_ONCE);
        assert_true(zk_session_in_flight(s) <= 60);
        all = order_log.at == 90;
    }
    assert_true(all);
    assert_true(order_log.ok);
    /* normal mode again: at most max_in_flight */
    for (int i = 0; i < 30; i++)
        assert_int_equal(zk_get(s, "/none", false, in_order, (void *)(intptr_t)(90 + i)), 0);
    assert_int_equal(zk_session_in_flight(s), 10);
    all = false;
    for (uint64_t deadline = uv_now(&loop) + 30000; !all && uv_now(&loop) < deadline;) {
        uv_run(&loop, UV_RUN_ONCE);
        all = order_log.at == 120;
    }
    assert_true(all);
    assert_true(order_log.ok);
    zk_session_close(s);
    close_all(NULL, 0);
}

/* zk_session_drop_bulk: the queued bulk requests end with ZCLOSING from the loop, in order; those in
 * flight and the normal ones (queued behind them) get their answers. */
struct drop_log {
    int n, closing, nonode, first_closing, last_closing;
    bool in_order;
};
static struct drop_log drop_log;

static void on_dropped(void *arg, const struct zk_result *r)
{
    int i = (int)(intptr_t)arg;
    drop_log.n++;
    if (r->rc == ZCLOSING) {
        drop_log.in_order &= drop_log.closing == 0 || i == drop_log.last_closing + 1;
        if (drop_log.closing++ == 0)
            drop_log.first_closing = i;
        drop_log.last_closing = i;
    } else if (r->rc == ZNONODE) {
        drop_log.nonode++;
    }
}

static void test_drop_bulk(void **state)
{
    (void)state;
    NEED_ZK();
    struct conn_state st;
    char root[64];
    struct zk_session *s = open_chrooted(&st, root, sizeof root);
    drop_log = (struct drop_log){.in_order = true};
    assert_int_equal(zk_session_drop_bulk(s), 0); /* nothing queued */
    bool was = zk_session_bulk(s, true);
    for (int i = 0; i < ZK_BULK_IN_FLIGHT + 100; i++)
        assert_int_equal(zk_get(s, "/none", false, on_dropped, (void *)(intptr_t)i), 0);
    zk_session_bulk(s, was);
    struct res normal = {0};
    assert_int_equal(zk_get(s, "/none", false, cb, &normal), 0);
    assert_int_equal(zk_session_in_flight(s), ZK_BULK_IN_FLIGHT);
    assert_int_equal(zk_session_drop_bulk(s), 100);
    assert_int_equal(drop_log.n, 0); /* never inside the call */
    assert_int_equal(wait_res(&normal), ZNONODE);
    for (uint64_t deadline = uv_now(&loop) + 30000; drop_log.n < ZK_BULK_IN_FLIGHT + 100 && uv_now(&loop) < deadline;)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(drop_log.n, ZK_BULK_IN_FLIGHT + 100);
    assert_int_equal(drop_log.closing, 100);
    assert_int_equal(drop_log.first_closing, ZK_BULK_IN_FLIGHT);
    assert_true(drop_log.in_order);
    assert_int_equal(drop_log.nonode, ZK_BULK_IN_FLIGHT);
    assert_int_equal(zk_session_drop_bulk(s), 0);
    zk_session_close(s);
    close_all(NULL, 0);
}

static void test_watches(void **state)
{
    (void)state;
    NEED_ZK();
    struct conn_state st, st2;
    char root[64];
    struct zk_session *s = open_chrooted(&st, root, sizeof root);
    char full[700];
    snprintf(full, sizeof full, "%s%s", connect_str, root);
    struct zk_session *other = open_at(full, &st2);
    struct watch_seen w = {0};
    assert_int_equal(zk_watch_add(s, "/w", on_watch, &w), 0);
    struct res ex = {0};
    zk_exists(s, "/w", true, cb, &ex);
    assert_int_equal(wait_res(&ex), ZNONODE);
    struct res c = {0};
    zk_create(other, "/w", "x", 1, ZOO_PERSISTENT, cb, &c);
    assert_int_equal(wait_res(&c), ZOK);
    assert_true(run_until(&w.fired, 30000));
    assert_int_equal(w.type, ZOO_CREATED_EVENT);
    assert_string_equal(w.path, "/w"); /* relative to the chroot */
    /* one-shot: no event without re-arming; a child watch on / sees a new child */
    memset(&w, 0, sizeof w);
    struct watch_seen wr = {0};
    zk_watch_add(s, "/", on_watch, &wr);
    struct res ch = {0};
    zk_children(s, "/", true, cb, &ch);
    assert_int_equal(wait_res(&ch), ZOK);
    struct res c2 = {0};
    zk_create(other, "/w2", NULL, -1, ZOO_PERSISTENT, cb, &c2);
    assert_int_equal(wait_res(&c2), ZOK);
    assert_true(run_until(&wr.fired, 30000));
    assert_int_equal(wr.type, ZOO_CHILD_EVENT);
    assert_false(w.fired);
    struct zk_session *all[] = {s, other};
    close_all(all, 2);
}

struct reg_res {
    bool done;
    int rc;
    int64_t czxid;
};

static void on_reg(void *arg, int rc, int64_t czxid)
{
    struct reg_res *r = arg;
    r->done = true;
    r->rc = rc;
    r->czxid = czxid;
}

static void test_registration(void **state)
{
    (void)state;
    NEED_ZK();
    struct conn_state st, st2;
    char root[64];
    struct zk_session *a = open_chrooted(&st, root, sizeof root);
    char full[700];
    snprintf(full, sizeof full, "%s%s", connect_str, root);
    struct zk_session *b = open_at(full, &st2);
    struct res paths = {0};
    zk_create_path(a, "/brokers/ids", NULL, -1, ZOO_PERSISTENT, cb, &paths);
    assert_int_equal(wait_res(&paths), ZOK);
    const char *json = "{\"version\":5}";
    struct zk_registration ra = {0}, rb = {0};
    struct reg_res x = {0};
    assert_int_equal(zk_registration_run(&ra, a, 7, json, on_reg, &x), 0);
    assert_true(run_until(&x.done, 30000));
    assert_int_equal(x.rc, ZOK);
    struct res g = {0};
    zk_get(b, "/brokers/ids/7", false, cb, &g);
    assert_int_equal(wait_res(&g), ZOK);
    assert_string_equal(g.data, json);
    assert_int_equal(g.version, 1); /* create(null) + setData(version 0), as Kafka */
    assert_int_equal(g.czxid, x.czxid);
    assert_int_equal(g.owner, zk_session_id(a));
    /* again in the same session: adopted, same epoch */
    struct reg_res x2 = {0};
    assert_int_equal(zk_registration_run(&ra, a, 7, json, on_reg, &x2), 0);
    assert_true(run_until(&x2.done, 30000));
    assert_int_equal(x2.rc, ZOK);
    assert_int_equal(x2.czxid, x.czxid);
    /* another session: refused, the node is not touched */
    struct reg_res y = {0};
    assert_int_equal(zk_registration_run(&rb, b, 7, json, on_reg, &y), 0);
    assert_true(run_until(&y.done, 30000));
    assert_int_equal(y.rc, ZNODEEXISTS);
    struct res g2 = {0};
    zk_get(b, "/brokers/ids/7", false, cb, &g2);
    assert_int_equal(wait_res(&g2), ZOK);
    assert_int_equal(g2.owner, zk_session_id(a));
    /* the owner goes: the other registers with a newer epoch */
    zk_session_close(a);
    struct reg_res y2 = {0};
    assert_int_equal(zk_registration_run(&rb, b, 7, json, on_reg, &y2), 0);
    assert_true(run_until(&y2.done, 30000));
    assert_int_equal(y2.rc, ZOK);
    assert_true(y2.czxid > x.czxid);
    zk_registration_free(&ra);
    zk_registration_free(&rb);
    struct zk_session *all[] = {b};
    close_all(all, 1);
}

struct id_res {
    bool done;
    int rc;
    int32_t id;
    char cid[64];
};

static void on_id(void *arg, int rc, int32_t id)
{
    struct id_res *r = arg;
    r->done = true;
    r->rc = rc;
    r->id = id;
}

static void on_cid(void *arg, int rc, const char *id)
{
    struct id_res *r = arg;
    r->done = true;
    r->rc = rc;
    snprintf(r->cid, sizeof r->cid, "%s", id ? id : "");
}

struct paths_res {
    bool done;
    int rc;
};

static void on_paths(void *arg, int rc)
{
    struct paths_res *p = arg;
    p->done = true;
    p->rc = rc;
}

static void test_startup_znodes(void **state)
{
    (void)state;
    NEED_ZK();
    struct conn_state st;
    char root[64];
    struct zk_session *s = open_chrooted(&st, root, sizeof root);
    struct paths_res p = {0};
    assert_int_equal(zk_create_persistent_paths(s, on_paths, &p), 0);
    assert_true(run_until(&p.done, 30000));
    assert_int_equal(p.rc, ZOK);
    for (int i = 0; zk_persistent_paths[i]; i++) {
        struct res ex = {0};
        zk_exists(s, zk_persistent_paths[i], false, cb, &ex);
        assert_int_equal(wait_res(&ex), ZOK);
    }
    struct paths_res p2 = {0}; /* again: every NODEEXISTS is fine */
    zk_create_persistent_paths(s, on_paths, &p2);
    assert_true(run_until(&p2.done, 30000));
    assert_int_equal(p2.rc, ZOK);
    struct id_res a = {0}, b = {0};
    zk_generate_broker_id(s, 1000, on_id, &a);
    assert_true(run_until(&a.done, 30000));
    zk_generate_broker_id(s, 1000, on_id, &b);
    assert_true(run_until(&b.done, 30000));
    assert_int_equal(a.rc, ZOK);
    assert_int_equal(a.id, 1001); /* the first setData makes version 1 */
    assert_int_equal(b.id, 1002);
    struct id_res c1 = {0}, c2 = {0};
    zk_cluster_id_get_or_create(s, "AAAAAAAAAAAAAAAAAAAAAA", on_cid, &c1);
    assert_true(run_until(&c1.done, 30000));
    assert_int_equal(c1.rc, ZOK);
    assert_string_equal(c1.cid, "AAAAAAAAAAAAAAAAAAAAAA");
    zk_cluster_id_get_or_create(s, "BBBBBBBBBBBBBBBBBBBBBB", on_cid, &c2); /* adopted, not replaced */
    assert_true(run_until(&c2.done, 30000));
    assert_string_equal(c2.cid, "AAAAAAAAAAAAAAAAAAAAAA");
    struct res g = {0};
    zk_get(s, "/cluster/id", false, cb, &g);
    assert_int_equal(wait_res(&g), ZOK);
    assert_string_equal(g.data, "{\"version\":\"1\",\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\"}");
    /* a malformed /cluster/id is an error, not an adoption */
    struct res set = {0};
    zk_set(s, "/cluster/id", "{\"version\":1}", 13, -1, cb, &set);
    assert_int_equal(wait_res(&set), ZOK);
    struct id_res c3 = {0};
    zk_cluster_id_get_or_create(s, "CCCCCCCCCCCCCCCCCCCCCC", on_cid, &c3);
    assert_true(run_until(&c3.done, 30000));
    assert_int_not_equal(c3.rc, ZOK);
    struct zk_session *all[] = {s};
    close_all(all, 1);
}

struct ctl {
    bool became, resigned;
    int32_t epoch, zkv;
    int32_t seen;
};

static void ctl_became(void *arg, int32_t epoch, int32_t zkv)
{
    struct ctl *c = arg;
    c->became = true;
    c->resigned = false;
    c->epoch = epoch;
    c->zkv = zkv;
}

static void ctl_resigned(void *arg) { ((struct ctl *)arg)->resigned = true; }
static void ctl_changed(void *arg, int32_t id) { ((struct ctl *)arg)->seen = id; }

static const struct zk_elect_cbs ctl_cbs = {ctl_became, ctl_resigned, ctl_changed};

static void test_election(void **state)
{
    (void)state;
    NEED_ZK();
    struct conn_state st1, st2, st3;
    char root[64];
    struct zk_session *s1 = open_chrooted(&st1, root, sizeof root);
    char full[700];
    snprintf(full, sizeof full, "%s%s", connect_str, root);
    struct zk_session *s2 = open_at(full, &st2);
    struct zk_session *admin = open_at(full, &st3);
    struct zk_elect e1, e2;
    struct ctl c1 = {.seen = -1}, c2 = {.seen = -1};
    assert_int_equal(zk_elect_start(&e1, s1, 1, &ctl_cbs, &c1), 0);
    assert_int_equal(zk_elect_start(&e2, s2, 2, &ctl_cbs, &c2), 0);
    bool any = false;
    uint64_t deadline = uv_now(&loop) + 30000;
    while (!(any = (c1.became || c2.became) && c1.seen >= 0 && c2.seen >= 0) && uv_now(&loop) < deadline)
        uv_run(&loop, UV_RUN_ONCE);
    assert_true(any);
    assert_true(c1.became != c2.became); /* exactly one controller */
    struct zk_elect *win = c1.became ? &e1 : &e2, *lose = c1.became ? &e2 : &e1;
    struct ctl *cw = c1.became ? &c1 : &c2, *cl = c1.became ? &c2 : &c1;
    struct zk_session *sw = c1.became ? s1 : s2;
    assert_int_equal(cw->epoch, 1); /* /controller_epoch created with 0, then 0 -> 1 */
    assert_int_equal(cl->seen, win->broker_id);
    struct res g = {0};
    zk_get(admin, "/controller_epoch", false, cb, &g);
    assert_int_equal(wait_res(&g), ZOK);
    assert_string_equal(g.data, "1");
    assert_int_equal(g.version, cw->zkv);
    struct res gc = {0};
    zk_get(admin, "/controller", false, cb, &gc);
    assert_int_equal(wait_res(&gc), ZOK);
    char want[64];
    snprintf(want, sizeof want, "{\"version\":2,\"brokerid\":%d,", win->broker_id);
    assert_true(strncmp(gc.data, want, strlen(want)) == 0);
    assert_non_null(strstr(gc.data, "\"kraftControllerEpoch\":-1}"));
    /* the loser cannot write as a controller */
    struct zk_op op = {.type = ZK_OP_CREATE, .path = "/fenced", .data = "1", .len = 1, .flags = ZOO_PERSISTENT};
    assert_int_equal(zk_elect_fenced_multi(lose, &op, 1, cb, NULL), FERRY_EINVAL);
    /* the winner's fenced write goes through */
    struct res fw = {0};
    assert_int_equal(zk_elect_fenced_multi(win, &op, 1, cb, &fw), 0);
    assert_int_equal(wait_res(&fw), ZOK);
    /* the winner's session ends: the other takes over with epoch 2 */
    zk_elect_stop(win);
    zk_session_close(sw);
    if (sw == s1)
        s1 = NULL;
    else
        s2 = NULL;
    assert_true(run_until(&cl->became, 30000));
    assert_int_equal(cl->epoch, 2);
    assert_int_equal(lose->known_epoch, 2);
    /* someone bumps /controller_epoch behind its back: the next fenced write fails its check and it resigns */
    cl->became = false; /* before: the re-election may complete while the checks below wait for ZooKeeper */
    struct res bump = {0};
    zk_set(admin, "/controller_epoch", "3", 1, -1, cb, &bump);
    assert_int_equal(wait_res(&bump), ZOK);
    struct zk_op op2 = {.type = ZK_OP_CREATE, .path = "/fenced2", .data = "1", .len = 1, .flags = ZOO_PERSISTENT};
    struct res fw2 = {0};
    assert_int_equal(zk_elect_fenced_multi(lose, &op2, 1, cb, &fw2), 0);
    assert_int_equal(wait_res(&fw2), ZBADVERSION);
    assert_int_equal(fw2.errs[0], ZBADVERSION);
    assert_true(cl->resigned); /* before the completion ran */
    struct res ex = {0};
    zk_exists(admin, "/fenced2", false, cb, &ex);
    assert_int_equal(wait_res(&ex), ZNONODE);
    /* its own stale /controller is freed, and the election runs again: epoch 3 -> 4 */
    assert_true(run_until(&cl->became, 30000));
    assert_int_equal(cl->epoch, 4);
    assert_true(zk_elect_stale_epoch(lose, 1));
    assert_false(zk_elect_stale_epoch(lose, 5));
    assert_int_equal(lose->known_epoch, 5);
    zk_elect_stop(lose);
    struct zk_session *all[] = {s1, s2, admin};
    close_all(all, 3);
}

static void test_unreachable(void **state)
{
    (void)state;
    /* nothing listens there: the session stays unconnected, requests wait and end with CLOSING */
    struct zk_session_conf conf = {.connect = "127.0.0.1:1", .session_timeout_ms = 6000, .max_in_flight = 10};
    struct zk_session *s = NULL;
    struct conn_state st = {0};
    assert_int_equal(zk_session_new(&loop, &conf, on_state, &st, &s), 0);
    struct res r = {0};
    assert_int_equal(zk_get(s, "/x", false, cb, &r), 0);
    bool never = false;
    run_until(&never, 500);
    assert_false(st.connected);
    assert_false(r.done);
    zk_session_close(s);
    assert_true(r.done);
    assert_int_equal(r.rc, ZCLOSING);
    for (int i = 0; i < 20; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
}


/* Driven by tests/it/test_zk_session.py through stdout lines (FERRY_ZK_LATE_CONNECT set): requests made
 * before the server exists wait and succeed once it is up; requests made during an outage are sent again
 * after the reconnection, within the same session. */
static void say(const char *line)
{
    printf("%s\n", line);
    fflush(stdout);
}

static void test_late_server_and_outage(void **state)
{
    (void)state;
    const char *late = getenv("FERRY_ZK_LATE_CONNECT");
    struct zk_session_conf conf = {.connect = late, .session_timeout_ms = 30000, .max_in_flight = 10};
    struct zk_session *s = NULL;
    struct conn_state st = {0};
    assert_int_equal(zk_session_new(&loop, &conf, on_state, &st, &s), 0);
    struct res early = {0}, early2 = {0};
    char path[64];
    snprintf(path, sizeof path, "/late-%d", (int)getpid());
    assert_int_equal(zk_create(s, path, "1", 1, ZOO_PERSISTENT, cb, &early), 0);
    assert_int_equal(zk_get(s, path, false, cb, &early2), 0);
    bool never = false;
    run_until(&never, 300);
    assert_false(early.done);
    say("START-SERVER");
    assert_true(run_until(&early2.done, 120000));
    assert_int_equal(early.rc, ZOK);
    assert_int_equal(early2.rc, ZOK);
    assert_string_equal(early2.data, "1");
    int64_t sid = zk_session_id(s);
    /* an outage: the requests made while disconnected are sent once the server is back */
    st.n = 0;
    say("STOP-SERVER");
    bool down = false;
    uint64_t deadline = uv_now(&loop) + 120000;
    while (!down && uv_now(&loop) < deadline) {
        uv_run(&loop, UV_RUN_ONCE);
        for (int i = 0; i < st.n; i++)
            down = down || st.events[i] == ZK_EV_DISCONNECTED;
    }
    assert_true(down);
    struct res during = {0};
    char path2[80];
    snprintf(path2, sizeof path2, "%s/during", path);
    assert_int_equal(zk_create(s, path2, "2", 1, ZOO_PERSISTENT, cb, &during), 0);
    run_until(&never, 300);
    assert_false(during.done);
    say("START-SERVER");
    assert_true(run_until(&during.done, 120000));
    assert_int_equal(during.rc, ZOK);
    assert_int_equal(zk_session_id(s), sid); /* the same session */
    struct res g = {0};
    zk_get(s, path2, false, cb, &g);
    assert_int_equal(wait_res(&g), ZOK);
    assert_string_equal(g.data, "2");
    struct zk_session *all[] = {s};
    close_all(all, 1);
}


/* Allocation failures: every request and the connect-string split either succeed or return FERRY_ENOMEM
 * without a leak or a completion; what was accepted ends exactly once (CLOSING) when the session closes. */
static int ended;
static void count_end(void *arg, const struct zk_result *r)
{
    (void)arg;
    assert_int_equal(r->rc, ZCLOSING);
    ended++;
}

static void test_allocation_failures(void **state)
{
    (void)state;
    for (long n = 0; n < 64; n++) {
        ferry_alloc_fail_after(n);
        char *h = NULL, *c = NULL, err[128];
        int rc = zk_connect_split("a:1,b:2/x/y", &h, &c, err, sizeof err);
        ferry_alloc_fail_after(-1);
        assert_true(rc == 0 || rc == FERRY_ENOMEM);
        if (rc == 0) {
            assert_string_equal(c, "/x/y");
            ferry_free(h);
            ferry_free(c);
        } else {
            assert_null(h);
            assert_null(c);
        }
    }
    struct zk_session_conf conf = {.connect = "127.0.0.1:1", .session_timeout_ms = 6000, .max_in_flight = 10};
    for (long n = 0; n < 40; n++) {
        struct zk_session *s = NULL;
        struct conn_state st = {0};
        ferry_alloc_fail_after(n);
        int rc = zk_session_new(&loop, &conf, on_state, &st, &s);
        int accepted = 0;
        if (rc == 0) {
            struct zk_op ops[2] = {{.type = ZK_OP_CREATE, .path = "/a", .data = "x", .len = 1, .flags = ZOO_PERSISTENT},
                                   {.type = ZK_OP_CHECK, .path = "/b", .version = 1}};
            accepted += zk_multi(s, ops, 2, count_end, NULL) == 0;
            accepted += zk_create_path(s, "/p/q/r", "d", 1, ZOO_PERSISTENT, count_end, NULL) == 0;
            accepted += zk_set(s, "/p", "d", 1, -1, count_end, NULL) == 0;
            rc = zk_watch_add(s, "/w", on_watch, NULL); /* not a request: nothing to end */
            assert_true(rc == 0 || rc == FERRY_ENOMEM);
            rc = 0;
        } else {
            assert_int_equal(rc, FERRY_ENOMEM);
        }
        ferry_alloc_fail_after(-1);
        if (rc == 0) {
            ended = 0;
            zk_session_close(s);
            assert_int_equal(ended, accepted);
        }
        for (int i = 0; i < 10; i++)
            uv_run(&loop, UV_RUN_NOWAIT);
    }
}

int main(void)
{
    if (getenv("FERRY_ZK_LATE_CONNECT")) {
        const struct CMUnitTest late_tests[] = {
            cmocka_unit_test_setup_teardown(test_late_server_and_outage, setup, teardown),
        };
        return cmocka_run_group_tests(late_tests, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_split),
        cmocka_unit_test(test_acls),
        cmocka_unit_test_setup_teardown(test_unreachable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bulk_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_bulk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_startup_znodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_election, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
