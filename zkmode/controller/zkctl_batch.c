/* zkctl_batch.c: controller-to-broker requests gathered during one event and sent per broker as Kafka's
 * ControllerChannelManager does (one LeaderAndIsr v7, one UpdateMetadata v8, one StopReplica v4 per broker
 * and batch, in that order), built as the generated wire structs in each action's arena. */
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/proto/proto_codec.h"
#include "zkctl_internal.h"

static void tplist_free(struct zc_tplist *l)
{
    ferry_free(l->v);
    ferry_free(l->slots);
    memset(l, 0, sizeof(*l));
}

void zc_batch_free(struct zc_batch *b)
{
    for (size_t i = 0; i < b->n_brq; i++) {
        tplist_free(&b->brq[i].lair);
        tplist_free(&b->brq[i].sr);
    }
    ferry_free(b->brq);
    ferry_free(b->um_brokers);
    tplist_free(&b->um_parts);
    memset(b, 0, sizeof(*b));
}

static struct zc_brq *brq_get(zkctl *c, int32_t broker)
{
    struct zc_batch *b = &c->batch;
    size_t at = 0;
    while (at < b->n_brq && b->brq[at].broker < broker)
        at++;
    if (at < b->n_brq && b->brq[at].broker == broker)
        return &b->brq[at];
    struct zc_brq *arr = ferry_realloc(b->brq, (b->n_brq + 1) * sizeof(*arr));
    if (!arr) {
        zc_set_error(c, FERRY_ENOMEM);
        return NULL;
    }
    b->brq = arr;
    memmove(&arr[at + 1], &arr[at], (b->n_brq - at) * sizeof(*arr));
    memset(&arr[at], 0, sizeof(*arr));
    arr[at].broker = broker;
    b->n_brq++;
    return &arr[at];
}

static size_t hash_slot(uint64_t h, size_t n_slots)
{
    h *= 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 32)) & (n_slots - 1);
}

static size_t ptr_slot(const void *p, size_t n_slots) { return hash_slot((uint64_t)(uintptr_t)p, n_slots); }

static size_t tp_slot(const struct zc_topic *t, size_t part, size_t n_slots)
{
    return hash_slot((uint64_t)(uintptr_t)t ^ ((uint64_t)part << 40) ^ part, n_slots);
}

static void tp_reindex(struct zc_tplist *l)
{
    memset(l->slots, 0, l->n_slots * sizeof(*l->slots));
    for (size_t i = 0; i < l->n; i++) {
        size_t at = tp_slot(l->v[i].t, l->v[i].part, l->n_slots);
        while (l->slots[at])
            at = (at + 1) & (l->n_slots - 1);
        l->slots[at] = i + 1;
    }
}

/* Adds (t, p) to l unless present; returns the entry or NULL. */
static struct zc_tp *tp_add(zkctl *c, struct zc_tplist *l, struct zc_topic *t, struct zc_part *p)
{
    size_t part = (size_t)(p - t->parts), at = 0;
    if (l->n_slots) {
        for (at = tp_slot(t, part, l->n_slots); l->slots[at]; at = (at + 1) & (l->n_slots - 1)) {
            struct zc_tp *e = &l->v[l->slots[at] - 1];
            if (e->t == t && e->part == part)
                return e;
        }
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct zc_tp *v = ferry_realloc(l->v, cap * sizeof(*v));
        if (v)
            l->v = v;
        size_t *slots = v ? ferry_calloc(cap * 2, sizeof(*slots)) : NULL;
        if (!slots) {
            zc_set_error(c, FERRY_ENOMEM);
            return NULL;
        }
        ferry_free(l->slots);
        l->slots = slots;
        l->n_slots = cap * 2;
        l->cap = cap;
        tp_reindex(l);
        for (at = tp_slot(t, part, l->n_slots); l->slots[at];)
            at = (at + 1) & (l->n_slots - 1);
    }
    struct zc_tp *e = &l->v[l->n];
    memset(e, 0, sizeof(*e));
    e->t = t;
    e->part = part;
    l->slots[at] = ++l->n;
    return e;
}

void zc_batch_lair(zkctl *c, int32_t broker, struct zc_topic *t, struct zc_part *p, bool is_new)
{
    struct zc_brq *q = brq_get(c, broker);
    struct zc_tp *e = q ? tp_add(c, &q->lair, t, p) : NULL;
    if (e)
        e->flag |= is_new;
}

void zc_batch_sr(zkctl *c, int32_t broker, struct zc_topic *t, struct zc_part *p, bool del, int32_t epoch)
{
    struct zc_brq *q = brq_get(c, broker);
    struct zc_tp *e = q ? tp_add(c, &q->sr, t, p) : NULL;
    if (e && !e->flag) { /* never overwrite a deletePartition=true */
        e->flag = del;
        e->epoch = epoch;
    }
}

void zc_batch_um_brokers(zkctl *c, int32_t broker)
{
    struct zc_batch *b = &c->batch;
    if (zc_contains(b->um_brokers, b->n_um_brokers, broker))
        return;
    int32_t *arr = ferry_realloc(b->um_brokers, (b->n_um_brokers + 1) * sizeof(int32_t));
    if (!arr) {
        zc_set_error(c, FERRY_ENOMEM);
        return;
    }
    b->um_brokers = arr;
    arr[b->n_um_brokers++] = broker;
}

void zc_batch_um_all_brokers(zkctl *c)
{
    for (size_t i = 0; i < c->n_brokers; i++)
        zc_batch_um_brokers(c, c->brokers[i].id);
}

void zc_batch_um_part(zkctl *c, struct zc_topic *t, struct zc_part *p)
{
    tp_add(c, &c->batch.um_parts, t, p);
}

void zc_batch_partition_change(zkctl *c, struct zc_topic *t, struct zc_part *p, bool is_new,
                               const int32_t *skip, size_t n_skip)
{
    for (size_t k = 0; k < p->n_replicas; k++)
        if (zc_up(c, p->replicas[k]) && !zc_contains(skip, n_skip, p->replicas[k]))
            zc_batch_lair(c, p->replicas[k], t, p, is_new);
    zc_batch_um_part(c, t, p);
    zc_batch_um_all_brokers(c);
}

static void forget(struct zc_tplist *l, const struct zc_topic *t)
{
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].t != t)
            l->v[k++] = l->v[i];
    if (k != l->n) {
        l->n = k;
        tp_reindex(l);
    }
}

void zc_batch_forget_topic(zkctl *c, const struct zc_topic *t)
{
    for (size_t i = 0; i < c->batch.n_brq; i++) {
        forget(&c->batch.brq[i].lair, t);
        forget(&c->batch.brq[i].sr, t);
    }
    forget(&c->batch.um_parts, t);
}

/* ---- building the wire structs ---- */
proto_str zc_astr(struct proto_arena *a, const char *s, int *err)
{
    proto_str r = {NULL, -1};
    if (!s)
        return r;
    size_t n = strlen(s);
    char *p = proto_arena_alloc(a, n + 1);
    if (!p) {
        *err = FERRY_ENOMEM;
        return r;
    }
    memcpy(p, s, n);
    r.p = p;
    r.len = (int32_t)n;
    return r;
}

int32_t *zc_aints(struct proto_arena *a, const int32_t *v, size_t n, int *err)
{
    int32_t *p = proto_arena_alloc(a, (n ? n : 1) * sizeof(int32_t));
    if (!p) {
        *err = FERRY_ENOMEM;
        return NULL;
    }
    if (n)
        memcpy(p, v, n * sizeof(int32_t));
    return p;
}

static zkctl_action *send_action(int32_t broker, int16_t key, int16_t version, const struct proto_message *m,
                                 size_t size)
{
    zkctl_action *a = zc_action_new(ZKCTL_ACT_SEND, key, version, size);
    if (a) {
        a->broker_id = broker;
        proto_struct_init(m->body, a->body);
    }
    return a;
}

/* A list's entries grouped by topic: topics in first-appearance order, entries in list order within one.
 * Group g is order[start[g] .. start[g + 1]) (entry indexes). */
struct tp_groups {
    size_t n;
    size_t *order;
    size_t *start;
};

static void tp_groups_free(struct tp_groups *g)
{
    ferry_free(g->order);
    ferry_free(g->start);
    memset(g, 0, sizeof(*g));
}

/* 0 or FERRY_ENOMEM (g is then empty). */
static int tp_group(const struct zc_tplist *l, struct tp_groups *g)
{
    size_t n_slots = 16;
    while (n_slots < l->n * 2)
        n_slots *= 2;
    memset(g, 0, sizeof(*g));
    const struct zc_topic **keys = ferry_calloc(n_slots, sizeof(*keys));
    size_t *gid_of_slot = ferry_malloc(n_slots * sizeof(size_t));
    size_t *gid = ferry_malloc((l->n + 1) * sizeof(size_t));
    g->order = ferry_malloc((l->n + 1) * sizeof(size_t));
    g->start = ferry_calloc(l->n + 2, sizeof(size_t));
    int rc = keys && gid_of_slot && gid && g->order && g->start ? 0 : FERRY_ENOMEM;
    for (size_t i = 0; rc == 0 && i < l->n; i++) {
        size_t at = ptr_slot(l->v[i].t, n_slots);
        while (keys[at] && keys[at] != l->v[i].t)
            at = (at + 1) & (n_slots - 1);
        if (!keys[at]) {
            keys[at] = l->v[i].t;
            gid_of_slot[at] = g->n++;
        }
        gid[i] = gid_of_slot[at];
        g->start[gid[i] + 1]++;
    }
    if (rc == 0) {
        for (size_t k = 0; k < g->n; k++)
            g->start[k + 1] += g->start[k];
        size_t *fill = gid_of_slot; /* reused: next free position of each group */
        memcpy(fill, g->start, g->n * sizeof(size_t));
        for (size_t i = 0; i < l->n; i++)
            g->order[fill[gid[i]]++] = i;
    } else {
        tp_groups_free(g);
    }
    ferry_free(keys);
    ferry_free(gid_of_slot);
    ferry_free(gid);
    return rc;
}

/* An arena array of count elements (one at least, so that it is never NULL). */
static void *group_array(struct proto_arena *a, size_t count, size_t elem, int32_t *n_out, int *err)
{
    void *arr = proto_arena_alloc(a, (count ? count : 1) * elem);
    if (!arr)
        *err = FERRY_ENOMEM;
    *n_out = (int32_t)count;
    return arr;
}

/* The fields LeaderAndIsr and UpdateMetadata partition states share (same names in both generated structs). */
#define ZC_FILL_PARTITION(ps, p, a, err)                                        \
    do {                                                                        \
        (ps)->TopicName.p = NULL;                                               \
        (ps)->TopicName.len = -1;                                               \
        (ps)->PartitionIndex = (p)->id;                                         \
        (ps)->ControllerEpoch = (p)->ctrl_epoch;                                \
        (ps)->Leader = (p)->st.leader;                                          \
        (ps)->LeaderEpoch = (p)->st.leader_epoch;                               \
        (ps)->Isr = zc_aints((a), (p)->st.isr, (p)->st.n_isr, (err));              \
        (ps)->Isr_n = (int32_t)(p)->st.n_isr;                                   \
        (ps)->Replicas = zc_aints((a), (p)->replicas, (p)->n_replicas, (err));     \
        (ps)->Replicas_n = (int32_t)(p)->n_replicas;                            \
    } while (0)

static zkctl_action *build_lair(zkctl *c, const struct zc_broker *b, const struct zc_brq *q, int *err)
{
    zkctl_action *a = send_action(b->id, ZKCTL_API_LEADER_AND_ISR, ZKCTL_LEADER_AND_ISR_VERSION,
                                  &proto_msg_LeaderAndIsrRequest, sizeof(struct LeaderAndIsrRequest));
    struct tp_groups gr = {0};
    int32_t *leaders = ferry_malloc((q->lair.n + 1) * sizeof(int32_t));
    if (!a || !leaders || tp_group(&q->lair, &gr)) {
        *err = FERRY_ENOMEM;
        goto out;
    }
    struct LeaderAndIsrRequest *r = a->body;
    r->ControllerId = c->cfg.controller_id;
    r->isKRaftController = false;
    r->ControllerEpoch = c->epoch;
    r->BrokerEpoch = b->epoch;
    r->Type = 0;
    r->TopicStates = group_array(&a->arena, gr.n, sizeof(*r->TopicStates), &r->TopicStates_n, err);
    if (!r->TopicStates)
        goto out;
    size_t n_leaders = 0;
    for (size_t k = 0; k < gr.n; k++) {
        const struct zc_topic *t = q->lair.v[gr.order[gr.start[k]]].t;
        struct LeaderAndIsrRequest_LeaderAndIsrTopicState *ts = &r->TopicStates[k];
        ts->TopicName = zc_astr(&a->arena, t->name, err);
        ts->TopicId = t->id;
        ts->PartitionStates = group_array(&a->arena, gr.start[k + 1] - gr.start[k], sizeof(*ts->PartitionStates),
                                          &ts->PartitionStates_n, err);
        if (!ts->PartitionStates)
            goto out;
        for (int32_t j = 0; j < ts->PartitionStates_n; j++) {
            const struct zc_tp *e = &q->lair.v[gr.order[gr.start[k] + (size_t)j]];
            const struct zc_part *p = &t->parts[e->part];
            struct LeaderAndIsrRequest_LeaderAndIsrPartitionState *ps = &ts->PartitionStates[j];
            ZC_FILL_PARTITION(ps, p, &a->arena, err);
            ps->PartitionEpoch = p->zkv;
            if (zc_reassign_lair_lists(p, &a->arena, &ps->AddingReplicas, &ps->AddingReplicas_n,
                                       &ps->RemovingReplicas, &ps->RemovingReplicas_n))
                *err = FERRY_ENOMEM;
            ps->IsNew = e->flag;
            ps->LeaderRecoveryState = p->st.lrs;
            if (p->st.leader >= 0 && !zc_contains(leaders, n_leaders, p->st.leader))
                leaders[n_leaders++] = p->st.leader;
        }
    }
    /* LiveLeaders: the leaders among live brokers, on the inter-broker listener */
    r->LiveLeaders = proto_arena_alloc(&a->arena, (n_leaders ? n_leaders : 1) * sizeof(*r->LiveLeaders));
    if (!r->LiveLeaders) {
        *err = FERRY_ENOMEM;
        goto out;
    }
    r->LiveLeaders_n = 0;
    for (size_t bi = 0; bi < c->n_brokers; bi++) {
        const struct zc_broker *lb = &c->brokers[bi];
        if (!zc_contains(leaders, n_leaders, lb->id))
            continue;
        for (size_t e = 0; e < lb->n_ep; e++) {
            if (strcmp(lb->ep[e].listener, c->ibl) != 0)
                continue;
            struct LeaderAndIsrRequest_LeaderAndIsrLiveLeader *ll = &r->LiveLeaders[r->LiveLeaders_n++];
            ll->BrokerId = lb->id;
            ll->HostName = zc_astr(&a->arena, lb->ep[e].host, err);
            ll->Port = lb->ep[e].port;
            break;
        }
    }
out:
    tp_groups_free(&gr);
    ferry_free(leaders);
    if (*err) {
        zkctl_action_free(a);
        return NULL;
    }
    return a;
}

static zkctl_action *build_um(zkctl *c, const struct zc_broker *b, int *err)
{
    const struct zc_batch *q = &c->batch;
    zkctl_action *a = send_action(b->id, ZKCTL_API_UPDATE_METADATA, ZKCTL_UPDATE_METADATA_VERSION,
                                  &proto_msg_UpdateMetadataRequest, sizeof(struct UpdateMetadataRequest));
    struct tp_groups gr = {0};
    if (!a || tp_group(&q->um_parts, &gr)) {
        *err = FERRY_ENOMEM;
        goto out;
    }
    struct UpdateMetadataRequest *r = a->body;
    r->ControllerId = c->cfg.controller_id;
    r->isKRaftController = false;
    r->Type = 0;
    r->ControllerEpoch = c->epoch;
    r->BrokerEpoch = b->epoch;
    r->TopicStates = group_array(&a->arena, gr.n, sizeof(*r->TopicStates), &r->TopicStates_n, err);
    r->LiveBrokers = proto_arena_alloc(&a->arena, (c->n_brokers ? c->n_brokers : 1) * sizeof(*r->LiveBrokers));
    if (!r->TopicStates || !r->LiveBrokers) {
        *err = FERRY_ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < gr.n; k++) {
        const struct zc_topic *t = q->um_parts.v[gr.order[gr.start[k]]].t;
        struct UpdateMetadataRequest_UpdateMetadataTopicState *ts = &r->TopicStates[k];
        ts->TopicName = zc_astr(&a->arena, t->name, err);
        ts->TopicId = t->id;
        ts->PartitionStates = group_array(&a->arena, gr.start[k + 1] - gr.start[k], sizeof(*ts->PartitionStates),
                                          &ts->PartitionStates_n, err);
        if (!ts->PartitionStates)
            goto out;
        for (int32_t j = 0; j < ts->PartitionStates_n; j++) {
            const struct zc_part *p = &t->parts[q->um_parts.v[gr.order[gr.start[k] + (size_t)j]].part];
            struct UpdateMetadataRequest_UpdateMetadataPartitionState *ps = &ts->PartitionStates[j];
            ZC_FILL_PARTITION(ps, p, &a->arena, err);
            /* a topic being deleted: LeaderAndIsr.duringDelete (leader -2, epochs 0) */
            ps->Leader = t->deleting ? ZC_LEADER_DURING_DELETE : p->st.leader;
            ps->LeaderEpoch = t->deleting ? 0 : p->st.leader_epoch;
            ps->ZkVersion = t->deleting ? 0 : p->zkv;
            ps->OfflineReplicas = proto_arena_alloc(&a->arena, p->n_replicas * sizeof(int32_t));
            if (!ps->OfflineReplicas) {
                *err = FERRY_ENOMEM;
                goto out;
            }
            ps->OfflineReplicas_n = 0;
            for (size_t k2 = 0; k2 < p->n_replicas; k2++)
                if (!zc_replica_live(c, p, p->replicas[k2]))
                    ps->OfflineReplicas[ps->OfflineReplicas_n++] = p->replicas[k2];
        }
    }
    r->LiveBrokers_n = (int32_t)c->n_brokers;
    for (size_t i = 0; i < c->n_brokers; i++) {
        const struct zc_broker *lb = &c->brokers[i];
        struct UpdateMetadataRequest_UpdateMetadataBroker *ub = &r->LiveBrokers[i];
        ub->Id = lb->id;
        ub->V0Host.p = NULL;
        ub->V0Host.len = -1;
        ub->Rack = zc_astr(&a->arena, lb->rack, err);
        ub->Endpoints = proto_arena_alloc(&a->arena, (lb->n_ep ? lb->n_ep : 1) * sizeof(*ub->Endpoints));
        if (!ub->Endpoints) {
            *err = FERRY_ENOMEM;
            goto out;
        }
        ub->Endpoints_n = (int32_t)lb->n_ep;
        for (size_t e = 0; e < lb->n_ep; e++) {
            ub->Endpoints[e].Port = lb->ep[e].port;
            ub->Endpoints[e].Host = zc_astr(&a->arena, lb->ep[e].host, err);
            ub->Endpoints[e].Listener = zc_astr(&a->arena, lb->ep[e].listener, err);
            ub->Endpoints[e].SecurityProtocol = lb->ep[e].sp;
        }
    }
out:
    tp_groups_free(&gr);
    if (*err) {
        zkctl_action_free(a);
        return NULL;
    }
    return a;
}

static zkctl_action *build_sr(zkctl *c, const struct zc_broker *b, const struct zc_brq *q, int *err)
{
    zkctl_action *a = send_action(b->id, ZKCTL_API_STOP_REPLICA, ZKCTL_STOP_REPLICA_VERSION,
                                  &proto_msg_StopReplicaRequest, sizeof(struct StopReplicaRequest));
    struct tp_groups gr = {0};
    if (!a || tp_group(&q->sr, &gr)) {
        *err = FERRY_ENOMEM;
        goto out;
    }
    struct StopReplicaRequest *r = a->body;
    r->ControllerId = c->cfg.controller_id;
    r->isKRaftController = false;
    r->ControllerEpoch = c->epoch;
    r->BrokerEpoch = b->epoch;
    r->TopicStates = group_array(&a->arena, gr.n, sizeof(*r->TopicStates), &r->TopicStates_n, err);
    if (!r->TopicStates)
        goto out;
    for (size_t k = 0; k < gr.n; k++) {
        const struct zc_topic *t = q->sr.v[gr.order[gr.start[k]]].t;
        struct StopReplicaRequest_StopReplicaTopicState *ts = &r->TopicStates[k];
        ts->TopicName = zc_astr(&a->arena, t->name, err);
        ts->PartitionStates = group_array(&a->arena, gr.start[k + 1] - gr.start[k], sizeof(*ts->PartitionStates),
                                          &ts->PartitionStates_n, err);
        if (!ts->PartitionStates)
            goto out;
        for (int32_t j = 0; j < ts->PartitionStates_n; j++) {
            const struct zc_tp *e = &q->sr.v[gr.order[gr.start[k] + (size_t)j]];
            ts->PartitionStates[j].PartitionIndex = t->parts[e->part].id;
            ts->PartitionStates[j].LeaderEpoch = e->epoch;
            ts->PartitionStates[j].DeletePartition = e->flag;
        }
    }
out:
    tp_groups_free(&gr);
    if (*err) {
        zkctl_action_free(a);
        return NULL;
    }
    return a;
}

void zc_batch_flush(zkctl *c)
{
    struct zc_batch *q = &c->batch;
    /* every broker that gets something, ascending */
    for (size_t bi = 0; bi < c->n_brokers; bi++) {
        const struct zc_broker *b = &c->brokers[bi];
        const struct zc_brq *r = NULL;
        for (size_t i = 0; i < q->n_brq; i++)
            if (q->brq[i].broker == b->id)
                r = &q->brq[i];
        int err = 0;
        if (r && r->lair.n) {
            zkctl_action *a = build_lair(c, b, r, &err);
            if (a)
                zc_enqueue(c, a);
        }
        if (!err && zc_contains(q->um_brokers, q->n_um_brokers, b->id)) {
            zkctl_action *a = build_um(c, b, &err);
            if (a)
                zc_enqueue(c, a);
        }
        if (!err && r && r->sr.n) {
            zkctl_action *a = build_sr(c, b, r, &err);
            if (a)
                zc_enqueue(c, a);
        }
        if (err)
            zc_set_error(c, err);
    }
    zc_batch_free(q);
}
