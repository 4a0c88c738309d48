/* test_zkctl_util.h: a simulated ZooKeeper for the zkctl unit tests. It runs the core's znode actions on an
 * in-memory tree (versions, NONODE/NODEEXISTS/BADVERSION/NOTEMPTY, the /controller_epoch check of every
 * multi), feeds the results back, and records the requests and responses the core emits. Snapshots for
 * zkctl_become_controller are read from the tree through the znode codecs, as the adapter does. */
#ifndef TEST_ZKCTL_UTIL_H
#define TEST_ZKCTL_UTIL_H

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
#include "broker/common/ferry_log.h"
#include "zkmode/controller/zkctl.h"

#define TZ static __attribute__((unused))

/* topic ids (base64) */
#define TID "q2mT0lT5QjWcT7d3bZ0s8A"
#define TID2 "AAAAAAAAAAAAAAAAAAAAAQ"

struct sim_node {
    char *path;
    char *data;
    size_t len;
    int32_t version;
};

struct sim_broker {
    int32_t id;
    int64_t epoch;
};

struct sim {
    zkctl *c;
    int32_t epoch, epoch_zkv;   /* what /controller_epoch holds */
    size_t n_nodes;
    struct sim_node nodes[512];
    size_t n_brokers;
    struct sim_broker brokers[16];
    size_t n_sent;
    zkctl_action *sent[4096];   /* SEND and RESPOND actions, in order */
    size_t n_multis;
    size_t n_writes;            /* ops after the epoch check, over every multi */
    bool resigned;
    bool unchecked_write;       /* a multi without the epoch check as op 0 */
    bool auto_stop_replica;     /* answer StopReplica(delete) at once, success */
    int16_t stop_replica_error; /* ... with this partition error */
    /* one-shot fault: the next op on a path containing inject_path gets inject_rc; inject_apply: the op is
     * applied anyway (a CONNLOSS after the server applied it) */
    const char *inject_path;
    enum zkctl_zk_rc inject_rc;
    bool inject_apply;
    bool hold;                  /* keep actions queued (tests that look at in-flight state) */
    bool arm_fail;              /* sim_become arms ferry_alloc_fail_after(fail_at) just before the event */
    long fail_at;
    /* the image takeover: sim_become takes the states of these captured nodes (a broker's metadata image,
     * sim_image_capture) instead of the tree's, marked from_image; partitions not captured are read */
    bool use_image;
    size_t n_image;
    struct sim_node image[256];
};

/* Results fed back must be accepted; under an allocation-failure sweep FERRY_ENOMEM is accepted too. */
#define SIM_OK(s, call)                                                  \
    do {                                                                 \
        int rc_ = (call);                                                \
        if ((s)->arm_fail)                                               \
            assert_true(rc_ == 0 || rc_ == FERRY_ENOMEM);                \
        else                                                             \
            assert_int_equal(rc_, 0);                                    \
    } while (0)

TZ struct sim_node *sim_node(struct sim *s, const char *path)
{
    for (size_t i = 0; i < s->n_nodes; i++)
        if (strcmp(s->nodes[i].path, path) == 0)
            return &s->nodes[i];
    return NULL;
}

TZ void sim_put(struct sim *s, const char *path, const char *data)
{
    struct sim_node *n = sim_node(s, path);
    if (!n) {
        assert_true(s->n_nodes < 512);
        n = &s->nodes[s->n_nodes++];
        n->path = strdup(path);
        n->version = -1;
        n->data = NULL;
    }
    free(n->data);
    n->data = data ? strdup(data) : NULL;
    n->len = data ? strlen(data) : 0;
    n->version++;
}

TZ void sim_del(struct sim *s, const char *path)
{
    struct sim_node *n = sim_node(s, path);
    if (!n)
        return;
    free(n->path);
    free(n->data);
    *n = s->nodes[--s->n_nodes];
}

TZ bool sim_has_children(struct sim *s, const char *path)
{
    size_t l = strlen(path);
    for (size_t i = 0; i < s->n_nodes; i++)
        if (strncmp(s->nodes[i].path, path, l) == 0 && s->nodes[i].path[l] == '/')
            return true;
    return false;
}

TZ bool sim_parent_exists(struct sim *s, const char *path)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", path);
    char *slash = strrchr(buf, '/');
    if (!slash || slash == buf)
        return true;
    *slash = 0;
    /* the top-level folders Kafka creates at startup exist implicitly */
    if (!strcmp(buf, "/brokers/topics") || !strcmp(buf, "/config/topics") || !strcmp(buf, "/admin/delete_topics"))
        return true;
    return sim_node(s, buf) != NULL;
}

TZ void sim_init(struct sim *s, int32_t controller_id)
{
    memset(s, 0, sizeof(*s));
    zkctl_config cfg;
    zkctl_config_default(&cfg, controller_id);
    assert_int_equal(zkctl_new(&cfg, &s->c), 0);
}

TZ void sim_init_cfg(struct sim *s, const zkctl_config *cfg)
{
    memset(s, 0, sizeof(*s));
    assert_int_equal(zkctl_new(cfg, &s->c), 0);
}

TZ void sim_clear_sent(struct sim *s)
{
    for (size_t i = 0; i < s->n_sent; i++)
        zkctl_action_free(s->sent[i]);
    s->n_sent = 0;
}

TZ void sim_image_clear(struct sim *s)
{
    for (size_t i = 0; i < s->n_image; i++) {
        free(s->image[i].path);
        free(s->image[i].data);
    }
    s->n_image = 0;
}

/* The image a broker holds now: every partition state of the tree as the controller last told it (tests
 * then change the tree behind its back to make it stale). */
TZ void sim_image_capture(struct sim *s)
{
    sim_image_clear(s);
    for (size_t i = 0; i < s->n_nodes; i++) {
        size_t l = strlen(s->nodes[i].path);
        if (l < 6 || strcmp(s->nodes[i].path + l - 6, "/state") != 0)
            continue;
        assert_true(s->n_image < 256);
        struct sim_node *n = &s->image[s->n_image++];
        n->path = strdup(s->nodes[i].path);
        n->data = strdup(s->nodes[i].data);
        n->len = s->nodes[i].len;
        n->version = s->nodes[i].version;
    }
    s->use_image = true;
}

TZ struct sim_node *sim_image_node(struct sim *s, const char *path)
{
    for (size_t i = 0; i < s->n_image; i++)
        if (strcmp(s->image[i].path, path) == 0)
            return &s->image[i];
    return NULL;
}

TZ void sim_free(struct sim *s)
{
    sim_image_clear(s);
    sim_clear_sent(s);
    zkctl_free(s->c);
    for (size_t i = 0; i < s->n_nodes; i++) {
        free(s->nodes[i].path);
        free(s->nodes[i].data);
    }
    s->n_nodes = 0;
}

TZ bool sim_inject(struct sim *s, const char *path, enum zkctl_zk_rc *rc, bool *apply)
{
    if (!s->inject_path || !strstr(path, s->inject_path))
        return false;
    *rc = s->inject_rc;
    *apply = s->inject_apply;
    s->inject_path = NULL;
    return true;
}

TZ void sim_stop_replica_answer(struct sim *s, const zkctl_action *a);

/* The outcome of one op of a multi on the current tree, without applying it. */
TZ enum zkctl_zk_rc sim_op_check(struct sim *s, const zkctl_zk_op *op)
{
    struct sim_node *n = sim_node(s, op->path);
    switch (op->kind) {
    case ZKCTL_OP_CREATE:
        return n ? ZKCTL_ZK_NODEEXISTS : !sim_parent_exists(s, op->path) ? ZKCTL_ZK_NONODE : ZKCTL_ZK_OK;
    case ZKCTL_OP_SET:
        return !n ? ZKCTL_ZK_NONODE : op->version != -1 && op->version != n->version ? ZKCTL_ZK_BADVERSION : ZKCTL_ZK_OK;
    case ZKCTL_OP_DELETE:
        return !n ? ZKCTL_ZK_NONODE : sim_has_children(s, op->path) ? ZKCTL_ZK_OTHER : ZKCTL_ZK_OK;
    default:
        return ZKCTL_ZK_OTHER;
    }
}

/* Applies one op (checked or injected-and-applied); returns the Stat.version after it (0: create/delete). */
TZ int32_t sim_op_apply(struct sim *s, const zkctl_zk_op *op)
{
    struct sim_node *n = sim_node(s, op->path);
    if (op->kind == ZKCTL_OP_CREATE && !n)
        sim_put(s, op->path, op->data);
    else if (op->kind == ZKCTL_OP_SET && n)
        sim_put(s, op->path, op->data);
    else if (op->kind == ZKCTL_OP_DELETE && n)
        sim_del(s, op->path);
    n = op->kind == ZKCTL_OP_SET ? sim_node(s, op->path) : NULL;
    return n ? n->version : 0;
}

/* A multi, all or nothing: the epoch check, then every op checked in order; the first failure (or injected
 * fault) is the result. An injected fault with inject_apply applies the whole multi anyway. */
TZ void sim_multi(struct sim *s, const zkctl_action *a, enum zkctl_zk_rc *rc, size_t *failed, int32_t *versions)
{
    *rc = ZKCTL_ZK_OK;
    *failed = 0;
    if (a->ops[0].version != s->epoch_zkv) {
        *rc = ZKCTL_ZK_BADVERSION;
        return;
    }
    bool apply = true;
    for (size_t i = 1; i < a->n_ops && *rc == ZKCTL_ZK_OK; i++) {
        enum zkctl_zk_rc orc;
        bool inj_apply = false;
        if (sim_inject(s, a->ops[i].path, &orc, &inj_apply))
            apply = inj_apply;
        else
            apply = (orc = sim_op_check(s, &a->ops[i])) == ZKCTL_ZK_OK;
        if (orc != ZKCTL_ZK_OK) {
            *rc = orc;
            *failed = i;
        }
    }
    if (!apply)
        return;
    for (size_t i = 1; i < a->n_ops; i++)
        versions[i] = sim_op_apply(s, &a->ops[i]);
}

/* Runs the queued actions (and the ones their results queue) until none is left. */
TZ void sim_run(struct sim *s)
{
    zkctl_action *a;
    while (!s->hold && (a = zkctl_next_action(s->c))) {
        if (a->kind == ZKCTL_ACT_ZK_MULTI) {
            s->n_multis++;
            if (a->n_ops < 2 || a->ops[0].kind != ZKCTL_OP_CHECK || strcmp(a->ops[0].path, "/controller_epoch") != 0)
                s->unchecked_write = true;
            s->n_writes += a->n_ops - 1;
            enum zkctl_zk_rc rc;
            size_t failed = 0;
            int32_t versions[128] = {0};
            assert_true(a->n_ops <= 128);
            sim_multi(s, a, &rc, &failed, versions);
            SIM_OK(s, zkctl_zk_multi_result(s->c, a->id, rc, rc == ZKCTL_ZK_OK ? 0 : failed, versions, a->n_ops));
            zkctl_action_free(a);
        } else if (a->kind == ZKCTL_ACT_ZK_READ) {
            struct sim_node *n = sim_node(s, a->path);
            enum zkctl_zk_rc rc = n ? ZKCTL_ZK_OK : ZKCTL_ZK_NONODE;
            SIM_OK(s, zkctl_zk_read_result(s->c, a->id, rc, n ? n->data : NULL, n ? n->len : 0,
                                           n ? n->version : 0));
            zkctl_action_free(a);
        } else if (a->kind == ZKCTL_ACT_RESIGN) {
            s->resigned = true;
            zkctl_action_free(a);
        } else {
            assert_true(s->n_sent < 4096);
            s->sent[s->n_sent++] = a;
            if (s->auto_stop_replica && a->kind == ZKCTL_ACT_SEND && a->api_key == ZKCTL_API_STOP_REPLICA)
                sim_stop_replica_answer(s, a);
        }
    }
}

TZ void sim_stop_replica_answer(struct sim *s, const zkctl_action *a)
{
    const struct StopReplicaRequest *r = a->body;
    struct StopReplicaResponse_StopReplicaPartitionError pe[64];
    int32_t n = 0;
    for (int32_t i = 0; i < r->TopicStates_n; i++)
        for (int32_t j = 0; j < r->TopicStates[i].PartitionStates_n; j++) {
            if (!r->TopicStates[i].PartitionStates[j].DeletePartition)
                continue;
            assert_true(n < 64);
            pe[n].TopicName = r->TopicStates[i].TopicName;
            pe[n].PartitionIndex = r->TopicStates[i].PartitionStates[j].PartitionIndex;
            pe[n].ErrorCode = s->stop_replica_error;
            n++;
        }
    if (!n)
        return;
    struct StopReplicaResponse resp = {.ErrorCode = 0, .PartitionErrors = pe, .PartitionErrors_n = n};
    SIM_OK(s, zkctl_stop_replica_response(s->c, a->broker_id, &resp));
}

/* ---- building the tree the way Kafka writes it ---- */
TZ void sim_topic(struct sim *s, const char *name, const char *partitions_json, const char *topic_id)
{
    char path[400], json[1024];
    snprintf(path, sizeof(path), "/brokers/topics/%s", name);
    snprintf(json, sizeof(json),
             "{\"version\":3,\"partitions\":%s,\"adding_replicas\":{},\"removing_replicas\":{},\"topic_id\":\"%s\"}",
             partitions_json, topic_id);
    sim_put(s, path, json);
    snprintf(path, sizeof(path), "/config/topics/%s", name);
    sim_put(s, path, "{\"version\":1,\"config\":{}}");
}

/* Writes /brokers/topics/<name> (as sim_topic), tells the controller the topic changed (as its watch would)
 * and runs the actions that follow. */
TZ void sim_topic_changed(struct sim *s, const char *name, const char *partitions_json, const char *topic_id)
{
    sim_topic(s, name, partitions_json, topic_id);
    char path[400];
    snprintf(path, sizeof(path), "/brokers/topics/%s", name);
    struct sim_node *n = sim_node(s, path);
    zk_topic_assignment a;
    assert_int_equal(zk_topic_assignment_decode(n->data, n->len, &a, NULL), 0);
    assert_int_equal(zkctl_topic_changed(s->c, name, &a), 0);
    zk_topic_assignment_free(&a);
    sim_run(s);
}

/* A state znode with the given zkVersion: isr is a JSON array like "[1,2]". */
TZ void sim_state(struct sim *s, const char *topic, int partition, int leader, int leader_epoch, const char *isr,
                  int ctrl_epoch, int zkversion)
{
    char path[400], json[512];
    snprintf(path, sizeof(path), "/brokers/topics/%s/partitions", topic);
    if (!sim_node(s, path))
        sim_put(s, path, NULL);
    snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%d", topic, partition);
    if (!sim_node(s, path))
        sim_put(s, path, NULL);
    snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%d/state", topic, partition);
    snprintf(json, sizeof(json), "{\"controller_epoch\":%d,\"leader\":%d,\"version\":1,\"leader_epoch\":%d,\"isr\":%s}",
             ctrl_epoch, leader, leader_epoch, isr);
    sim_put(s, path, json);
    sim_node(s, path)->version = zkversion;
}

TZ void sim_add_broker(struct sim *s, int32_t id, int64_t epoch)
{
    for (size_t i = 0; i < s->n_brokers; i++)
        if (s->brokers[i].id == id) {
            s->brokers[i].epoch = epoch;
            return;
        }
    s->brokers[s->n_brokers].id = id;
    s->brokers[s->n_brokers].epoch = epoch;
    s->n_brokers++;
}

TZ void sim_remove_broker(struct sim *s, int32_t id)
{
    for (size_t i = 0; i < s->n_brokers; i++)
        if (s->brokers[i].id == id) {
            s->brokers[i] = s->brokers[--s->n_brokers];
            return;
        }
}

struct sim_ep_store {
    char host[32];
    zkctl_endpoint ep;
};

TZ void sim_fill_broker(zkctl_broker *b, struct sim_ep_store *st, int32_t id, int64_t epoch)
{
    snprintf(st->host, sizeof(st->host), "b%d", (int)id);
    st->ep.listener = "PLAINTEXT";
    st->ep.host = st->host;
    st->ep.port = 9090 + id;
    st->ep.security_protocol = 0;
    b->id = id;
    b->epoch = epoch;
    b->n_endpoints = 1;
    b->endpoints = &st->ep;
    b->rack = NULL;
}

/* Registers (or bounces) a broker with the controller. */
TZ int sim_register(struct sim *s, int32_t id, int64_t epoch)
{
    sim_add_broker(s, id, epoch);
    zkctl_broker b;
    struct sim_ep_store st;
    sim_fill_broker(&b, &st, id, epoch);
    int rc = zkctl_broker_registered(s->c, &b);
    sim_run(s);
    return rc;
}

TZ int sim_gone(struct sim *s, int32_t id)
{
    sim_remove_broker(s, id);
    int rc = zkctl_broker_gone(s->c, id);
    sim_run(s);
    return rc;
}

/* The tree many tests start from: brokers 1-3; topic "orders" with orders-0 on [1,2,3] led by 1 (leader
 * epoch 4, zkVersion 9, written by controller epoch 7) and orders-1 on [2,3,1] led by 2 (leader epoch 2,
 * zkVersion 3, controller epoch 6); /controller_epoch 7 at zkVersion 7. */
#define ORDERS_PARTS "{\"0\":[1,2,3],\"1\":[2,3,1]}"
TZ void sim_setup_orders(struct sim *s, int32_t controller_id)
{
    sim_init(s, controller_id);
    s->epoch = 7;
    s->epoch_zkv = 7;
    sim_add_broker(s, 1, 101);
    sim_add_broker(s, 2, 102);
    sim_add_broker(s, 3, 103);
    sim_topic(s, "orders", ORDERS_PARTS, TID);
    sim_state(s, "orders", 0, 1, 4, "[1,2,3]", 7, 9);
    sim_state(s, "orders", 1, 2, 2, "[2,3,1]", 6, 3);
}

/* The end of a test: no write went without the epoch check; frees the sim. */
TZ void sim_done(struct sim *s)
{
    assert_false(s->unchecked_write);
    sim_free(s);
}

/* Reads every topic of the tree and its states through the codecs and makes the core controller with the
 * next epoch (the election's multi is simulated: /controller_epoch's zkVersion goes up by one). */
TZ int sim_become(struct sim *s)
{
    s->epoch++;
    s->epoch_zkv++;
    zkctl_broker brokers[16];
    struct sim_ep_store eps[16];
    for (size_t i = 0; i < s->n_brokers; i++)
        sim_fill_broker(&brokers[i], &eps[i], s->brokers[i].id, s->brokers[i].epoch);
    zkctl_topic_in topics[16];
    zk_topic_assignment assigns[16];
    zkctl_state_in states[16][64];
    zk_partition_state pstates[16][64];
    const char *dels[32];
    size_t n_topics = 0, n_dels = 0;
    for (size_t i = 0; i < s->n_nodes; i++) {
        const char *p = s->nodes[i].path;
        if (!strncmp(p, "/admin/delete_topics/", 21))
            if (n_dels < 32)
                dels[n_dels++] = p + 21;
        if (strncmp(p, "/brokers/topics/", 16) || strchr(p + 16, '/'))
            continue;
        assert_true(n_topics < 16);
        zkctl_topic_in *t = &topics[n_topics];
        memset(t, 0, sizeof(*t));
        t->name = p + 16;
        assert_int_equal(zk_topic_assignment_decode(s->nodes[i].data, s->nodes[i].len, &assigns[n_topics], NULL), 0);
        t->assignment = &assigns[n_topics];
        for (size_t k = 0; k < assigns[n_topics].n_partitions; k++) {
            char sp[400];
            snprintf(sp, sizeof(sp), "%s/partitions/%d/state", p, (int)assigns[n_topics].partitions[k].partition);
            struct sim_node *sn = s->use_image ? sim_image_node(s, sp) : NULL;
            bool from_image = sn != NULL;
            if (!sn)
                sn = sim_node(s, sp);
            if (!sn)
                continue;
            assert_true(t->n_states < 64);
            zkctl_state_in *si = &states[n_topics][t->n_states];
            assert_int_equal(zk_partition_state_decode(sn->data, sn->len, &pstates[n_topics][t->n_states], NULL), 0);
            si->partition = assigns[n_topics].partitions[k].partition;
            si->state = &pstates[n_topics][t->n_states];
            si->zkversion = sn->version;
            si->from_image = from_image;
            t->n_states++;
        }
        t->states = states[n_topics];
        char cp[400];
        snprintf(cp, sizeof(cp), "/config/topics/%s", t->name);
        struct sim_node *cn = sim_node(s, cp);
        if (cn && cn->data) {
            zk_config_entity ce;
            assert_int_equal(zk_config_entity_decode(cn->data, cn->len, &ce, NULL), 0);
            const char *v = zk_str_map_get(&ce.config, "unclean.leader.election.enable");
            t->has_unclean = v != NULL;
            t->unclean = v && !strcmp(v, "true");
            zk_config_entity_free(&ce);
        }
        n_topics++;
    }
    zkctl_snapshot snap = {.epoch = s->epoch, .epoch_zkversion = s->epoch_zkv, .now_ms = 1000,
                           .n_brokers = s->n_brokers, .brokers = brokers, .n_topics = n_topics, .topics = topics,
                           .n_deletions = n_dels, .deletions = dels};
    if (s->arm_fail)
        ferry_alloc_fail_after(s->fail_at);
    int rc = zkctl_become_controller(s->c, &snap);
    for (size_t i = 0; i < n_topics; i++) {
        for (size_t k = 0; k < topics[i].n_states; k++)
            zk_partition_state_free(&pstates[i][k]);
        zk_topic_assignment_free(&assigns[i]);
    }
    sim_run(s);
    return rc;
}

/* The image takeover's background read: every state znode of the tree's topics, fed to zkctl_states_read
 * (and the actions that follow run). */
TZ int sim_states_read(struct sim *s)
{
    zkctl_topic_in topics[16];
    zkctl_state_in states[16][64];
    zk_partition_state pstates[16][64];
    char names[16][128];
    size_t n_topics = 0;
    int rc = 0;
    memset(topics, 0, sizeof(topics));
    for (size_t i = 0; i < s->n_nodes; i++) {
        const char *p = s->nodes[i].path;
        int part = -1, off = 0;
        char name[128];
        if (sscanf(p, "/brokers/topics/%127[^/]/partitions/%d/state%n", name, &part, &off) != 2 || p[off])
            continue;
        size_t t = 0;
        while (t < n_topics && strcmp(names[t], name) != 0)
            t++;
        if (t == n_topics) {
            assert_true(n_topics < 16);
            snprintf(names[n_topics], sizeof(names[n_topics]), "%s", name);
            topics[n_topics].name = names[n_topics];
            topics[n_topics].states = states[n_topics];
            n_topics++;
        }
        zkctl_state_in *si = &states[t][topics[t].n_states];
        if (zk_partition_state_decode(s->nodes[i].data, s->nodes[i].len, &pstates[t][topics[t].n_states], NULL)) {
            assert_true(s->arm_fail); /* the allocation-failure sweep */
            rc = FERRY_ENOMEM;
            break;
        }
        *si = (zkctl_state_in){.partition = part, .state = &pstates[t][topics[t].n_states],
                               .zkversion = s->nodes[i].version};
        topics[t].n_states++;
    }
    if (rc == 0)
        rc = zkctl_states_read(s->c, topics, n_topics);
    for (size_t t = 0; t < n_topics; t++)
        for (size_t k = 0; k < topics[t].n_states; k++)
            zk_partition_state_free(&pstates[t][k]);
    sim_run(s);
    return rc;
}

/* The state znode decoded (asserts it exists and decodes). */
TZ int32_t sim_read_state(struct sim *s, const char *topic, int partition, zk_partition_state *out)
{
    char path[400];
    snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%d/state", topic, partition);
    struct sim_node *n = sim_node(s, path);
    assert_non_null(n);
    assert_int_equal(zk_partition_state_decode(n->data, n->len, out, NULL), 0);
    return n->version;
}

TZ bool isr_is(const zk_partition_state *st, size_t n, ...)
{
    va_list ap;
    va_start(ap, n);
    bool ok = st->n_isr == n;
    for (size_t i = 0; i < n; i++) {
        int v = va_arg(ap, int);
        if (ok && st->isr[i] != v)
            ok = false;
    }
    va_end(ap);
    return ok;
}

/* Number of recorded requests with api_key to broker (-1: any broker). */
TZ size_t sim_count(struct sim *s, int16_t api_key, int32_t broker)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_sent; i++)
        if (s->sent[i]->kind == ZKCTL_ACT_SEND && s->sent[i]->api_key == api_key &&
            (broker < 0 || s->sent[i]->broker_id == broker))
            n++;
    return n;
}

/* The last recorded request with api_key to broker, or NULL. */
TZ const zkctl_action *sim_last(struct sim *s, int16_t api_key, int32_t broker)
{
    for (size_t i = s->n_sent; i-- > 0;)
        if (s->sent[i]->kind == ZKCTL_ACT_SEND && s->sent[i]->api_key == api_key && s->sent[i]->broker_id == broker)
            return s->sent[i];
    return NULL;
}

TZ const zkctl_action *sim_response(struct sim *s, uint64_t token)
{
    for (size_t i = 0; i < s->n_sent; i++)
        if (s->sent[i]->kind == ZKCTL_ACT_RESPOND && s->sent[i]->token == token)
            return s->sent[i];
    return NULL;
}

/* The partition state for (topic, partition) in a LeaderAndIsr request, or NULL. */
TZ const struct LeaderAndIsrRequest_LeaderAndIsrPartitionState *lair_part(const zkctl_action *a, const char *topic,
                                                                            int partition)
{
    if (!a)
        return NULL;
    const struct LeaderAndIsrRequest *r = a->body;
    for (int32_t i = 0; i < r->TopicStates_n; i++) {
        const struct LeaderAndIsrRequest_LeaderAndIsrTopicState *t = &r->TopicStates[i];
        if ((size_t)t->TopicName.len != strlen(topic) || memcmp(t->TopicName.p, topic, strlen(topic)))
            continue;
        for (int32_t j = 0; j < t->PartitionStates_n; j++)
            if (t->PartitionStates[j].PartitionIndex == partition)
                return &t->PartitionStates[j];
    }
    return NULL;
}

TZ const struct UpdateMetadataRequest_UpdateMetadataPartitionState *um_part(const zkctl_action *a, const char *topic,
                                                                             int partition)
{
    if (!a)
        return NULL;
    const struct UpdateMetadataRequest *r = a->body;
    for (int32_t i = 0; i < r->TopicStates_n; i++) {
        const struct UpdateMetadataRequest_UpdateMetadataTopicState *t = &r->TopicStates[i];
        if ((size_t)t->TopicName.len != strlen(topic) || memcmp(t->TopicName.p, topic, strlen(topic)))
            continue;
        for (int32_t j = 0; j < t->PartitionStates_n; j++)
            if (t->PartitionStates[j].PartitionIndex == partition)
                return &t->PartitionStates[j];
    }
    return NULL;
}

/* The partition's state in the last LeaderAndIsr to broker that carries it, or NULL. */
TZ const struct LeaderAndIsrRequest_LeaderAndIsrPartitionState *sim_lair(struct sim *s, int32_t broker,
                                                                         const char *topic, int partition)
{
    for (size_t i = s->n_sent; i-- > 0;) {
        const zkctl_action *a = s->sent[i];
        if (a->kind == ZKCTL_ACT_SEND && a->api_key == ZKCTL_API_LEADER_AND_ISR && a->broker_id == broker &&
            lair_part(a, topic, partition))
            return lair_part(a, topic, partition);
    }
    return NULL;
}

/* The partition's state in the last UpdateMetadata to broker that carries it, or NULL. */
TZ const struct UpdateMetadataRequest_UpdateMetadataPartitionState *sim_um(struct sim *s, int32_t broker,
                                                                           const char *topic, int partition)
{
    for (size_t i = s->n_sent; i-- > 0;) {
        const zkctl_action *a = s->sent[i];
        if (a->kind == ZKCTL_ACT_SEND && a->api_key == ZKCTL_API_UPDATE_METADATA && a->broker_id == broker &&
            um_part(a, topic, partition))
            return um_part(a, topic, partition);
    }
    return NULL;
}

/* The end of one step of an allocation-failure sweep: true when the Nth allocation was never reached (the
 * sweep is over; it must have covered a real number of allocation points). Frees the sim. */
TZ bool sim_sweep_step_done(struct sim *s, long n)
{
    void *probe = ferry_malloc(1);
    bool reached = probe != NULL;
    ferry_free(probe);
    ferry_alloc_fail_after(-1);
    sim_free(s);
    if (reached) {
        print_message("allocation failure sweep: %ld points\n", n);
        assert_true(n > 100);
    }
    return reached;
}


#endif
