/* zkctl_requests.c: AlterPartition (KafkaController.tryProcessAlterPartition, ZooKeeper controller checks)
 * and ControlledShutdown (doControlledShutdown). A request whose partitions have a znode write in flight
 * waits until they settle; the answer comes as a RESPOND action once its own writes are done. */
#include <inttypes.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zkctl_internal.h"

/* ---- AlterPartition ---- */
static void alter_free(struct zc_alter *al)
{
    for (size_t i = 0; i < al->n_topics; i++) {
        for (size_t j = 0; j < al->topics[i].n; j++) {
            ferry_free(al->topics[i].parts[j].isr);
            zc_lisr_free(&al->topics[i].parts[j].res);
        }
        ferry_free(al->topics[i].parts);
        ferry_free(al->topics[i].name);
    }
    ferry_free(al->topics);
    ferry_free(al);
}

static void alter_respond(zkctl *c, const struct zc_alter *al, int16_t top_err)
{
    zkctl_action *a = zc_respond_action(al->token, ZKCTL_API_ALTER_PARTITION, al->version,
                                     sizeof(struct AlterPartitionResponse));
    if (!a)
        goto oom;
    struct AlterPartitionResponse *r = a->body;
    r->ErrorCode = top_err;
    size_t nt = top_err ? 0 : al->n_topics;
    r->Topics = proto_arena_alloc(&a->arena, (nt ? nt : 1) * sizeof(*r->Topics));
    if (!r->Topics)
        goto oom;
    r->Topics_n = (int32_t)nt;
    for (size_t i = 0; i < nt; i++) {
        const struct zc_alter_topic *at = &al->topics[i];
        struct AlterPartitionResponse_TopicData *td = &r->Topics[i];
        td->TopicName.p = NULL;
        td->TopicName.len = -1;
        if (al->version <= 1 && at->name) {
            size_t n = strlen(at->name);
            char *s = proto_arena_alloc(&a->arena, n + 1);
            if (!s)
                goto oom;
            memcpy(s, at->name, n);
            td->TopicName.p = s;
            td->TopicName.len = (int32_t)n;
        }
        td->TopicId = at->id;
        td->Partitions = proto_arena_alloc(&a->arena, (at->n ? at->n : 1) * sizeof(*td->Partitions));
        if (!td->Partitions)
            goto oom;
        td->Partitions_n = (int32_t)at->n;
        for (size_t j = 0; j < at->n; j++) {
            const struct zc_alter_part *ap = &at->parts[j];
            struct AlterPartitionResponse_PartitionData *pd = &td->Partitions[j];
            pd->PartitionIndex = ap->partition;
            pd->ErrorCode = ap->ok ? 0 : ap->err;
            if (!ap->ok)
                continue;
            pd->LeaderId = ap->res.leader;
            pd->LeaderEpoch = ap->res.leader_epoch;
            pd->Isr = proto_arena_alloc(&a->arena, (ap->res.n_isr ? ap->res.n_isr : 1) * sizeof(int32_t));
            if (!pd->Isr)
                goto oom;
            if (ap->res.n_isr)
                memcpy(pd->Isr, ap->res.isr, ap->res.n_isr * sizeof(int32_t));
            pd->Isr_n = (int32_t)ap->res.n_isr;
            pd->LeaderRecoveryState = ap->res.lrs;
            pd->PartitionEpoch = ap->res_pepoch;
        }
    }
    zc_enqueue(c, a);
    return;
oom:
    zkctl_action_free(a);
    zc_set_error(c, FERRY_ENOMEM);
}

static void cs_respond(zkctl *c, const struct zc_cs *cs, int16_t err)
{
    zkctl_action *a = zc_respond_action(cs->token, ZKCTL_API_CONTROLLED_SHUTDOWN, cs->version,
                                     sizeof(struct ControlledShutdownResponse));
    if (!a)
        goto oom;
    struct ControlledShutdownResponse *r = a->body;
    r->ErrorCode = err;
    size_t n = 0;
    for (size_t i = 0; i < c->n_topics && !err; i++)
        for (size_t j = 0; j < c->topics[i]->n_parts; j++)
            n += c->topics[i]->parts[j].has_state && c->topics[i]->parts[j].st.leader == cs->broker;
    r->RemainingPartitions = proto_arena_alloc(&a->arena, (n ? n : 1) * sizeof(*r->RemainingPartitions));
    if (!r->RemainingPartitions)
        goto oom;
    r->RemainingPartitions_n = 0;
    for (size_t i = 0; i < c->n_topics && n; i++) {
        const struct zc_topic *t = c->topics[i];
        for (size_t j = 0; j < t->n_parts; j++) {
            if (!t->parts[j].has_state || t->parts[j].st.leader != cs->broker)
                continue;
            struct ControlledShutdownResponse_RemainingPartition *rp =
                &r->RemainingPartitions[r->RemainingPartitions_n++];
            size_t len = strlen(t->name);
            char *s = proto_arena_alloc(&a->arena, len + 1);
            if (!s)
                goto oom;
            memcpy(s, t->name, len);
            rp->TopicName.p = s;
            rp->TopicName.len = (int32_t)len;
            rp->PartitionIndex = t->parts[j].id;
        }
    }
    LOG_INFO(ZC_MOD, "controlled shutdown of broker %" PRId32 ": error %d, %" PRId32 " partitions still led",
             cs->broker, (int)err, r->RemainingPartitions_n);
    zc_enqueue(c, a);
    return;
oom:
    zkctl_action_free(a);
    zc_set_error(c, FERRY_ENOMEM);
}

static int alter_copy(const struct AlterPartitionRequest *req, int16_t version, uint64_t token, struct zc_alter **out)
{
    struct zc_alter *al = ferry_calloc(1, sizeof(*al));
    if (!al)
        return FERRY_ENOMEM;
    al->token = token;
    al->version = version;
    al->broker = req->BrokerId;
    al->broker_epoch = req->BrokerEpoch;
    if (req->Topics_n > 0 && !(al->topics = ferry_calloc((size_t)req->Topics_n, sizeof(*al->topics))))
        goto oom;
    for (int32_t i = 0; i < req->Topics_n; i++) {
        const struct AlterPartitionRequest_TopicData *td = &req->Topics[i];
        struct zc_alter_topic *at = &al->topics[al->n_topics++];
        at->id = td->TopicId;
        if (version <= 1 && td->TopicName.len > 0 && !(at->name = ferry_strndup(td->TopicName.p, (size_t)td->TopicName.len)))
            goto oom;
        if (td->Partitions_n > 0 && !(at->parts = ferry_calloc((size_t)td->Partitions_n, sizeof(*at->parts))))
            goto oom;
        for (int32_t j = 0; j < td->Partitions_n; j++) {
            const struct AlterPartitionRequest_PartitionData *pd = &td->Partitions[j];
            struct zc_alter_part *ap = &at->parts[at->n++];
            ap->partition = pd->PartitionIndex;
            ap->leader_epoch = pd->LeaderEpoch;
            ap->pepoch = pd->PartitionEpoch;
            ap->lrs = pd->LeaderRecoveryState;
            int32_t n = version >= 3 ? pd->NewIsrWithEpochs_n : pd->NewIsr_n;
            if (n < 0)
                n = 0;
            ap->isr = ferry_malloc(((size_t)n + 1) * sizeof(int32_t));
            if (!ap->isr)
                goto oom;
            for (int32_t k = 0; k < n; k++)
                ap->isr[k] = version >= 3 ? pd->NewIsrWithEpochs[k].BrokerId : pd->NewIsr[k];
            ap->n_isr = (size_t)n;
        }
    }
    *out = al;
    return 0;
oom:
    alter_free(al);
    return FERRY_ENOMEM;
}

static int alter_check(const struct AlterPartitionRequest *req)
{
    if (!req || req->Topics_n < 0 || (req->Topics_n && !req->Topics))
        return FERRY_EINVAL;
    for (int32_t i = 0; i < req->Topics_n; i++) {
        const struct AlterPartitionRequest_TopicData *td = &req->Topics[i];
        if (td->Partitions_n < 0 || (td->Partitions_n && !td->Partitions))
            return FERRY_EINVAL;
        for (int32_t j = 0; j < td->Partitions_n; j++) {
            const struct AlterPartitionRequest_PartitionData *pd = &td->Partitions[j];
            if ((pd->NewIsr_n > 0 && !pd->NewIsr) || (pd->NewIsrWithEpochs_n > 0 && !pd->NewIsrWithEpochs))
                return FERRY_EINVAL;
        }
    }
    return 0;
}

int zkctl_alter_partition(zkctl *c, uint64_t token, int16_t version, const struct AlterPartitionRequest *req)
{
    if (version < 0 || version > 3 || alter_check(req))
        return FERRY_EINVAL;
    struct zc_alter *al = NULL;
    int rc = alter_copy(req, version, token, &al);
    if (rc)
        return rc;
    if (!c->active) {
        alter_respond(c, al, KERR_NOT_CONTROLLER);
        alter_free(al);
        return zc_finish(c);
    }
    struct zc_alter **tail = &c->alters;
    while (*tail)
        tail = &(*tail)->next;
    *tail = al;
    /* no partition is decided again here (the writes' results decide theirs): a failover of 100,000
     * partitions brings tens of thousands of AlterPartitions, each of which used to decide every partition */
    return zc_finish_parts(c, NULL, NULL, 0);
}

static struct zc_topic *alter_topic(const zkctl *c, const struct zc_alter *al, const struct zc_alter_topic *at)
{
    if (al->version > 1)
        return zc_topic_find_id(c, at->id);
    return at->name ? zc_topic_find(c, at->name) : NULL;
}

static bool alter_ready(const zkctl *c, const struct zc_alter *al)
{
    for (size_t i = 0; i < al->n_topics; i++) {
        const struct zc_topic *t = alter_topic(c, al, &al->topics[i]);
        for (size_t j = 0; t && j < al->topics[i].n; j++) {
            const struct zc_part *p = zc_part_find(t, al->topics[i].parts[j].partition);
            if (p && p->busy)
                return false;
        }
    }
    return true;
}

static bool isr_eq(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof(int32_t)) == 0);
}

/* Kafka's per-partition checks; returns true when a write is needed. */
static bool alter_partition_check(zkctl *c, const struct zc_alter *al, struct zc_alter_part *ap,
                                  const struct zc_part *p)
{
    if (!p || !p->has_state) {
        ap->err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return false;
    }
    const struct zc_lisr *cur = &p->st;
    if (ap->pepoch > p->zkv || ap->leader_epoch > cur->leader_epoch) {
        ap->err = KERR_NOT_CONTROLLER; /* the leader knows newer epochs than we do */
        return false;
    }
    if (ap->leader_epoch < cur->leader_epoch) {
        ap->err = KERR_FENCED_LEADER_EPOCH;
        return false;
    }
    if (al->broker == cur->leader && ap->lrs == cur->lrs && isr_eq(ap->isr, ap->n_isr, cur->isr, cur->n_isr)) {
        /* already in the desired state (checked before the partition epoch, for idempotency) */
        ap->ok = true;
        ap->res_pepoch = p->zkv;
        if (zc_lisr_copy(&ap->res, cur))
            zc_set_error(c, FERRY_ENOMEM);
        return false;
    }
    if (ap->pepoch < p->zkv) {
        ap->err = KERR_INVALID_UPDATE_VERSION;
        return false;
    }
    if ((ap->lrs == 1 && ap->n_isr > 1) || (cur->lrs == 0 && ap->lrs == 1)) {
        ap->err = KERR_INVALID_REQUEST;
        return false;
    }
    for (size_t k = 0; k < ap->n_isr; k++) {
        if (!zc_live(c, ap->isr[k])) {
            ap->err = al->version > 1 ? KERR_INELIGIBLE_REPLICA : KERR_OPERATION_NOT_ATTEMPTED;
            return false;
        }
    }
    return true;
}

static void alter_start(zkctl *c, struct zc_alter *al)
{
    al->started = true;
    const struct zc_broker *b = zc_broker_find(c, al->broker);
    if (!b || b->epoch != al->broker_epoch) {
        LOG_INFO(ZC_MOD, "AlterPartition from broker %" PRId32 " with epoch %" PRId64 ": stale", al->broker,
                 al->broker_epoch);
        return;
    }
    for (size_t i = 0; i < al->n_topics; i++) {
        struct zc_alter_topic *at = &al->topics[i];
        struct zc_topic *t = alter_topic(c, al, at);
        for (size_t j = 0; j < at->n; j++) {
            struct zc_alter_part *ap = &at->parts[j];
            if (!t) {
                ap->err = al->version > 1 ? KERR_UNKNOWN_TOPIC_ID : KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            struct zc_part *p = zc_part_find(t, ap->partition);
            if (!alter_partition_check(c, al, ap, p))
                continue;
            struct zc_lisr prop = {.leader = al->broker, .leader_epoch = ap->leader_epoch, .lrs = ap->lrs,
                                   .n_isr = ap->n_isr, .isr = ap->isr};
            struct zc_pending *pd = NULL;
            if (zc_write_state(c, t, p, &prop, ZC_P_ALTER, &pd)) {
                ap->err = KERR_UNKNOWN_SERVER_ERROR;
                continue;
            }
            pd->alter = al;
            pd->alter_t = i;
            pd->alter_p = j;
            al->outstanding++;
        }
    }
}

void zc_alter_result(zkctl *c, struct zc_pending *pd, enum zkctl_zk_rc rc, int32_t version)
{
    struct zc_alter *al = pd->alter;
    struct zc_alter_part *ap = &al->topics[pd->alter_t].parts[pd->alter_p];
    struct zc_topic *t = zc_topic_find(c, pd->topic);
    struct zc_part *p = t ? zc_part_find(t, pd->partition) : NULL;
    al->outstanding--;
    if (rc == ZKCTL_ZK_OK) {
        ap->ok = true;
        ap->res_pepoch = version;
        if (zc_lisr_copy(&ap->res, &pd->prop) || (p && zc_lisr_copy(&p->st, &pd->prop))) {
            zc_set_error(c, FERRY_ENOMEM);
            return;
        }
        if (p) {
            p->zkv = version;
            p->ctrl_epoch = c->epoch;
        }
        LOG_DEBUG(ZC_MOD, "%s-%" PRId32 ": ISR altered by leader %" PRId32 " to %zu members, partition epoch %" PRId32,
                 pd->topic, pd->partition, al->broker, pd->prop.n_isr, version);
    } else if (rc == ZKCTL_ZK_BADVERSION) {
        ap->err = KERR_INVALID_UPDATE_VERSION;
    } else if (rc == ZKCTL_ZK_CONNLOSS) {
        ap->err = KERR_OPERATION_NOT_ATTEMPTED;
    } else {
        ap->err = KERR_UNKNOWN_SERVER_ERROR;
    }
}

/* ---- ControlledShutdown ---- */
int zkctl_controlled_shutdown(zkctl *c, uint64_t token, int16_t version, const struct ControlledShutdownRequest *req)
{
    if (!req || version < 0 || version > 3)
        return FERRY_EINVAL;
    struct zc_cs *cs = ferry_calloc(1, sizeof(*cs));
    if (!cs)
        return FERRY_ENOMEM;
    cs->token = token;
    cs->version = version;
    cs->broker = req->BrokerId;
    int16_t err = 0;
    struct zc_broker *b = c->active ? zc_broker_find(c, req->BrokerId) : NULL;
    if (!c->active)
        err = KERR_NOT_CONTROLLER;
    else if (!b)
        err = KERR_BROKER_NOT_AVAILABLE;
    else if (version >= 2 && req->BrokerEpoch != -1 && req->BrokerEpoch < b->epoch)
        err = KERR_STALE_BROKER_EPOCH;
    if (err) {
        cs_respond(c, cs, err);
        ferry_free(cs);
        return zc_finish(c);
    }
    LOG_INFO(ZC_MOD, "controlled shutdown of broker %" PRId32, cs->broker);
    b->shutting_down = true;
    for (size_t i = 0; i < c->n_topics; i++) {
        struct zc_topic *t = c->topics[i];
        if (t->deleting)
            continue;
        for (size_t j = 0; j < t->n_parts; j++) {
            struct zc_part *p = &t->parts[j];
            if (!p->has_state || p->n_replicas < 2 || !zc_contains(p->replicas, p->n_replicas, cs->broker))
                continue;
            p->flags |= ZC_F_CS;
            if (p->st.leader != cs->broker)
                zc_batch_sr(c, cs->broker, t, p, false, p->st.leader_epoch);
        }
    }
    struct zc_cs **tail = &c->css;
    while (*tail)
        tail = &(*tail)->next;
    *tail = cs;
    return zc_finish(c);
}

static bool cs_settled(const zkctl *c, int32_t broker)
{
    for (size_t i = 0; i < c->n_topics; i++) {
        const struct zc_topic *t = c->topics[i];
        for (size_t j = 0; j < t->n_parts; j++) {
            const struct zc_part *p = &t->parts[j];
            if (!zc_contains(p->replicas, p->n_replicas, broker) || p->bad_state || p->ctrl_epoch > c->epoch)
                continue;
            if (p->busy || (p->flags & ZC_F_CS))
                return false;
        }
    }
    return true;
}

void zc_requests_progress(zkctl *c)
{
    zc_admin_progress(c); /* reassignments, ElectLeaders (zkctl_admin.c) */
    for (struct zc_alter **pp = &c->alters; *pp;) {
        struct zc_alter *al = *pp;
        if (!al->started) {
            if (!alter_ready(c, al)) {
                pp = &al->next;
                continue;
            }
            alter_start(c, al);
            const struct zc_broker *b = zc_broker_find(c, al->broker);
            if (!b || b->epoch != al->broker_epoch) {
                alter_respond(c, al, KERR_STALE_BROKER_EPOCH);
                *pp = al->next;
                alter_free(al);
                continue;
            }
        }
        if (al->outstanding) {
            pp = &al->next;
            continue;
        }
        /* UpdateMetadata for the requested partitions to every broker, then the answer */
        for (size_t i = 0; i < al->n_topics; i++) {
            struct zc_topic *t = alter_topic(c, al, &al->topics[i]);
            for (size_t j = 0; t && j < al->topics[i].n; j++) {
                struct zc_part *p = zc_part_find(t, al->topics[i].parts[j].partition);
                if (p && p->has_state)
                    zc_batch_um_part(c, t, p);
            }
        }
        zc_batch_um_all_brokers(c);
        alter_respond(c, al, 0);
        *pp = al->next;
        alter_free(al);
    }
    for (struct zc_cs **pp = &c->css; *pp;) {
        struct zc_cs *cs = *pp;
        if (!cs_settled(c, cs->broker)) {
            pp = &cs->next;
            continue;
        }
        cs_respond(c, cs, 0);
        *pp = cs->next;
        ferry_free(cs);
    }
}

void zc_requests_fail_all(zkctl *c, int16_t err)
{
    while (c->alters) {
        struct zc_alter *al = c->alters;
        c->alters = al->next;
        alter_respond(c, al, err);
        alter_free(al);
    }
    while (c->css) {
        struct zc_cs *cs = c->css;
        c->css = cs->next;
        cs_respond(c, cs, err);
        ferry_free(cs);
    }
    zc_admin_end(c, true);
}

void zc_requests_free(zkctl *c)
{
    while (c->alters) {
        struct zc_alter *al = c->alters;
        c->alters = al->next;
        alter_free(al);
    }
    while (c->css) {
        struct zc_cs *cs = c->css;
        c->css = cs->next;
        ferry_free(cs);
    }
    zc_admin_end(c, false);
}
