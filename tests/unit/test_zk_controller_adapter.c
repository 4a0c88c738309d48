/* test_zk_controller_adapter: the ZooKeeper-mode controller adapter (zkmode/zk_controller*.c) against fakes of
 * what it talks to: a ZooKeeper session (an in-memory tree with versions, czxids and one-shot watches; every
 * completion delivered later, in order, as the real session does), the fenced multi of zk_elect (a failed
 * epoch check on demand) and the controller channels' net_client (connections and requests recorded,
 * empty responses). The real core (zkmode/controller) decides. Checked here:
 *  - the failover load turns ZooKeeper into state znodes whose JSON Kafka's strict reader accepts, and into
 *    LeaderAndIsr/UpdateMetadata on each broker's inter-broker endpoint;
 *  - a /brokers/ids/<id> rewritten within its registration (Kafka's BrokerModification) is seen through the
 *    data watch each read leaves: the new rack goes to every broker in UpdateMetadata, the broker's channel
 *    reconnects to its new endpoint, and an unchanged rewrite sends nothing;
 *  - a fenced write whose epoch check fails makes the controller resign (zk_elect_controller_moved);
 *  - the image takeover takes the states from the broker's image only when the previous controller filled
 *    it, the topic id and replicas match, and reads them behind the takeover at a tick;
 *  - /admin/preferred_replica_election and /admin/reassign_partitions, present at the load or created later
 *    (the exists watch), reach the core, which elects or reassigns and deletes them.
 * The fakes replace zk_session.o, zk_elect.o and net_client.o at link time (this file defines their
 * functions, so the archive members are never pulled). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/metadata/md_image.h"
#include "proto_codec.h"
#include "broker/net/net_client.h"
#include "zkmode/zk_controller.h"
#include "zkmode/zk_elect.h"
#include "zkmode/zk_session.h"
#include "zkmode/znode/znode_codec.h"

/* ---- fake ZooKeeper ---- */

#define MAX_NODES 64
#define MAX_CALLS 256
#define MAX_WATCHERS 64

struct node {
    char path[160];
    char *data;
    int len;
    int version;
    int64_t czxid;
};

enum call_kind { C_GET, C_CHILDREN, C_EXISTS, C_MULTI };

struct call {
    enum call_kind kind;
    char path[160];
    bool watch;
    zk_done_fn done;
    void *arg;
    int n_ops;
    struct zk_op ops[8]; /* paths and data copied */
};

struct watcher {
    char path[160];
    zk_watch_fn fn;
    void *arg;
};

static struct {
    struct node nodes[MAX_NODES];
    size_t n_nodes;
    int64_t next_zxid;
    struct call calls[MAX_CALLS];
    size_t head, tail;
    struct watcher watchers[MAX_WATCHERS];
    size_t n_watchers;
    char armed[MAX_NODES][160]; /* paths with a watch left by a read */
    size_t n_armed;
    bool fail_check;   /* the next fenced multi's epoch check fails */
    int moved;         /* zk_elect_controller_moved calls */
    char written[32][160];
    char *written_data[32];
    size_t n_written;
    bool bulk;                    /* zk_session_bulk's mode */
    size_t multis, bulk_multis;   /* fenced multis, those made in bulk mode */
    size_t state_gets, bulk_state_gets;
    size_t bulk_drops;            /* zk_session_drop_bulk calls */
} zk;

static struct node *node_find(const char *path)
{
    for (size_t i = 0; i < zk.n_nodes; i++)
        if (strcmp(zk.nodes[i].path, path) == 0)
            return &zk.nodes[i];
    return NULL;
}

static void fire(const char *path, int type)
{
    for (size_t i = 0; i < zk.n_armed; i++) {
        if (strcmp(zk.armed[i], path) != 0)
            continue;
        memmove(&zk.armed[i], &zk.armed[i + 1], (zk.n_armed - i - 1) * sizeof zk.armed[0]);
        zk.n_armed--;
        for (size_t w = 0; w < zk.n_watchers; w++)
            if (strcmp(zk.watchers[w].path, path) == 0)
                zk.watchers[w].fn(zk.watchers[w].arg, type, path);
        return;
    }
}

static void parent_of(const char *path, char *out)
{
    snprintf(out, 160, "%s", path);
    char *slash = strrchr(out, '/');
    if (slash && slash != out)
        *slash = 0;
    else if (slash)
        slash[1] = 0;
}

/* Creates or sets a node (a set keeps its czxid); fires its watch and its parent's child watch on create. */
static void node_put(const char *path, const char *data, int len)
{
    struct node *n = node_find(path);
    bool created = !n;
    if (!n) {
        assert_true(zk.n_nodes < MAX_NODES);
        n = &zk.nodes[zk.n_nodes++];
        snprintf(n->path, sizeof n->path, "%s", path);
        n->czxid = ++zk.next_zxid;
        n->version = 0;
    } else {
        n->version++;
        free(n->data);
    }
    n->data = NULL;
    n->len = data ? len : -1;
    if (data) {
        n->data = malloc((size_t)len + 1);
        memcpy(n->data, data, (size_t)len);
        n->data[len] = 0;
    }
    if (created) {
        char parent[160];
        parent_of(path, parent);
        fire(path, ZOO_CREATED_EVENT); /* an exists watch left while it was missing */
        fire(parent, ZOO_CHILD_EVENT);
    } else {
        fire(path, ZOO_CHANGED_EVENT);
    }
}

static void node_put_str(const char *path, const char *data) { node_put(path, data, data ? (int)strlen(data) : 0); }

static void node_delete(const char *path)
{
    struct node *n = node_find(path);
    assert_non_null(n);
    free(n->data);
    *n = zk.nodes[--zk.n_nodes];
    char parent[160];
    parent_of(path, parent);
    fire(path, ZOO_DELETED_EVENT);
    fire(parent, ZOO_CHILD_EVENT);
}

static void arm(const char *path)
{
    for (size_t i = 0; i < zk.n_armed; i++)
        if (strcmp(zk.armed[i], path) == 0)
            return;
    assert_true(zk.n_armed < MAX_NODES);
    snprintf(zk.armed[zk.n_armed++], 160, "%s", path);
}

static struct call *call_push(enum call_kind kind, const char *path, bool watch, zk_done_fn done, void *arg)
{
    assert_true(zk.tail - zk.head < MAX_CALLS);
    struct call *k = &zk.calls[zk.tail++ % MAX_CALLS];
    memset(k, 0, sizeof *k);
    k->kind = kind;
    snprintf(k->path, sizeof k->path, "%s", path ? path : "");
    k->watch = watch;
    k->done = done;
    k->arg = arg;
    return k;
}

int zk_get(struct zk_session *s, const char *path, bool watch, zk_done_fn done, void *arg)
{
    (void)s;
    call_push(C_GET, path, watch, done, arg);
    if (strstr(path, "/state")) {
        zk.state_gets++;
        zk.bulk_state_gets += zk.bulk;
    }
    return 0;
}

int zk_exists(struct zk_session *s, const char *path, bool watch, zk_done_fn done, void *arg)
{
    (void)s;
    call_push(C_EXISTS, path, watch, done, arg);
    return 0;
}

bool zk_session_bulk(struct zk_session *s, bool on)
{
    (void)s;
    bool was = zk.bulk;
    zk.bulk = on;
    return was;
}

size_t zk_session_drop_bulk(struct zk_session *s)
{
    (void)s;
    zk.bulk_drops++;
    return 0;
}

int zk_children(struct zk_session *s, const char *path, bool watch, zk_done_fn done, void *arg)
{
    (void)s;
    call_push(C_CHILDREN, path, watch, done, arg);
    return 0;
}

int zk_watch_add(struct zk_session *s, const char *path, zk_watch_fn fn, void *arg)
{
    (void)s;
    assert_true(zk.n_watchers < MAX_WATCHERS);
    struct watcher *w = &zk.watchers[zk.n_watchers++];
    snprintf(w->path, sizeof w->path, "%s", path);
    w->fn = fn;
    w->arg = arg;
    return 0;
}

void zk_watch_remove(struct zk_session *s, const char *path, zk_watch_fn fn, void *arg)
{
    (void)s;
    for (size_t i = 0; i < zk.n_watchers; i++)
        if (strcmp(zk.watchers[i].path, path) == 0 && zk.watchers[i].fn == fn && zk.watchers[i].arg == arg) {
            zk.watchers[i] = zk.watchers[--zk.n_watchers];
            return;
        }
}

const char *zk_rc_name(int rc) { return rc == ZOK ? "OK" : rc == ZNONODE ? "NONODE" : "error"; }

int zk_elect_fenced_multi(struct zk_elect *e, const struct zk_op *ops, int n, zk_done_fn done, void *arg)
{
    (void)e;
    assert_true(n >= 1 && n < 8);
    struct call *k = call_push(C_MULTI, NULL, false, done, arg);
    zk.multis++;
    zk.bulk_multis += zk.bulk;
    k->n_ops = n;
    for (int i = 0; i < n; i++) {
        k->ops[i] = ops[i];
        k->ops[i].path = strdup(ops[i].path);
        k->ops[i].data = NULL;
        if (ops[i].data) {
            char *d = malloc((size_t)ops[i].len + 1);
            memcpy(d, ops[i].data, (size_t)ops[i].len);
            d[ops[i].len] = 0;
            k->ops[i].data = d;
        }
    }
    return 0;
}

void zk_elect_controller_moved(struct zk_elect *e)
{
    (void)e;
    zk.moved++;
}

static void deliver_multi(struct call *k)
{
    zoo_op_result_t results[9];
    struct Stat stats[9];
    memset(results, 0, sizeof results);
    memset(stats, 0, sizeof stats);
    int rc = ZOK;
    if (zk.fail_check) {
        zk.fail_check = false;
        rc = ZBADVERSION;
        results[0].err = ZBADVERSION;
        for (int i = 0; i < k->n_ops; i++)
            results[i + 1].err = ZRUNTIMEINCONSISTENCY;
    } else {
        for (int i = 0; i < k->n_ops && rc == ZOK; i++) {
            const struct zk_op *o = &k->ops[i];
            struct node *n = node_find(o->path);
            if (o->type == ZK_OP_CREATE && n)
                rc = ZNODEEXISTS;
            else if ((o->type == ZK_OP_SET || o->type == ZK_OP_DELETE) && !n)
                rc = ZNONODE;
            else if (o->type == ZK_OP_SET && o->version >= 0 && o->version != n->version)
                rc = ZBADVERSION;
            results[i + 1].err = rc;
        }
        if (rc == ZOK) /* all or nothing: apply once every op checked (one op per core multi) */
            for (int i = 0; i < k->n_ops; i++) {
                const struct zk_op *o = &k->ops[i];
                if (o->type == ZK_OP_DELETE) {
                    node_delete(o->path);
                    continue;
                }
                node_put(o->path, o->data, o->data ? o->len : 0);
                stats[i + 1].version = node_find(o->path)->version;
                results[i + 1].stat = &stats[i + 1];
                if (zk.n_written < 32) {
                    snprintf(zk.written[zk.n_written], 160, "%s", o->path);
                    zk.written_data[zk.n_written++] = o->data ? strdup(o->data) : NULL;
                }
            }
    }
    struct zk_result r = {.rc = rc, .len = -1, .results = results, .nresults = k->n_ops + 1};
    k->done(k->arg, &r);
    for (int i = 0; i < k->n_ops; i++) {
        free((void *)k->ops[i].path);
        free((void *)k->ops[i].data);
    }
}

static void deliver(struct call *k)
{
    if (k->kind == C_MULTI) {
        deliver_multi(k);
        return;
    }
    struct node *n = node_find(k->path);
    struct zk_result r = {.rc = n ? ZOK : ZNONODE, .len = -1};
    struct Stat st;
    memset(&st, 0, sizeof st);
    if ((n || k->kind == C_EXISTS) && k->watch)
        arm(k->path); /* exists also watches a missing node (for its creation) */
    if (k->kind == C_GET || k->kind == C_EXISTS) {
        if (n) {
            st.version = n->version;
            st.czxid = n->czxid;
            r.stat = &st;
            r.data = n->data;
            r.len = n->len;
        }
        k->done(k->arg, &r);
        return;
    }
    char *names[MAX_NODES];
    struct String_vector kids = {0, names};
    size_t plen = strlen(k->path);
    for (size_t i = 0; n && i < zk.n_nodes; i++) {
        const char *p = zk.nodes[i].path;
        if (strncmp(p, k->path, plen) == 0 && p[plen] == '/' && !strchr(p + plen + 1, '/'))
            names[kids.count++] = (char *)p + plen + 1;
    }
    r.children = &kids;
    k->done(k->arg, &r);
}

/* ---- fake controller channels ---- */

struct net_client {
    uint16_t port;
    bool closed;
};

enum net_ev_kind { N_CONNECTED, N_RESPONSE };

struct sent {
    uint16_t port;
    int16_t api_key;
    char rack_of_2[32]; /* UpdateMetadata: broker 2's rack ("" none, "?" absent) */
    int32_t port_of_2;
};

struct net_ev {
    enum net_ev_kind kind;
    struct net_client *nc;
    int16_t api_key;
    net_client_connect_fn connected;
    net_client_response_fn done;
    void *arg;
};

static struct {
    struct net_client clients[32];
    size_t n_clients;
    uint16_t connects[32]; /* ports connected to, in order */
    size_t n_connects;
    struct net_ev ev[64];
    size_t n_ev;
    struct sent sent[128];
    size_t n_sent;
} net;

int net_client_connect(uv_loop_t *loop, const char *host, uint16_t port, const char *client_id, int64_t timeout_ms,
                       net_client_connect_fn connected, void *arg, struct net_client **out)
{
    (void)loop;
    (void)client_id;
    (void)timeout_ms;
    assert_string_equal(host, "127.0.0.1");
    assert_true(net.n_clients < 32 && net.n_ev < 64);
    struct net_client *nc = &net.clients[net.n_clients++];
    nc->port = port;
    nc->closed = false;
    net.connects[net.n_connects++] = port;
    net.ev[net.n_ev].kind = N_CONNECTED;
    net.ev[net.n_ev].nc = nc;
    net.ev[net.n_ev].connected = connected;
    net.ev[net.n_ev++].arg = arg;
    *out = nc;
    return 0;
}

int net_client_send(struct net_client *c, int16_t api_key, int16_t version, const void *req,
                    net_client_response_fn done, void *arg)
{
    (void)version;
    assert_false(c->closed);
    assert_true(net.n_sent < 128 && net.n_ev < 64);
    struct sent *s = &net.sent[net.n_sent++];
    memset(s, 0, sizeof *s);
    s->port = c->port;
    s->api_key = api_key;
    snprintf(s->rack_of_2, sizeof s->rack_of_2, "?");
    if (api_key == 6) {
        const struct UpdateMetadataRequest *um = req;
        for (int32_t i = 0; i < um->LiveBrokers_n; i++)
            if (um->LiveBrokers[i].Id == 2) {
                snprintf(s->rack_of_2, sizeof s->rack_of_2, "%.*s", um->LiveBrokers[i].Rack.len > 0 ?
                         (int)um->LiveBrokers[i].Rack.len : 0, um->LiveBrokers[i].Rack.p ? um->LiveBrokers[i].Rack.p : "");
                s->port_of_2 = um->LiveBrokers[i].Endpoints_n > 0 ? um->LiveBrokers[i].Endpoints[0].Port : -1;
            }
    }
    net.ev[net.n_ev].kind = N_RESPONSE;
    net.ev[net.n_ev].nc = c;
    net.ev[net.n_ev].api_key = api_key;
    net.ev[net.n_ev].done = done;
    net.ev[net.n_ev++].arg = arg;
    return 0;
}

void net_client_close(struct net_client *c) { c->closed = true; }

static bool net_pump_one(void)
{
    for (size_t i = 0; i < net.n_ev; i++) {
        if (net.ev[i].nc->closed) { /* no callback after close */
            memmove(&net.ev[i], &net.ev[i + 1], (net.n_ev - i - 1) * sizeof net.ev[0]);
            net.n_ev--;
            i--;
            continue;
        }
        struct net_ev e = net.ev[i];
        memmove(&net.ev[i], &net.ev[i + 1], (net.n_ev - i - 1) * sizeof net.ev[0]);
        net.n_ev--;
        if (e.kind == N_CONNECTED) {
            e.connected(e.arg, 0);
        } else {
            union {
                struct LeaderAndIsrResponse lisr;
                struct UpdateMetadataResponse um;
                struct StopReplicaResponse sr;
            } resp;
            memset(&resp, 0, sizeof resp);
            e.done(e.arg, 0, &resp);
        }
        return true;
    }
    return false;
}

/* ---- the harness ---- */

struct fixture {
    uv_loop_t loop;
    struct ferry_config cfg;
    struct zk_controller *c;
};

static void drive(struct fixture *f)
{
    for (int i = 0; i < 10000; i++) {
        bool progress = false;
        if (zk.head < zk.tail) {
            struct call k = zk.calls[zk.head++ % MAX_CALLS];
            deliver(&k);
            progress = true;
        }
        progress |= net_pump_one();
        uv_run(&f->loop, UV_RUN_NOWAIT);
        if (!progress && zk.head == zk.tail && net.n_ev == 0)
            return;
    }
    fail_msg("the adapter never settled");
}

static void put_broker(int32_t id, int port, const char *rack)
{
    char path[64], json[512], rack_json[64] = "";
    if (rack)
        snprintf(rack_json, sizeof rack_json, "\"rack\":\"%s\",", rack);
    snprintf(path, sizeof path, "/brokers/ids/%d", (int)id);
    snprintf(json, sizeof json,
             "{\"features\":{},\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\"},"
             "\"endpoints\":[\"PLAINTEXT://127.0.0.1:%d\"],\"jmx_port\":-1,\"port\":%d,\"host\":\"127.0.0.1\",%s"
             "\"version\":5,\"timestamp\":\"1\"}",
             port, port, rack_json);
    node_put_str(path, json);
}

static const char *preload_reassign; /* /admin/reassign_partitions before the controller starts */

static int setup(void **state)
{
    memset(&zk, 0, sizeof zk);
    memset(&net, 0, sizeof net);
    struct fixture *f = calloc(1, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->cfg.leader_imbalance_per_broker_percentage = 10;
    f->cfg.leader_imbalance_check_interval_seconds = 300;
    f->cfg.delete_topic_enable = true;
    for (const char *const *p = (const char *const[]){"/brokers", "/brokers/ids", "/brokers/topics", "/admin",
                                                       "/admin/delete_topics", "/config", "/config/topics", NULL};
         *p; p++)
        node_put_str(*p, NULL);
    put_broker(1, 9001, NULL);
    put_broker(2, 9002, NULL);
    node_put_str("/brokers/topics/t1", "{\"version\":3,\"topic_id\":\"AAAAAAAAAAAAAAAAAAAAAQ\","
                                       "\"partitions\":{\"0\":[1,2]},\"adding_replicas\":{},\"removing_replicas\":{}}");
    if (preload_reassign)
        node_put_str("/admin/reassign_partitions", preload_reassign);
    assert_int_equal(zk_controller_new(&f->loop, &f->cfg, 1, (struct zk_session *)&zk, (struct zk_elect *)&zk, &f->c),
                     0);
    zk_controller_start(f->c, 5, 5);
    drive(f);
    assert_true(zk_controller_active(f->c));
    *state = f;
    return 0;
}

static int setup_preloaded(void **state)
{
    preload_reassign = "{\"version\":1,\"partitions\":[{\"topic\":\"nosuch\",\"partition\":0,\"replicas\":[1]}]}";
    int rc = setup(state);
    preload_reassign = NULL;
    return rc;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    zk_controller_free(f->c);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    for (size_t i = 0; i < zk.n_nodes; i++)
        free(zk.nodes[i].data);
    for (size_t i = 0; i < zk.n_written; i++)
        free(zk.written_data[i]);
    free(f);
    return 0;
}

static size_t count_sent(uint16_t port, int16_t api_key, size_t from)
{
    size_t n = 0;
    for (size_t i = from; i < net.n_sent; i++)
        n += net.sent[i].port == port && net.sent[i].api_key == api_key;
    return n;
}

/* ---- tests ---- */

static void test_failover_load_writes_kafka_state_znodes(void **state)
{
    (void)state;
    const char *path = "/brokers/topics/t1/partitions/0/state";
    const char *data = NULL;
    for (size_t i = 0; i < zk.n_written; i++)
        if (strcmp(zk.written[i], path) == 0)
            data = zk.written_data[i];
    assert_non_null(data);
    zk_partition_state st;
    zk_err err;
    assert_int_equal(zk_partition_state_decode(data, strlen(data), &st, &err), 0);
    assert_int_equal(st.controller_epoch, 5);
    assert_int_equal(st.leader, 1);
    assert_int_equal(st.leader_epoch, 0);
    assert_int_equal(st.n_isr, 2);
    assert_int_equal(st.isr[0], 1);
    assert_int_equal(st.isr[1], 2);
    zk_partition_state_free(&st);
    assert_non_null(node_find("/brokers/topics/t1/partitions"));
    /* LeaderAndIsr (IsNew) and UpdateMetadata to both brokers' inter-broker endpoints */
    assert_true(count_sent(9001, 4, 0) >= 1);
    assert_true(count_sent(9002, 4, 0) >= 1);
    assert_true(count_sent(9002, 6, 0) >= 1);
    /* the controller's state writes go in the session's bulk mode, which is off again after each */
    assert_true(zk.multis > 0);
    assert_int_equal(zk.bulk_multis, zk.multis);
    assert_false(zk.bulk);
}

static void test_broker_znode_rewritten_within_its_registration(void **state)
{
    struct fixture *f = *state;
    int64_t czxid = node_find("/brokers/ids/2")->czxid;
    size_t from = net.n_sent, connects = net.n_connects;
    /* a new rack: UpdateMetadata with it to every broker, no reconnection */
    put_broker(2, 9002, "rack-b");
    assert_int_equal(node_find("/brokers/ids/2")->czxid, czxid);
    drive(f);
    assert_int_equal(count_sent(9001, 6, from), 1);
    assert_int_equal(count_sent(9002, 6, from), 1);
    assert_int_equal(count_sent(9001, 4, from) + count_sent(9002, 4, from), 0);
    assert_string_equal(net.sent[net.n_sent - 1].rack_of_2, "rack-b");
    assert_int_equal(net.n_connects, connects);
    /* the same data again (the watch was re-armed by the re-read): nothing */
    from = net.n_sent;
    put_broker(2, 9002, "rack-b");
    drive(f);
    assert_int_equal(net.n_sent, from);
    /* a new endpoint: broker 2's channel reconnects there, and every broker learns the new port */
    put_broker(2, 9102, "rack-b");
    drive(f);
    assert_int_equal(net.connects[net.n_connects - 1], 9102);
    assert_int_equal(count_sent(9102, 6, from), 1);
    assert_int_equal(count_sent(9001, 6, from), 1);
    assert_int_equal(count_sent(9002, 6, from), 0);
    for (size_t i = from; i < net.n_sent; i++)
        assert_int_equal(net.sent[i].port_of_2, 9102);
}

/* A later failover (the same broker elected again) reads the existing partition states in bulk mode. */
static void test_failover_reads_states_in_bulk(void **state)
{
    struct fixture *f = *state;
    size_t before = zk.state_gets; /* the first load's (NONODE) */
    assert_non_null(node_find("/brokers/topics/t1/partitions/0/state"));
    size_t drops = zk.bulk_drops;
    zk_controller_stop(f->c);
    /* the stopped term's queued bulk requests are dropped from the session (not sent ahead of the next) */
    assert_int_equal(zk.bulk_drops, drops + 1);
    drive(f);
    zk_controller_start(f->c, 6, 6);
    drive(f);
    assert_true(zk_controller_active(f->c));
    assert_int_equal(zk.state_gets, before + 1);
    assert_int_equal(zk.bulk_state_gets, zk.state_gets);
    assert_false(zk.bulk);
}

/* Whatever allocation fails in a failover load, the session's bulk mode is off again afterwards: left on, it
 * would mark every later request of the session (the broker's own re-registration included) as bulk work,
 * which the next stop drops unsent. */
static void test_failover_alloc_failures_leave_bulk_off(void **state)
{
    struct fixture *f = *state;
    assert_non_null(node_find("/brokers/topics/t1/partitions/0/state")); /* the load reads it */
    int32_t epoch = 6;
    for (long n = 0;; n++, epoch++) {
        zk_controller_stop(f->c);
        drive(f);
        ferry_alloc_fail_after(n);
        zk_controller_start(f->c, epoch, epoch);
        drive(f);
        bool active = zk_controller_active(f->c);
        ferry_alloc_fail_after(-1);
        assert_false(zk.bulk);
        if (active && n > 0)
            break;
        assert_true(n < 5000);
    }
}

/* A broker's image holding t1-0 (topic id b64) with the two replicas reps (the first isr_n of them the
 * ISR, the first the leader) at zkVersion zkv. */
static void image_of_t1_with(struct md_image *img, const char *b64, int32_t *reps, int32_t isr_n, int32_t zkv)
{
    md_image_init(img);
    struct TopicRecord t;
    proto_struct_init(proto_msg_TopicRecord.body, &t);
    t.Name = proto_str_from("t1");
    assert_int_equal(proto_uuid_from_base64(b64, &t.TopicId), 0);
    assert_int_equal(md_image_apply(img, &proto_msg_TopicRecord, &t, 0, NULL), 0);
    struct PartitionRecord p;
    proto_struct_init(proto_msg_PartitionRecord.body, &p);
    p.PartitionId = 0;
    p.TopicId = t.TopicId;
    p.Replicas = reps;
    p.Replicas_n = 2;
    p.Isr = reps;
    p.Isr_n = isr_n;
    p.Leader = reps[0];
    p.LeaderEpoch = 0;
    p.PartitionEpoch = zkv;
    assert_int_equal(md_image_apply(img, &proto_msg_PartitionRecord, &p, 1, NULL), 0);
}

/* A broker's image holding t1-0 as written (topic id b64, replicas [1, r2], leader 1, zkVersion zkv). */
static void image_of_t1(struct md_image *img, const char *b64, int32_t r2, int32_t zkv)
{
    int32_t reps[] = {1, r2};
    image_of_t1_with(img, b64, reps, 2, zkv);
}

static void elected_again(struct fixture *f, int32_t epoch)
{
    zk_controller_stop(f->c);
    drive(f);
    zk_controller_start(f->c, epoch, epoch);
    drive(f);
    assert_true(zk_controller_active(f->c));
}

/* The image takeover: with an image the previous controller (this epoch - 1) sent UpdateMetadata to, the
 * states come from it (no read before deciding) and are read once the controller ticks with no state write
 * in flight; an image of an older controller, of another topic id or with other replicas is not used (the
 * state is read first, as before). */
static void test_image_takeover(void **state)
{
    struct fixture *f = *state;
    const char *tid = "AAAAAAAAAAAAAAAAAAAAAQ";
    int32_t zkv = node_find("/brokers/topics/t1/partitions/0/state")->version;
    struct md_image img;
    int32_t img_epoch = 5;
    image_of_t1(&img, tid, 2, zkv);
    zk_controller_use_image(f->c, &img, &img_epoch);
    size_t before = zk.state_gets;
    elected_again(f, 6);
    assert_int_equal(zk.state_gets, before);
    /* the background read: at a tick (every second), bulk */
    for (int i = 0; i < 5 && zk.state_gets == before; i++) {
        uv_run(&f->loop, UV_RUN_ONCE);
        drive(f);
    }
    assert_int_equal(zk.state_gets, before + 1);
    assert_int_equal(zk.bulk_state_gets, zk.state_gets);
    /* an image from controller 5 when 8 takes over: read first */
    elected_again(f, 8);
    assert_int_equal(zk.state_gets, before + 2);
    /* another topic id (a topic deleted and created again), or other replicas: read first */
    md_image_free(&img);
    image_of_t1(&img, "AAAAAAAAAAAAAAAAAAAAAg", 2, zkv);
    img_epoch = 8;
    elected_again(f, 9);
    assert_int_equal(zk.state_gets, before + 3);
    md_image_free(&img);
    image_of_t1(&img, tid, 3, zkv);
    img_epoch = 9;
    elected_again(f, 10);
    assert_int_equal(zk.state_gets, before + 4);
    zk_controller_stop(f->c);
    drive(f);
    md_image_free(&img);
}

/* The image lacks leader_recovery_state for a partition this broker (1) does not host: its state comes from
 * the image only when its ISR has two members or more (RECOVERING only goes with an ISR of one); a
 * single-member ISR is read first. */
static void test_image_takeover_not_hosted(void **state)
{
    struct fixture *f = *state;
    const char *tid = "AAAAAAAAAAAAAAAAAAAAAQ";
    put_broker(3, 9003, NULL);
    node_put_str("/brokers/topics/t1", "{\"version\":3,\"topic_id\":\"AAAAAAAAAAAAAAAAAAAAAQ\","
                                       "\"partitions\":{\"0\":[2,3]},\"adding_replicas\":{},\"removing_replicas\":{}}");
    drive(f);
    int32_t zkv = node_find("/brokers/topics/t1/partitions/0/state")->version;
    int32_t reps[] = {2, 3};
    struct md_image img;
    int32_t img_epoch = 5;
    image_of_t1_with(&img, tid, reps, 2, zkv);
    zk_controller_use_image(f->c, &img, &img_epoch);
    size_t before = zk.state_gets;
    elected_again(f, 6);
    assert_int_equal(zk.state_gets, before); /* ISR [2, 3]: from the image */
    md_image_free(&img);
    image_of_t1_with(&img, tid, reps, 1, zkv);
    img_epoch = 6;
    elected_again(f, 7);
    assert_int_equal(zk.state_gets, before + 1); /* ISR [2]: maybe RECOVERING, read first */
    zk_controller_stop(f->c);
    drive(f);
    md_image_free(&img);
}

static void test_failed_epoch_check_resigns(void **state)
{
    struct fixture *f = *state;
    /* broker 2 goes: its ISR shrink is a fenced write, whose epoch check fails (another controller won) */
    zk.fail_check = true;
    node_delete("/brokers/ids/2");
    drive(f);
    assert_int_equal(zk.moved, 1);
    assert_false(zk.fail_check);
    const char *data = node_find("/brokers/topics/t1/partitions/0/state")->data;
    assert_non_null(strstr(data, "\"isr\":[1,2]")); /* nothing written */
}

static void test_admin_znodes(void **state)
{
    struct fixture *f = *state;
    /* t1-0 [1,2] led by 1: a preferred election is not needed, the znode still goes */
    node_put_str("/admin/preferred_replica_election", "{\"version\":1,\"partitions\":[{\"topic\":\"t1\",\"partition\":0}]}");
    drive(f);
    assert_null(node_find("/admin/preferred_replica_election"));
    /* a reassignment to [2,1]: the union is the same set, so it completes at once (both in the ISR) */
    node_put_str("/admin/reassign_partitions",
                 "{\"version\":1,\"partitions\":[{\"topic\":\"t1\",\"partition\":0,\"replicas\":[2,1]}]}");
    drive(f);
    assert_null(node_find("/admin/reassign_partitions"));
    const char *topic = node_find("/brokers/topics/t1")->data;
    assert_non_null(strstr(topic, "\"partitions\":{\"0\":[2,1]}"));
    assert_non_null(strstr(topic, "\"adding_replicas\":{}"));
    /* a malformed one is left alone; the watch is set again after each event */
    node_put_str("/admin/preferred_replica_election", "{\"version\":9}");
    drive(f);
    assert_non_null(node_find("/admin/preferred_replica_election"));
    node_delete("/admin/preferred_replica_election");
    drive(f);
    node_put_str("/admin/preferred_replica_election", "{\"version\":1,\"partitions\":[]}");
    drive(f);
    assert_null(node_find("/admin/preferred_replica_election"));
}

static void test_admin_znode_present_at_the_load(void **state)
{
    (void)state;
    /* setup_preloaded wrote it before the controller started: read once the load was in, its only entry
     * failed (no such partition), so it is gone */
    assert_null(node_find("/admin/reassign_partitions"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_failover_load_writes_kafka_state_znodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_znode_rewritten_within_its_registration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failover_reads_states_in_bulk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failover_alloc_failures_leave_bulk_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_takeover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_takeover_not_hosted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_epoch_check_resigns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_znodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_znode_present_at_the_load, setup_preloaded, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
