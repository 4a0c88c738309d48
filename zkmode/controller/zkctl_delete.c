/* zkctl_delete.c: topic deletion as Kafka 3.7's TopicDeletionManager: UpdateMetadata with leader -2 to every
 * broker, StopReplica(deletePartition=true, leader epoch -2) to each replica on a live broker, replicas on
 * dead brokers (or that answered with an error) wait until one of the topic's brokers starts again; once
 * every replica answered successfully, the topic's znodes are deleted one by one (children first, each a
 * fenced multi; NONODE counts as done), then /config/topics/<t>, then the /admin/delete_topics marker. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zkctl_internal.h"

void zc_topic_free(struct zc_topic *t)
{
    if (!t)
        return;
    for (size_t j = 0; j < t->n_parts; j++) {
        ferry_free(t->parts[j].replicas);
        ferry_free(t->parts[j].del);
        ferry_free(t->parts[j].offline);
        zc_lisr_free(&t->parts[j].st);
    }
    ferry_free(t->parts);
    ferry_free(t->name);
    ferry_free(t);
}

void zc_topic_remove(zkctl *c, struct zc_topic *t)
{
    zc_batch_forget_topic(c, t);
    for (size_t i = 0; i < c->n_topics; i++) {
        if (c->topics[i] == t) {
            memmove(&c->topics[i], &c->topics[i + 1], (c->n_topics - i - 1) * sizeof(*c->topics));
            c->n_topics--;
            break;
        }
    }
    zc_topic_free(t);
}

int zc_delete_start(zkctl *c, struct zc_topic *t)
{
    for (size_t j = 0; j < t->n_parts; j++) {
        struct zc_part *p = &t->parts[j];
        if (!p->del && !(p->del = ferry_calloc(p->n_replicas, 1)))
            return FERRY_ENOMEM;
    }
    t->deleting = true;
    LOG_INFO(ZC_MOD, "topic %s: deletion started", t->name);
    for (size_t j = 0; j < t->n_parts; j++)
        if (t->parts[j].has_state)
            zc_batch_um_part(c, t, &t->parts[j]);
    zc_batch_um_all_brokers(c);
    return 0;
}

/* The znode deleted at step s (1-based), or false when every step is done. */
static bool step_path(const struct zc_topic *t, size_t s, char *buf, size_t cap)
{
    size_t n = 2 * t->n_parts;
    if (s >= 1 && s <= n) {
        const struct zc_part *p = &t->parts[(s - 1) / 2];
        if ((s - 1) % 2 == 0)
            zc_state_path(buf, cap, t->name, p->id);
        else
            snprintf(buf, cap, "/brokers/topics/%s/partitions/%" PRId32, t->name, p->id);
        return true;
    }
    const char *fmt = s == n + 1 ? "/brokers/topics/%s/partitions"
                      : s == n + 2 ? "/brokers/topics/%s"
                      : s == n + 3 ? "/config/topics/%s"
                      : s == n + 4 ? "/admin/delete_topics/%s"
                                   : NULL;
    if (!fmt)
        return false;
    snprintf(buf, cap, fmt, t->name);
    return true;
}

static void issue_step(zkctl *c, struct zc_topic *t)
{
    char path[400];
    if (!step_path(t, t->del_step, path, sizeof(path))) {
        LOG_INFO(ZC_MOD, "topic %s: deleted", t->name);
        zc_topic_remove(c, t);
        return;
    }
    struct zc_pending *pd = zc_pending_add(c, ZC_P_DELETE, t->name, -1);
    if (!pd)
        return;
    pd->id = zc_zk_op(c, pd, ZKCTL_OP_DELETE, path, NULL, 0, -1);
    if (!pd->id) {
        zc_pending_drop(c, pd);
        return;
    }
    t->del_busy = pd->id;
}

void zc_delete_progress(zkctl *c)
{
    for (size_t i = 0; i < c->n_topics; i++) {
        struct zc_topic *t = c->topics[i];
        if (!t->deleting || t->del_busy || t->del_step)
            continue;
        bool all_done = true;
        for (size_t j = 0; j < t->n_parts; j++) {
            struct zc_part *p = &t->parts[j];
            for (size_t k = 0; k < p->n_replicas; k++) {
                if (p->del[k] == ZC_DEL_PENDING) {
                    if (zc_up(c, p->replicas[k])) {
                        zc_batch_sr(c, p->replicas[k], t, p, true, ZC_EPOCH_DURING_DELETE);
                        p->del[k] = ZC_DEL_STARTED;
                    } else {
                        p->del[k] = ZC_DEL_INELIGIBLE;
                    }
                }
                all_done &= p->del[k] == ZC_DEL_SUCCESS;
            }
        }
        if (all_done) {
            t->del_step = 1;
            issue_step(c, t);
            if (i < c->n_topics && c->topics[i] != t)
                i--; /* removed (no steps): look at the topic that took its place */
        }
    }
}

void zc_delete_result(zkctl *c, struct zc_pending *pd, enum zkctl_zk_rc rc)
{
    uint64_t id = pd->id;
    if (!pd->topic) { /* a marker of an unknown topic, or delete.topic.enable=false */
        if (rc != ZKCTL_ZK_OK && rc != ZKCTL_ZK_NONODE)
            LOG_WARN(ZC_MOD, "deletion marker removal failed (%d)", (int)rc);
        return;
    }
    struct zc_topic *t = zc_topic_find(c, pd->topic);
    if (!t || t->del_busy != id)
        return;
    t->del_busy = 0;
    if (rc == ZKCTL_ZK_OK || rc == ZKCTL_ZK_NONODE) {
        t->del_step++;
    } else if (rc != ZKCTL_ZK_CONNLOSS) {
        char path[400];
        step_path(t, t->del_step, path, sizeof(path));
        LOG_ERROR(ZC_MOD, "topic %s: deleting %s failed (%d): deletion stops here", t->name, path, (int)rc);
        t->del_busy = UINT64_MAX; /* stuck: nothing else is issued for it */
        return;
    }
    issue_step(c, t);
}

void zc_delete_broker_down(zkctl *c, int32_t broker)
{
    for (size_t i = 0; i < c->n_topics; i++) {
        struct zc_topic *t = c->topics[i];
        for (size_t j = 0; t->deleting && j < t->n_parts; j++)
            for (size_t k = 0; k < t->parts[j].n_replicas; k++)
                if (t->parts[j].replicas[k] == broker && t->parts[j].del[k] == ZC_DEL_STARTED)
                    t->parts[j].del[k] = ZC_DEL_INELIGIBLE;
    }
}

void zc_delete_broker_up(zkctl *c, int32_t broker)
{
    for (size_t i = 0; i < c->n_topics; i++) {
        struct zc_topic *t = c->topics[i];
        if (!t->deleting || t->del_step)
            continue;
        bool hosts = false;
        for (size_t j = 0; j < t->n_parts && !hosts; j++)
            hosts = zc_contains(t->parts[j].replicas, t->parts[j].n_replicas, broker);
        if (!hosts)
            continue;
        /* Kafka's resumeDeletionForTopics: ineligible replicas are retried */
        for (size_t j = 0; j < t->n_parts; j++)
            for (size_t k = 0; k < t->parts[j].n_replicas; k++)
                if (t->parts[j].del[k] == ZC_DEL_INELIGIBLE)
                    t->parts[j].del[k] = ZC_DEL_PENDING;
    }
}

int zkctl_stop_replica_response(zkctl *c, int32_t broker_id, const struct StopReplicaResponse *resp)
{
    if (!resp || resp->PartitionErrors_n < 0 || (resp->PartitionErrors_n && !resp->PartitionErrors))
        return FERRY_EINVAL;
    if (!c->active)
        return 0;
    for (size_t i = 0; i < c->n_topics; i++) {
        struct zc_topic *t = c->topics[i];
        if (!t->deleting || t->del_step)
            continue;
        for (size_t j = 0; j < t->n_parts; j++) {
            struct zc_part *p = &t->parts[j];
            for (size_t k = 0; k < p->n_replicas; k++) {
                if (p->replicas[k] != broker_id || p->del[k] != ZC_DEL_STARTED)
                    continue;
                int32_t pe = -1;
                for (int32_t e = 0; e < resp->PartitionErrors_n; e++) {
                    const struct StopReplicaResponse_StopReplicaPartitionError *x = &resp->PartitionErrors[e];
                    if (x->PartitionIndex == p->id && x->TopicName.len == (int32_t)strlen(t->name) &&
                        memcmp(x->TopicName.p, t->name, (size_t)x->TopicName.len) == 0)
                        pe = x->ErrorCode;
                }
                if (resp->ErrorCode) {
                    p->del[k] = ZC_DEL_INELIGIBLE;
                } else if (pe == 0) {
                    p->del[k] = ZC_DEL_SUCCESS;
                } else if (pe > 0) {
                    LOG_WARN(ZC_MOD, "%s-%" PRId32 ": StopReplica on broker %" PRId32 " failed (error %" PRId32
                             "): retried when a broker of the topic starts", t->name, p->id, broker_id, pe);
                    p->del[k] = ZC_DEL_INELIGIBLE;
                }
            }
        }
    }
    return zc_finish(c);
}
