/* zkctl_model.c: the controller's copy of brokers, topics and partitions, and the events that change it
 * (broker registered/bounced/gone, topic created/changed, topic config, deletion marker). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zkctl_internal.h"

/* ---- model building ---- */
void zc_broker_clear(struct zc_broker *b)
{
    for (size_t i = 0; i < b->n_ep; i++) {
        ferry_free(b->ep[i].listener);
        ferry_free(b->ep[i].host);
    }
    ferry_free(b->ep);
    ferry_free(b->rack);
    memset(b, 0, sizeof(*b));
}

int zc_broker_check(const zkctl_broker *in)
{
    if (in->id < 0 || (in->n_endpoints && !in->endpoints))
        return FERRY_EINVAL;
    for (size_t i = 0; i < in->n_endpoints; i++)
        if (!in->endpoints[i].listener || !in->endpoints[i].host)
            return FERRY_EINVAL;
    return 0;
}

/* Copies in into b (b zeroed or cleared). */
int zc_broker_fill(struct zc_broker *b, const zkctl_broker *in)
{
    memset(b, 0, sizeof(*b));
    b->id = in->id;
    b->epoch = in->epoch;
    if (in->rack && !(b->rack = ferry_strdup(in->rack)))
        goto oom;
    if (in->n_endpoints) {
        b->ep = ferry_calloc(in->n_endpoints, sizeof(*b->ep));
        if (!b->ep)
            goto oom;
        b->n_ep = in->n_endpoints;
        for (size_t i = 0; i < in->n_endpoints; i++) {
            b->ep[i].listener = ferry_strdup(in->endpoints[i].listener);
            b->ep[i].host = ferry_strdup(in->endpoints[i].host);
            b->ep[i].port = in->endpoints[i].port;
            b->ep[i].sp = in->endpoints[i].security_protocol;
            if (!b->ep[i].listener || !b->ep[i].host)
                goto oom;
        }
    }
    return 0;
oom:
    zc_broker_clear(b);
    return FERRY_ENOMEM;
}

static bool str_eq_or_null(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

/* b already says what in says: the same endpoints, in the same order, and the same rack. */
static bool broker_same(const struct zc_broker *b, const zkctl_broker *in)
{
    if (b->n_ep != in->n_endpoints || !str_eq_or_null(b->rack, in->rack))
        return false;
    for (size_t i = 0; i < b->n_ep; i++)
        if (strcmp(b->ep[i].listener, in->endpoints[i].listener) != 0 ||
            strcmp(b->ep[i].host, in->endpoints[i].host) != 0 || b->ep[i].port != in->endpoints[i].port ||
            b->ep[i].sp != in->endpoints[i].security_protocol)
            return false;
    return true;
}

int zc_broker_add(zkctl *c, const zkctl_broker *in)
{
    struct zc_broker nb;
    int rc = zc_broker_fill(&nb, in);
    if (rc)
        return rc;
    struct zc_broker *arr = ferry_realloc(c->brokers, (c->n_brokers + 1) * sizeof(*arr));
    if (!arr) {
        zc_broker_clear(&nb);
        return FERRY_ENOMEM;
    }
    c->brokers = arr;
    size_t at = 0; /* keep ascending ids: requests go out in broker order */
    while (at < c->n_brokers && c->brokers[at].id < in->id)
        at++;
    memmove(&c->brokers[at + 1], &c->brokers[at], (c->n_brokers - at) * sizeof(*arr));
    c->brokers[at] = nb;
    c->n_brokers++;
    return 0;
}

int zc_assignment_check(const zk_topic_assignment *a)
{
    if (!a || (a->n_partitions && !a->partitions))
        return FERRY_EINVAL;
    for (size_t i = 0; i < a->n_partitions; i++) {
        const zk_partition_replicas *pr = &a->partitions[i];
        if (pr->partition < 0 || pr->n_replicas == 0 || !pr->replicas)
            return FERRY_EINVAL;
        for (size_t j = 0; j < pr->n_replicas; j++)
            if (pr->replicas[j] < 0 || zc_contains(pr->replicas, j, pr->replicas[j]))
                return FERRY_EINVAL;
        for (size_t k = 0; k < i; k++)
            if (a->partitions[k].partition == pr->partition)
                return FERRY_EINVAL;
    }
    return 0;
}

int zc_part_add(struct zc_topic *t, const zk_partition_replicas *pr)
{
    struct zc_part *arr = ferry_realloc(t->parts, (t->n_parts + 1) * sizeof(*arr));
    if (!arr)
        return FERRY_ENOMEM;
    t->parts = arr;
    struct zc_part *p = &t->parts[t->n_parts];
    memset(p, 0, sizeof(*p));
    p->id = pr->partition;
    p->replicas = ferry_malloc(pr->n_replicas * sizeof(int32_t));
    if (!p->replicas)
        return FERRY_ENOMEM;
    memcpy(p->replicas, pr->replicas, pr->n_replicas * sizeof(int32_t));
    p->n_replicas = pr->n_replicas;
    p->st.leader = ZC_NO_LEADER;
    t->n_parts++;
    return 0;
}

/* zc_topic_znode_write: see zkctl_internal.h; the result is only logged (the ZooKeeper client re-sends after a
 * lost connection). */
void zc_topic_znode_write(zkctl *c, const char *name, const zk_topic_assignment *a)
{
    zk_topic_assignment w = *a;
    w.version = 3;
    char *data = NULL;
    size_t len = 0;
    char path[400];
    int rc = zk_topic_assignment_encode(&w, &data, &len);
    if (rc) {
        zc_set_error(c, rc);
        return;
    }
    snprintf(path, sizeof(path), "/brokers/topics/%s", name);
    struct zc_pending *pd = zc_pending_add(c, ZC_P_PARENT, NULL, -1);
    if (pd) {
        pd->id = zc_zk_op(c, pd, ZKCTL_OP_SET, path, data, len, -1);
        if (!pd->id)
            zc_pending_drop(c, pd);
    }
    ferry_free(data);
}

/* Kafka's setTopicIds: a topic znode without topic_id is rewritten (the same assignment) with id. */
static void topic_id_write(zkctl *c, const char *name, const zk_topic_assignment *a, proto_uuid id)
{
    zk_topic_assignment w = *a;
    w.has_topic_id = true;
    w.topic_id = id;
    zc_topic_znode_write(c, name, &w);
    char b64[PROTO_UUID_B64_LEN + 1];
    proto_uuid_to_base64(id, b64);
    LOG_INFO(ZC_MOD, "topic %s: no topic id in its znode, writing %s", name, b64);
}

/* Kafka's restorePartitionReplicaAssignment: the controller's assignment written back over new partitions
 * added to a topic being deleted. */
static void topic_restore(zkctl *c, const struct zc_topic *t)
{
    zk_partition_replicas *pr = ferry_calloc(t->n_parts ? t->n_parts : 1, sizeof(*pr));
    if (!pr) {
        zc_set_error(c, FERRY_ENOMEM);
        return;
    }
    for (size_t i = 0; i < t->n_parts; i++) {
        pr[i].partition = t->parts[i].id;
        pr[i].n_replicas = t->parts[i].n_replicas;
        pr[i].replicas = t->parts[i].replicas;
    }
    zk_topic_assignment a = {.version = 3, .n_partitions = t->n_parts, .partitions = pr,
                             .has_topic_id = !proto_uuid_is_zero(t->id), .topic_id = t->id};
    zc_topic_znode_write(c, t->name, &a);
    ferry_free(pr);
}

static void topic_id_ensure(zkctl *c, struct zc_topic *t, const zk_topic_assignment *a)
{
    if (a->has_topic_id)
        return;
    if (proto_uuid_is_zero(t->id)) {
        if (!c->cfg.new_topic_id)
            return;
        proto_uuid id;
        int rc = c->cfg.new_topic_id(c->cfg.new_topic_id_arg, &id);
        if (rc || proto_uuid_is_zero(id)) {
            LOG_WARN(ZC_MOD, "topic %s: no topic id and none could be made (%d)", t->name, rc);
            return;
        }
        t->id = id;
    }
    topic_id_write(c, t->name, a, t->id);
}

int zc_topic_add(zkctl *c, const char *name, const zk_topic_assignment *a, struct zc_topic **out)
{
    struct zc_topic *t = ferry_calloc(1, sizeof(*t));
    struct zc_topic **arr = ferry_realloc(c->topics, (c->n_topics + 1) * sizeof(*arr));
    if (arr)
        c->topics = arr;
    if (!t || !arr || !(t->name = ferry_strdup(name))) {
        ferry_free(t);
        return FERRY_ENOMEM;
    }
    if (a->has_topic_id)
        t->id = a->topic_id;
    for (size_t i = 0; i < a->n_partitions; i++) {
        if (zc_part_add(t, &a->partitions[i])) {
            zc_topic_free(t);
            return FERRY_ENOMEM;
        }
    }
    c->topics[c->n_topics++] = t;
    *out = t;
    topic_id_ensure(c, t, a);
    return 0;
}

int zc_state_adopt(zkctl *c, struct zc_part *p, const zk_partition_state *s, int32_t zkv)
{
    struct zc_lisr l = {.leader = s->leader, .leader_epoch = s->leader_epoch, .lrs = s->leader_recovery_state,
                        .n_isr = s->n_isr, .isr = s->isr};
    if (zc_lisr_copy(&p->st, &l))
        return FERRY_ENOMEM;
    p->has_state = true;
    p->bad_state = false;
    p->zkv = zkv;
    p->ctrl_epoch = s->controller_epoch;
    if (s->controller_epoch > c->epoch)
        LOG_WARN(ZC_MOD, "partition %" PRId32 ": state written by controller epoch %" PRId32 " > ours %" PRId32
                 ": left alone", p->id, s->controller_epoch, c->epoch);
    return 0;
}

void zc_model_clear(zkctl *c)
{
    for (size_t i = 0; i < c->n_brokers; i++)
        zc_broker_clear(&c->brokers[i]);
    ferry_free(c->brokers);
    c->brokers = NULL;
    c->n_brokers = 0;
    for (size_t i = 0; i < c->n_topics; i++)
        zc_topic_free(c->topics[i]);
    ferry_free(c->topics);
    c->topics = NULL;
    c->n_topics = 0;
    zc_pending_clear(c);
    zc_batch_free(&c->batch);
}

/* ---- broker changes ---- */
static void broker_down(zkctl *c, int32_t id)
{
    struct zc_broker *b = zc_broker_find(c, id);
    zc_broker_clear(b);
    size_t i = (size_t)(b - c->brokers);
    memmove(&c->brokers[i], &c->brokers[i + 1], (c->n_brokers - i - 1) * sizeof(*b));
    c->n_brokers--;
    LOG_INFO(ZC_MOD, "broker %" PRId32 " gone", id);
    for (size_t k = 0; k < c->n_topics; k++) {
        struct zc_topic *t = c->topics[k];
        for (size_t j = 0; j < t->n_parts; j++) {
            struct zc_part *p = &t->parts[j];
            if (p->has_state && (zc_contains(p->st.isr, p->st.n_isr, id) || p->st.leader == id))
                p->flags |= ZC_F_SHRINK_DEAD;
        }
    }
    zc_delete_broker_down(c, id);
    zc_offline_clear(c, id);
    zc_batch_um_all_brokers(c);
}

static void broker_up(zkctl *c, const zkctl_broker *in)
{
    int rc = zc_broker_add(c, in);
    if (rc) {
        zc_set_error(c, rc);
        return;
    }
    LOG_INFO(ZC_MOD, "broker %" PRId32 " up, epoch %" PRId64, in->id, in->epoch);
    zc_offline_clear(c, in->id);
    /* UpdateMetadata (brokers only) to the others, a full one to the new broker, LeaderAndIsr for its
     * replicas (Kafka's onBrokerStartup) */
    for (size_t i = 0; i < c->n_brokers; i++)
        if (c->brokers[i].id != in->id)
            zc_batch_um_brokers(c, c->brokers[i].id);
    zc_batch_flush(c);
    for (size_t k = 0; k < c->n_topics; k++)
        for (size_t j = 0; j < c->topics[k]->n_parts; j++)
            if (c->topics[k]->parts[j].has_state)
                zc_batch_um_part(c, c->topics[k], &c->topics[k]->parts[j]);
    zc_batch_um_brokers(c, in->id);
    zc_batch_flush(c);
    /* OnlineReplica: LeaderAndIsr for its replicas, with UpdateMetadata for those partitions to all */
    for (size_t k = 0; k < c->n_topics; k++) {
        struct zc_topic *t = c->topics[k];
        for (size_t j = 0; j < t->n_parts; j++) {
            struct zc_part *p = &t->parts[j];
            if (p->has_state && zc_contains(p->replicas, p->n_replicas, in->id)) {
                zc_batch_lair(c, in->id, t, p, false);
                zc_batch_um_part(c, t, p);
                zc_batch_um_all_brokers(c);
            }
        }
    }
    zc_batch_flush(c);
    zc_delete_broker_up(c, in->id);
}

int zkctl_broker_registered(zkctl *c, const zkctl_broker *in)
{
    if (!in || zc_broker_check(in))
        return FERRY_EINVAL;
    if (!c->active)
        return 0;
    struct zc_broker *b = zc_broker_find(c, in->id);
    if (b && in->epoch < b->epoch) {
        LOG_WARN(ZC_MOD, "broker %" PRId32 ": registration with epoch %" PRId64 " older than %" PRId64 " ignored",
                 in->id, in->epoch, b->epoch);
        return FERRY_EINVAL;
    }
    if (b && in->epoch == b->epoch) {
        /* Kafka's BrokerModification: endpoints or rack changed within the registration, UpdateMetadata to
         * every broker; nothing when they did not (a re-read of an unchanged znode) */
        if (broker_same(b, in))
            return 0;
        LOG_INFO(ZC_MOD, "broker %" PRId32 ": endpoints or rack changed (epoch %" PRId64 ")", in->id, in->epoch);
        struct zc_broker nb;
        int rc = zc_broker_fill(&nb, in);
        if (rc)
            return rc;
        nb.shutting_down = b->shutting_down;
        zc_broker_clear(b);
        *b = nb;
        zc_batch_um_all_brokers(c);
        return zc_finish(c);
    }
    if (b) {
        LOG_INFO(ZC_MOD, "broker %" PRId32 " bounced: epoch %" PRId64 " -> %" PRId64, in->id, b->epoch, in->epoch);
        broker_down(c, in->id);
        zc_reconcile(c);
        zc_batch_flush(c);
    }
    broker_up(c, in);
    return zc_finish(c);
}

int zkctl_broker_gone(zkctl *c, int32_t broker_id)
{
    if (!c->active)
        return 0;
    if (!zc_broker_find(c, broker_id))
        return FERRY_ENOTFOUND;
    broker_down(c, broker_id);
    return zc_finish(c);
}

/* ---- topics ---- */
int zkctl_topic_changed(zkctl *c, const char *name, const zk_topic_assignment *a)
{
    if (!name || !zk_topic_name_valid(name) || zc_assignment_check(a))
        return FERRY_EINVAL;
    if (!c->active)
        return 0;
    struct zc_topic *t = zc_topic_find(c, name);
    if (!t) {
        int rc = zc_topic_add(c, name, a, &t);
        if (rc)
            return rc;
        LOG_INFO(ZC_MOD, "topic %s: new, %zu partitions", name, a->n_partitions);
        return zc_finish(c);
    }
    if (t->deleting) {
        bool added = false;
        for (size_t i = 0; i < a->n_partitions; i++)
            added |= zc_part_find(t, a->partitions[i].partition) == NULL;
        LOG_WARN(ZC_MOD, "topic %s: assignment changed while being deleted: %s", name,
                 added ? "new partitions skipped, assignment restored" : "ignored");
        if (added)
            topic_restore(c, t);
        return zc_finish(c);
    }
    if (proto_uuid_is_zero(t->id) && a->has_topic_id)
        t->id = a->topic_id;
    topic_id_ensure(c, t, a); /* rewritten without its id: written back */
    for (size_t i = 0; i < a->n_partitions; i++) {
        const zk_partition_replicas *pr = &a->partitions[i];
        struct zc_part *p = zc_part_find(t, pr->partition);
        if (!p) {
            int rc = zc_part_add(t, pr);
            if (rc) {
                zc_set_error(c, rc);
                break;
            }
            LOG_INFO(ZC_MOD, "topic %s: new partition %" PRId32, name, pr->partition);
        } else if (p->n_replicas != pr->n_replicas ||
                   memcmp(p->replicas, pr->replicas, pr->n_replicas * sizeof(int32_t)) != 0) {
            /* as Kafka: only the controller changes an existing partition's replicas (a reassignment); our
             * own earlier write of the znode also comes back here */
            LOG_DEBUG(ZC_MOD, "%s-%" PRId32 ": replica assignment in the znode differs from the controller's: kept",
                      name, pr->partition);
        }
    }
    return zc_finish(c);
}

int zkctl_topic_config(zkctl *c, const char *name, bool has_unclean, bool unclean)
{
    if (!name)
        return FERRY_EINVAL;
    if (!c->active)
        return 0;
    struct zc_topic *t = zc_topic_find(c, name);
    if (!t)
        return FERRY_ENOTFOUND;
    t->has_unclean = has_unclean;
    t->unclean = unclean;
    return zc_finish(c);
}

void zc_delete_requested(zkctl *c, const char *name)
{
    struct zc_topic *t = zc_topic_find(c, name);
    if (t && t->deleting)
        return;
    if (!t || !c->cfg.delete_topic_enable) {
        /* Kafka removes the marker of an unknown topic, or every marker when delete.topic.enable=false */
        char path[400];
        snprintf(path, sizeof(path), "/admin/delete_topics/%s", name);
        LOG_INFO(ZC_MOD, "topic %s: deletion marker removed (%s)", name,
                 t ? "delete.topic.enable=false" : "no such topic");
        struct zc_pending *pd = zc_pending_add(c, ZC_P_DELETE, NULL, -1);
        if (!pd)
            return;
        pd->id = zc_zk_op(c, pd, ZKCTL_OP_DELETE, path, NULL, 0, -1);
        if (!pd->id)
            zc_pending_drop(c, pd);
        return;
    }
    zc_set_error(c, zc_delete_start(c, t));
}

int zkctl_delete_requested(zkctl *c, const char *name)
{
    if (!name || !zk_topic_name_valid(name))
        return FERRY_EINVAL;
    if (!c->active)
        return 0;
    zc_delete_requested(c, name);
    return zc_finish(c);
}


/* ---- LeaderAndIsr responses: replicas on offline log dirs ---- */

/* Per-partition errors of one response other than KAFKA_STORAGE_ERROR: logged once per response (a failover
 * sends every partition, and a broker answers STALE_CONTROLLER_EPOCH for each whose leader epoch did not
 * change, as Kafka's does; Kafka's controller ignores them too). */
struct lai_errors {
    size_t stale, other, offline; /* offline: replicas newly marked offline (their partitions decide again) */
    int16_t first;
    char first_at[300];
};

static void partition_error(zkctl *c, int32_t broker, struct zc_topic *t, int32_t partition, int16_t err,
                            struct lai_errors *errs)
{
    struct zc_part *p = t ? zc_part_find(t, partition) : NULL;
    if (!p || err == 0)
        return;
    if (err == KERR_STALE_CONTROLLER_EPOCH) {
        errs->stale++;
        return;
    }
    if (err != KERR_KAFKA_STORAGE_ERROR) {
        if (errs->other++ == 0) {
            errs->first = err;
            snprintf(errs->first_at, sizeof errs->first_at, "%s-%" PRId32, t->name, partition);
        }
        return;
    }
    if (!zc_contains(p->replicas, p->n_replicas, broker) || zc_contains(p->offline, p->n_offline, broker))
        return;
    int32_t *arr = ferry_realloc(p->offline, (p->n_offline + 1) * sizeof(int32_t));
    if (!arr) {
        zc_set_error(c, FERRY_ENOMEM);
        return;
    }
    p->offline = arr;
    p->offline[p->n_offline++] = broker;
    p->flags |= ZC_F_SHRINK_DEAD;
    errs->offline++;
    LOG_WARN(ZC_MOD, "%s-%" PRId32 ": replica on broker %" PRId32 " is on an offline log dir", t->name, partition,
             broker);
}

int zkctl_leader_and_isr_response(zkctl *c, int32_t broker_id, const struct LeaderAndIsrResponse *resp)
{
    if (!resp || resp->PartitionErrors_n < 0 || resp->Topics_n < 0 ||
        (resp->PartitionErrors_n && !resp->PartitionErrors) || (resp->Topics_n && !resp->Topics))
        return FERRY_EINVAL;
    for (int32_t i = 0; i < resp->Topics_n; i++)
        if (resp->Topics[i].PartitionErrors_n < 0 ||
            (resp->Topics[i].PartitionErrors_n && !resp->Topics[i].PartitionErrors))
            return FERRY_EINVAL;
    if (!c->active || !zc_broker_find(c, broker_id))
        return 0;
    if (resp->ErrorCode) {
        LOG_WARN(ZC_MOD, "LeaderAndIsr on broker %" PRId32 " failed with error %d", broker_id, (int)resp->ErrorCode);
        return 0;
    }
    struct lai_errors errs = {0};
    for (int32_t i = 0; i < resp->PartitionErrors_n; i++) {
        const struct LeaderAndIsrResponse_LeaderAndIsrPartitionError *e = &resp->PartitionErrors[i];
        char name[256];
        if (e->TopicName.len <= 0 || (size_t)e->TopicName.len >= sizeof(name))
            continue;
        memcpy(name, e->TopicName.p, (size_t)e->TopicName.len);
        name[e->TopicName.len] = 0;
        partition_error(c, broker_id, zc_topic_find(c, name), e->PartitionIndex, e->ErrorCode, &errs);
    }
    for (int32_t i = 0; i < resp->Topics_n; i++) {
        struct zc_topic *t = zc_topic_find_id(c, resp->Topics[i].TopicId);
        for (int32_t j = 0; j < resp->Topics[i].PartitionErrors_n; j++)
            partition_error(c, broker_id, t, resp->Topics[i].PartitionErrors[j].PartitionIndex,
                            resp->Topics[i].PartitionErrors[j].ErrorCode, &errs);
    }
    if (errs.other)
        LOG_WARN(ZC_MOD, "LeaderAndIsr on broker %" PRId32 " failed for %zu partition(s), %s first with error %d",
                 broker_id, errs.other, errs.first_at, (int)errs.first);
    if (errs.stale)
        LOG_DEBUG(ZC_MOD, "LeaderAndIsr on broker %" PRId32 ": %zu partition(s) already at their leader epoch",
                  broker_id, errs.stale);
    return errs.offline ? zc_finish(c) : zc_finish_parts(c, NULL, NULL, 0);
}
